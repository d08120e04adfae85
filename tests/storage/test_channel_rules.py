"""Channel rules, excluded channels' deletion, per-person rate limits and "not answered" decisions, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np

from storage import Limit, NewMessage, Storage, text_hash

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


async def test_rules_default_to_nothing_and_changes_keep_each_other(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    rules = storage.channel_rules
    assert await rules.get(tenant, "C1") is None
    first = await rules.change(tenant, "C1", by="UADMIN", at=T0, answer_mode="questions")
    assert (first.answer_mode, first.excluded, first.digest_top_n, first.updated_by) == ("questions", False, None,
                                                                                        "UADMIN")
    second = await rules.change(tenant, "C1", by="UOTHER", at=T0 + MINUTE, digest_top_n=3, digest_window_hours=168,
                                digest_cron="0 9 * * *", digest_tz="Europe/Berlin", digest_description="daily at 09:00")
    assert second.answer_mode == "questions", "a change of the digest defaults keeps the answer mode"
    assert (second.digest_top_n, second.digest_window_hours, second.digest_tz) == (3, 168, "Europe/Berlin")
    assert second.updated_by == "UOTHER" and second.updated_at == T0 + MINUTE
    await rules.change(tenant, "C2", by="UADMIN", at=T0, excluded=True, excluded_by="UADMIN", excluded_at=T0)
    assert [r.channel_external_id for r in await rules.for_tenant(tenant)] == ["C1", "C2"]
    other = await storage.workspace.ensure_tenant("slack", "T2")
    assert await rules.for_tenant(other) == [], "rules are per tenant"


async def test_an_excluded_channel_is_flagged_on_its_channel_record(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    await storage.workspace.upsert_channel(tenant, "C1", name="general")
    await storage.workspace.upsert_channel(tenant, "C2", name="random")
    await storage.channel_rules.change(tenant, "C2", by="U1", at=T0, excluded=True)
    flags = {c.external_id: c.excluded for c in await storage.workspace.channels(tenant)}
    assert flags == {"C1": False, "C2": True}
    await storage.channel_rules.change(tenant, "C2", by="U1", at=T0, excluded=False)
    assert not (await storage.workspace.channel(tenant, "C2")).excluded  # type: ignore[union-attr]


async def test_deleting_a_channel_removes_its_messages_vectors_and_documents_only(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    await storage.workspace.upsert_channel(tenant, "CGONE", name="gone")
    await storage.workspace.upsert_channel(tenant, "CKEEP", name="keep")
    gone = [await storage.messages.upsert(tenant, NewMessage("CGONE", f"{i}.0", f"salary bands for {i}", T0, "U1"))
            for i in range(3)]
    kept = await storage.messages.upsert(tenant, NewMessage("CKEEP", "9.0", "salary bands are public now", T0, "U2"))
    vector = (np.ones(4, dtype=np.float32) / 2).tobytes()
    await storage.embeddings.put(tenant, "m1", [(m.id, text_hash(m.text), vector, 4) for m in [*gone, kept]])
    await storage.messages.upsert_document(tenant, "gone.md", "Gone doc", "salary bands table",
                                           channel_external_id="CGONE")
    await storage.messages.upsert_document(tenant, "keep.md", "Kept doc", "salary bands policy")

    assert await storage.messages.delete_channel(tenant, "CGONE") == (3, 1)

    assert await storage.messages.get([m.id for m in gone]) == []
    assert [m.id for m in await storage.messages.get([kept.id])] == [kept.id]
    vectors = [v.message_id async for batch in storage.embeddings.vectors(tenant, "m1") for v in batch]
    assert vectors == [kept.id]
    assert [d.path for d in await storage.messages.documents(tenant)] == ["keep.md"]
    assert await storage.workspace.channel(tenant, "CGONE") is not None, "the channel row (and its rules) stays"
    assert await storage.messages.delete_channel(tenant, "CGONE") == (0, 0)
    assert await storage.messages.delete_channel(tenant, "CNEVER") == (0, 0)


async def test_rate_limits_count_admit_and_refuse_with_when_to_retry(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    limits = [Limit(MINUTE, 2), Limit(HOUR, 3)]
    admit = storage.rate_limits.admit
    assert (await admit(tenant, "U1", "k1", T0, limits)).admitted
    assert (await admit(tenant, "U1", "k2", T0 + timedelta(seconds=10), limits)).admitted
    refused = await admit(tenant, "U1", "k3", T0 + timedelta(seconds=20), limits)
    assert not refused.admitted and refused.counted == 2 and refused.window == MINUTE
    assert refused.retry_at == T0 + MINUTE, "once the first of the two leaves the minute"
    assert (await admit(tenant, "U1", "k1", T0 + timedelta(seconds=30), limits)).admitted, \
        "a retried turn that was counted is admitted again, not counted twice"
    assert (await admit(tenant, "U2", "k4", T0 + timedelta(seconds=30), limits)).admitted, "per person"
    assert (await admit(tenant, "U1", "k5", T0 + timedelta(seconds=61), limits)).admitted, \
        "the refused request was not counted: one minute on, the first has left the window"
    hourly = await admit(tenant, "U1", "k6", T0 + timedelta(seconds=200), limits)
    assert not hourly.admitted and hourly.window == HOUR and hourly.counted == 3
    assert hourly.retry_at == T0 + HOUR
    assert (await admit(tenant, "U1", "k7", T0, [Limit(MINUTE, 0), Limit(HOUR, 0)])).admitted, "0 = no limit"
    assert await storage.rate_limits.purge_before(T0 + timedelta(seconds=15)) == 2  # k1, k2 (k7 counts nothing)


async def test_concurrent_requests_from_one_person_never_pass_the_limit(storage: Storage) -> None:
    """Ten workers decide for the same person at once: exactly the limit get through, on both databases."""
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    limits = [Limit(MINUTE, 3)]
    results = await asyncio.gather(*(storage.rate_limits.admit(tenant, "U1", f"k{i}", T0, limits)
                                      for i in range(10)))
    assert sum(r.admitted for r in results) == 3


async def test_not_answered_decisions_are_found_by_skill(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    for i, skill in enumerate(["none", "ask", "none"]):
        await storage.decisions.save(decision_id=f"d{i}", tenant_id=tenant, channel_external_id="C1",
                                     user_external_id="U1", private=True, skill=skill,
                                     rationale={"route": {"reason": "rate_limited: slow down"}}, reply={},
                                     created_at=T0 + timedelta(minutes=i))
    found = await storage.decisions.by_skill(tenant, "none", since=T0)
    assert [d.id for d in found] == ["d2", "d0"]
    assert [d.id for d in await storage.decisions.by_skill(tenant, "none", since=T0, until=T0 + MINUTE)] == ["d0"]
