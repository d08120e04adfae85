"""Housekeeping: old delivery ids and expired decisions go; recent ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.maintenance import purge_once
from bot.models import Platform, Reader
from bot.services import build_services
from storage import Storage
from tests.conftest import make_settings


async def test_purge_keeps_recent_and_drops_expired(storage: Storage, db_url: str) -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    services = await build_services(make_settings(db_url, WHYBOT_DECISION_RETENTION_DAYS=30), storage=storage,
                                     clock=lambda: now)
    tenant = await storage.workspace.ensure_tenant("playground", "demo")
    for decision_id, age in (("d_old", 31), ("d_new", 2)):
        await storage.decisions.save(decision_id=decision_id, tenant_id=tenant, channel_external_id="C1",
                                     user_external_id="U1", private=False, skill="help",
                                     rationale={}, reply={}, created_at=now - timedelta(days=age))
    for key, age in (("slack:old", 8), ("slack:new", 1)):  # delivery ids: one a week and a day old
        assert await storage.inbox.put(key, "answer", {}, priority=5, now=now - timedelta(days=age))
        item = await storage.inbox.claim("w", now - timedelta(days=age), timedelta(seconds=30))
        assert item is not None and await storage.inbox.finish(item.id, "w", now - timedelta(days=age))
    assert await purge_once(services) == (1, 1)
    assert await storage.decisions.get("d_old") is None and await storage.decisions.get("d_new") is not None
    new_again = await storage.inbox.put("slack:new", "answer", {}, priority=5, now=now)
    old_again = await storage.inbox.put("slack:old", "answer", {}, priority=5, now=now)
    assert not new_again and old_again
    reader = Reader(platform=Platform.PLAYGROUND, tenant="demo", user="U1", channel="C1")
    assert await services.router.explain("d_old", reader) is None
