"""who: people ranked by what they did in the matching threads, each cited by their own messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import ChatEvent, Platform, Trigger
from bot.services import Services
from storage import NewMessage

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _workspace(services: Services) -> str:
    ws = services.storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    await ws.upsert_channel(tenant, "C_ENG", name="engineering")
    await ws.upsert_channel(tenant, "G_LEAD", name="leads", is_private=True)
    await ws.set_members(tenant, "G_LEAD", ["U_EVE"])
    for user, name in (("U_ANN", "Ann Chu"), ("U_BOB", "Bob Lee"), ("U_DAN", "Dan Oh"), ("U_EVE", "Eve Ma"),
                       ("U_CAT", "Cat Ng")):
        await ws.upsert_user(tenant, user, display_name=name)
    threads = [
        ("C_ENG", "1.0", [("U_ANN", "Proposal: migrate the ledger service from MySQL to Postgres. Thoughts?"),
                          ("U_BOB", "+1, as long as we keep a rollback path for the ledger migration"),
                          ("U_DAN", "Decision: we'll migrate the ledger service to Postgres, <@U_BOB> owns it.")]),
        ("C_ENG", "2.0", [("U_CAT", "who owns billing-api these days?"),
                          ("U_ANN", "<@U_EVE> owns billing-api now, ping them directly")]),
        ("G_LEAD", "3.0", [("U_EVE", "Decision: the ledger migration budget is frozen until Q3")]),
    ]
    minute = 0
    for channel, root, messages in threads:
        for i, (user, text) in enumerate(messages):
            minute += 1
            ts = root if i == 0 else f"{root[:-2]}.{i}"
            await services.ingest.message(tenant, NewMessage(channel, ts, text, T0 + timedelta(minutes=minute), user,
                                                             thread_external_id=None if i == 0 else root))
    return tenant


def _mention(text: str) -> ChatEvent:
    return ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C_ENG", user="U_CAT", text=text,
                     trigger=Trigger.MENTION)


async def test_who_decided_names_the_decider_citing_the_decision(services: Services) -> None:
    await _workspace(services)
    reply = await services.router.handle(_mention("who decided on the ledger migration?"))
    assert reply.rationale.skill == "people" and reply.rationale.route.skill == "people"
    first = reply.sections[0].items[0]
    assert first.text.startswith("**Dan Oh**") and "decided" in first.text
    cited = {c.number: c for c in reply.citations}
    assert any("Decision: we'll migrate" in cited[n].snippet for n in first.citation_numbers)
    assert all("Eve Ma" not in item.text for item in reply.sections[0].items)  # the private decision stays hidden
    assert all(c.channel == "C_ENG" for c in reply.citations)


async def test_who_owns_ranks_the_named_owner_first(services: Services) -> None:
    await _workspace(services)
    reply = await services.router.handle(_mention("who owns billing-api?"))
    items = reply.sections[0].items
    assert items[0].text.startswith("**Eve Ma**") and "named owner" in items[0].text
    evidence = reply.rationale.evidence
    assert any("Eve Ma: named owner" in e.contributions for e in evidence)


async def test_who_declines_when_nothing_matches(services: Services) -> None:
    await _workspace(services)
    reply = await services.router.handle(_mention("who knows about the zebrafish aquarium?"))
    assert reply.rationale.skill == "people"
    assert reply.rationale.caveats[0].startswith("declined") and not reply.citations
