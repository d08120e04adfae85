"""Engagement queries on SQLite and PostgreSQL: counts per audience and window, recent questions, gap
candidates, Why? opens counted once per turn, and the migration filling in decisions stored before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, text

from storage import Audience, Database, Storage, tenant_key
from storage.db import alembic_config

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)


async def decision(storage: Storage, tenant: str, decision_id: str, *, channel: str | None = "C1", user: str = "U1",
                   private: bool = False, skill: str = "ask", question: str | None = "q?",
                   outcome: str | None = "answered", at: datetime = T0) -> None:
    await storage.decisions.save(decision_id=decision_id, tenant_id=tenant, channel_external_id=channel,
                                 user_external_id=user, private=private, skill=skill, rationale={}, reply={},
                                 created_at=at, question=question, outcome=outcome)


async def seeded(storage: Storage) -> str:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    await decision(storage, tenant, "d1", question="how do I reset the vpn?", outcome="declined")
    await decision(storage, tenant, "d2", question="when is the freeze?", at=T0 + timedelta(hours=1))
    await decision(storage, tenant, "d3", channel="G1", user="U2", question="the secret plan?", outcome="declined")
    await decision(storage, tenant, "d4", private=True, user="U3", question="my own private question")
    await decision(storage, tenant, "d5", question="failed one", outcome="failed")
    await decision(storage, tenant, "old", question="last week's", at=T0 - timedelta(days=3))
    await decision(storage, tenant, "dig", skill="digest", question=None, outcome=None)
    await decision(storage, tenant, "help", skill="help", question=None, outcome=None)
    for decision_id, user, helpful, item in [("d2", "U1", True, ""), ("d2", "U2", False, ""), ("d2", "U3", True, ""),
                                             ("d2", "U4", True, "i1"),  # an item vote: not about the answer
                                             ("dig", "U5", True, "i1"), ("dig", "U6", False, "")]:
        await storage.decisions.record_feedback(decision_id, user, helpful, item)
    return tenant


def by_audience(groups: list[Any]) -> dict[Audience, Any]:
    return {g.audience: g for g in groups}


async def test_counts_are_grouped_by_who_could_see_them(storage: Storage) -> None:
    tenant = await seeded(storage)
    assert await storage.engagement.record_open("k1", "d2", tenant, "U1", admin=False, at=T0 + timedelta(hours=2))
    assert not await storage.engagement.record_open("k1", "d2", tenant, "U1", admin=False, at=T0), "same turn"
    await storage.engagement.record_open("k2", "d2", tenant, "U2", admin=True, at=T0 + timedelta(hours=3))
    await storage.engagement.record_open("k3", "dig", tenant, "U5", admin=False, at=T0 + timedelta(hours=3))
    await storage.engagement.record_open("k4", "dig", tenant, "U6", admin=False, at=T0 + timedelta(hours=4))
    await storage.engagement.record_open("k5", "old", tenant, "U1", admin=False, at=T0 - timedelta(days=2))

    groups = by_audience(await storage.engagement.counts(tenant, T0, T0 + WEEK))
    public = groups[Audience("C1", False)]
    assert public.outcomes == {"answered": 1, "declined": 1, "failed": 1}
    assert (public.helpful, public.unhelpful) == (2, 1), "whole-reply votes only"
    # Why? opens: two on d2 (the retried turn counted once); the digest's two, and its reads: U5 opened and
    # rated an item (one read), U6 opened and voted (one read).
    assert public.why_opens == 4 and public.digest_reads == 2
    assert groups[Audience("G1", False)].outcomes == {"declined": 1}
    assert groups[Audience("C1", True, "U3")].outcomes == {"answered": 1}, "a private decision keeps its asker"
    assert sum(sum(g.outcomes.values()) for g in groups.values()) == 5, "last week's is not in this week"

    before = by_audience(await storage.engagement.counts(tenant, T0 - WEEK, T0))
    assert before[Audience("C1", False)].outcomes == {"answered": 1} and before[Audience("C1", False)].why_opens == 1
    assert await storage.engagement.counts(tenant, T0 + WEEK, T0 + 2 * WEEK) == []
    other = await storage.workspace.ensure_tenant("slack", "T2")
    assert await storage.engagement.counts(other, T0, T0 + WEEK) == [], "tenants never mix"
    assert await storage.engagement.opens("d2") == [("U1", False), ("U2", True)]


async def test_recent_questions_and_gap_candidates(storage: Storage) -> None:
    tenant = await seeded(storage)
    recent = await storage.engagement.recent_questions(tenant, "U1", limit=3)
    assert [q.decision_id for q in recent] == ["d2", "d5", "d1"] or [q.decision_id for q in recent] == [
        "d2", "d1", "d5"]  # d1 and d5 share a timestamp
    d2 = recent[0]
    assert (d2.question, d2.outcome, d2.helpful, d2.unhelpful) == ("when is the freeze?", "answered", 2, 1)
    assert d2.audience == Audience("C1", False)
    assert all(q.skill != "digest" for q in await storage.engagement.recent_questions(tenant, "U1"))

    gaps = await storage.engagement.gap_candidates(tenant, T0, T0 + WEEK)
    assert sorted(q.decision_id for q in gaps) == ["d1", "d2", "d3"], "declined, or a 👎 on the answer"
    assert {q.decision_id: q.audience for q in gaps}["d3"] == Audience("G1", False)
    assert await storage.engagement.gap_candidates(tenant, T0 - WEEK, T0) == []


async def test_deleting_a_decision_takes_its_opens(storage: Storage) -> None:
    tenant = await seeded(storage)
    await storage.engagement.record_open("k1", "old", tenant, "U1", admin=False, at=T0)
    assert await storage.decisions.purge_older_than(T0 - timedelta(days=1)) == 1
    assert await storage.engagement.opens("old") == []


async def test_the_migration_fills_in_decisions_stored_before_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    rows = [("a1", "ask", '{"caveats": ["declined: no source matched"], "inputs": {"query": "vpn reset"}}'),
            ("a2", "ask", '{"caveats": [], "conversation": {"asked": "and then?"}, "inputs": {"query": "x"}}'),
            ("a3", "summarize", '{"caveats": ["not carried out: no thread"]}'),
            ("a4", "digest", '{"caveats": []}')]

    def old_schema(connection: Connection) -> None:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0010_drop_processed_events")
        connection.execute(text("INSERT INTO tenants (id, platform, external_id, name, created_at) "
                                "VALUES ('slack:T1', 'slack', 'T1', '', '2026-03-02')"))
        for decision_id, skill, rationale in rows:
            connection.execute(text(
                "INSERT INTO decisions (id, tenant_id, user_external_id, private, skill, rationale, reply, created_at) "
                "VALUES (:id, 'slack:T1', 'U1', 0, :skill, :rationale, '{}', '2026-03-02 09:00:00')"),
                {"id": decision_id, "skill": skill, "rationale": rationale})

    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(old_schema)
        await db.upgrade()
    finally:
        await db.dispose()
    storage = await Storage.open(url)
    try:
        found = {q.decision_id: (q.question, q.outcome)
                 for q in await storage.engagement.gap_candidates(tenant_key("slack", "T1"), T0 - WEEK, T0 + WEEK)}
        assert found == {"a1": ("vpn reset", "declined")}
        asked = await storage.engagement.recent_questions(tenant_key("slack", "T1"), "U1", limit=10)
        assert sorted((q.decision_id, q.question, q.outcome) for q in asked) == [
            ("a1", "vpn reset", "declined"), ("a2", "and then?", "answered"), ("a3", "", "failed")]
        counts = await storage.engagement.counts(tenant_key("slack", "T1"), T0 - WEEK, T0 + WEEK)
        assert counts[0].outcomes == {"declined": 1, "answered": 1, "failed": 1}, "the digest is no question"
    finally:
        await storage.close()
