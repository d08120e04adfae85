"""A small workspace whose messages share no words with the questions that should find them ("is prod on
fire?" for "checkout 5xx"), plus a private channel: shared by the tests of hybrid search over a server's
model and over the built-in vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.backends.retrieval.hybrid import HybridRetriever
from bot.models import Platform, Reader
from bot.services import Services
from bot.visibility import Visibility
from storage import NewMessage

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LINES = [
    ("C_OPS", "1.0", "U_ANN", "checkout 5xx since the 14:00 deploy, rolling back"),
    ("C_OPS", "2.0", "U_BOB", "Reimbursement requests go through Expensify within 30 days"),
    ("C_OPS", "3.0", "U_CAT", "Remote access: install WireGuard and ask IT for a profile"),
    ("C_PUB", "4.0", "U_ANN", "The release freeze starts on Thursday at 18:00 UTC"),
    ("C_PUB", "5.0", "U_BOB", "Lunch order for Thursday is pizza"),
    ("G_SEC", "6.0", "U_ANN", "Board meeting moved, outage of the office wifi expected"),
]


async def seed(services: Services) -> str:
    """Tenant T1 with #general, #ops and the private #board (only U_ANN), every line searchable by meaning."""
    ws = services.storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    for channel, name, private in (("C_PUB", "general", False), ("C_OPS", "ops", False), ("G_SEC", "board", True)):
        await ws.upsert_channel(tenant, channel, name=name, is_private=private)
    await ws.set_members(tenant, "G_SEC", ["U_ANN"])
    await services.ingest.messages(tenant, [NewMessage(c, ts, text, T0 + timedelta(minutes=i), user)
                                            for i, (c, ts, user, text) in enumerate(LINES)])
    assert isinstance(services.retriever, HybridRetriever)
    await services.retriever.settle(tenant)
    return tenant


async def readable(services: Services, tenant: str, user: str = "U_CAT") -> frozenset[int]:
    """What `user` may search from #general."""
    channels = await services.storage.workspace.channels(tenant)
    return Visibility(Reader(platform=Platform.SLACK, tenant="T1", user=user, channel="C_PUB"), tenant,
                      channels).allowed_channel_ids
