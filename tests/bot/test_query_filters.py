"""Scope and time phrases in questions: parsed out of the words searched, applied as filters, shown in Why?."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import ChatEvent, Platform, Trigger
from bot.query_filters import parse
from bot.services import Services
from storage import NewMessage

NOW = datetime(2025, 3, 14, 16, 30, tzinfo=UTC)


def test_channel_author_and_time_phrases_become_filters() -> None:
    q = parse("what broke checkout in #incidents yesterday?", NOW)
    assert q.question == "what broke checkout?"
    assert [c.name for c in q.channels] == ["incidents"]
    assert (q.since, q.until) == (datetime(2025, 3, 13, tzinfo=UTC), datetime(2025, 3, 14, tzinfo=UTC))
    q = parse("anything from @bob about the freeze last week", NOW)
    assert q.authors == ("bob",) and q.since == NOW - timedelta(weeks=1) and q.question == "anything about the freeze"
    q = parse("what did <@U123> say in <#C99|eng> in the last 3 days", NOW)
    assert q.channels[0].external_id == "C99" and q.since == NOW - timedelta(days=3)


def test_quarters_and_years_are_calendar_periods() -> None:
    q = parse("what was the NPS score for search last quarter?", NOW)
    assert q.question == "what was the NPS score for search?" and q.time_label == "last quarter"
    assert (q.since, q.until) == (datetime(2024, 10, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    q = parse("decisions this quarter", NOW)
    assert (q.since, q.until) == (datetime(2025, 1, 1, tzinfo=UTC), None)
    q = parse("who owned billing last year", datetime(2025, 8, 20, tzinfo=UTC))
    assert (q.since, q.until) == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    q = parse("outages in the past 2 years", NOW)
    assert q.since == NOW - timedelta(days=730) and q.question == "outages"
    q = parse("what shipped last quarter", datetime(2025, 8, 20, tzinfo=UTC))
    assert (q.since, q.until) == (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))


def test_ordinary_words_stay_words() -> None:
    for question in ("how do I deploy from a bastion", "retention is 30 days?", "is it down in prod",
                     "it took a quarter to migrate"):
        q = parse(question, NOW)
        assert not q.any and q.question == question


async def _workspace(services: Services) -> str:
    ws = services.storage.workspace
    tenant = await ws.ensure_tenant("slack", "T1")
    await ws.upsert_channel(tenant, "C_INC", name="incidents")
    await ws.upsert_channel(tenant, "C_ENG", name="engineering")
    await ws.upsert_channel(tenant, "G_SEC", name="secret", is_private=True)
    await ws.upsert_user(tenant, "U_BOB", name="bob", display_name="Bob Lee")
    await ws.upsert_user(tenant, "U_ANN", name="ann", display_name="Ann Chu")
    lines = [("C_INC", "1.0", "U_ANN", "checkout latency alert fired, checkout errors rising", 3),
             ("C_ENG", "2.0", "U_BOB", "checkout errors come from the payment client retries", 1),
             ("C_INC", "3.0", "U_BOB", "checkout errors were the payment client retries, fixed", 30)]
    for channel, ts, user, text, hours_ago in lines:
        await services.ingest.message(tenant, NewMessage(channel, ts, text, NOW - timedelta(hours=hours_ago), user))
    return tenant


def _ask(text: str) -> ChatEvent:
    return ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C_ENG", user="U_ANN", command="ask", args=text,
                     trigger=Trigger.COMMAND)


async def test_filters_narrow_the_search_and_the_why_lists_them(services: Services) -> None:
    await _workspace(services)
    services.router.ctx.clock = lambda: NOW
    reply = await services.router.handle(_ask("checkout errors in #incidents"))
    sources = {e.source_id for e in reply.rationale.evidence}
    assert reply.rationale.inputs.filters == ["in #incidents"]
    assert sources and all(e.channel == "C_INC" for e in reply.rationale.evidence)
    reply = await services.router.handle(_ask("checkout errors from @bob"))
    assert reply.rationale.inputs.filters == ["from Bob Lee"]
    assert {e.title.split(" · ")[1] for e in reply.rationale.evidence} == {"Bob Lee"}
    reply = await services.router.handle(_ask("checkout errors in #incidents yesterday"))
    ids = [e.source_id for e in reply.rationale.evidence]
    assert ids and "message:1" not in ids and all(e.channel == "C_INC" for e in reply.rationale.evidence)
    assert reply.rationale.inputs.filters[1].startswith("yesterday (2025-03-13 00:00 to 2025-03-14 00:00 UTC)")


async def test_a_channel_the_reader_cannot_see_is_not_revealed(services: Services) -> None:
    await _workspace(services)
    reply = await services.router.handle(_ask("checkout errors in #secret"))
    assert reply.rationale.evidence == []
    assert "no channel #secret that you can read" in reply.body
    reply = await services.router.handle(_ask("checkout errors in #nosuchchannel"))
    assert "no channel #nosuchchannel that you can read" in reply.body
