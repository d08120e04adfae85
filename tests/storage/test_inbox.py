"""The inbox queue on SQLite and PostgreSQL: dedupe by delivery id, leases, priorities, hand-back, stats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import Storage
from storage.db import PURGE_BATCH
from storage.inbox import NewTurn

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def test_a_retried_delivery_is_queued_once(storage: Storage) -> None:
    assert await storage.inbox.put("slack:event:Ev1", "chat", {"n": 1}, priority=5, now=NOW)
    assert not await storage.inbox.put("slack:event:Ev1", "chat", {"n": 2}, priority=5, now=NOW)
    item = await storage.inbox.claim("w1", NOW, LEASE)
    assert item is not None and item.payload == {"n": 1} and item.attempts == 1
    assert await storage.inbox.claim("w2", NOW, LEASE) is None


async def test_clicks_jump_the_queue_of_answers(storage: Storage) -> None:
    for i in range(3):
        await storage.inbox.put(f"answer:{i}", "chat", {}, priority=5, now=NOW)
    await storage.inbox.put("click", "explain", {}, priority=1, now=NOW + timedelta(seconds=1))
    first = await storage.inbox.claim("w", NOW + timedelta(seconds=1), LEASE)
    assert first is not None and first.key == "click"
    second = await storage.inbox.claim("w", NOW + timedelta(seconds=1), LEASE)
    assert second is not None and second.key == "answer:0"


async def test_a_dead_workers_turn_is_claimed_again_after_its_lease(storage: Storage) -> None:
    await storage.inbox.put("k", "chat", {}, priority=5, now=NOW)
    dead = await storage.inbox.claim("dead", NOW, LEASE)
    assert dead is not None
    await storage.inbox.record_decision(dead.id, "dead", "d_123")
    assert await storage.inbox.claim("alive", NOW + LEASE - timedelta(seconds=1), LEASE) is None
    again = await storage.inbox.claim("alive", NOW + LEASE, LEASE)
    assert again is not None and again.id == dead.id and again.attempts == 2 and again.decision_id == "d_123"
    # The dead worker can no longer change what it lost.
    assert not await storage.inbox.finish(dead.id, "dead", NOW + LEASE)
    assert await storage.inbox.finish(again.id, "alive", NOW + LEASE)
    assert (await storage.inbox.get(dead.id)).status == "done"  # type: ignore[union-attr]


async def test_handed_back_and_retried_items(storage: Storage) -> None:
    await storage.inbox.put("a", "chat", {}, priority=5, now=NOW)
    item = await storage.inbox.claim("w", NOW, LEASE)
    assert item is not None
    assert await storage.inbox.hand_back(item.id, "w", NOW)
    again = await storage.inbox.claim("w2", NOW, LEASE)
    assert again is not None and again.attempts == 1  # a hand-back is not a failed attempt
    assert await storage.inbox.retry_later(again.id, "w2", NOW + timedelta(minutes=1), "slack said 429")
    assert await storage.inbox.claim("w3", NOW + timedelta(seconds=59), LEASE) is None
    later = await storage.inbox.claim("w3", NOW + timedelta(minutes=1), LEASE)
    assert later is not None and later.note == "slack said 429"


async def test_stats_and_purge(storage: Storage) -> None:
    for i in range(4):
        await storage.inbox.put(f"s{i}", "chat", {}, priority=5, now=NOW + timedelta(seconds=i))
    item = await storage.inbox.claim("w", NOW, LEASE)
    assert item is not None
    stats = await storage.inbox.stats(NOW + timedelta(seconds=10))
    assert (stats.pending, stats.running, stats.oldest_age_s) == (3, 1, 10.0)
    await storage.inbox.finish(item.id, "w", NOW)
    assert await storage.inbox.purge_finished_before(NOW + timedelta(days=1)) == 1
    assert (await storage.inbox.stats(NOW)).pending == 3


async def test_concurrent_workers_never_claim_the_same_turn(storage: Storage) -> None:
    for i in range(40):
        await storage.inbox.put(f"c{i}", "chat", {}, priority=5, now=NOW)

    async def drain(worker: str) -> list[int]:
        got = []
        while (item := await storage.inbox.claim(worker, NOW, LEASE)) is not None:
            got.append(item.id)
            await storage.inbox.finish(item.id, worker, NOW)
        return got

    results = await asyncio.gather(*(drain(f"w{i}") for i in range(4)))
    claimed = [i for r in results for i in r]
    assert len(claimed) == 40 and len(set(claimed)) == 40


async def test_progress_is_kept_only_while_the_turn_runs(storage: Storage) -> None:
    """A page polls a running turn's progress (status line, text so far); a late write from a worker that
    already finished must not land on the row."""
    await storage.inbox.put("playground:p1", "answer", {}, priority=5, now=NOW)
    assert not await storage.inbox.record_progress("playground:p1", {"status": "queued"}), "not claimed yet"
    item = await storage.inbox.claim("w", NOW, LEASE)
    assert item is not None and item.progress is None
    shown = {"status": "Searching what you can see in 7 channels…", "text": "Request staging access wi"}
    assert await storage.inbox.record_progress("playground:p1", shown)
    assert (await storage.inbox.by_key("playground:p1")).progress == shown  # type: ignore[union-attr]
    assert await storage.inbox.finish(item.id, "w", NOW)
    assert not await storage.inbox.record_progress("playground:p1", {"status": "late", "text": None})
    assert (await storage.inbox.by_key("playground:p1")).progress == shown  # type: ignore[union-attr]
    assert not await storage.inbox.record_progress("playground:nope", shown)


async def test_purge_takes_every_finished_turn_in_batches_and_leaves_the_rest(storage: Storage) -> None:
    count = PURGE_BATCH + 7
    await storage.inbox.put_many([NewTurn(f"old{i}", "chat", {}, 5) for i in range(count)], now=NOW)
    await storage.inbox.put("waiting", "chat", {}, priority=5, now=NOW)
    for _ in range(count):
        item = await storage.inbox.claim("w", NOW, LEASE)
        assert item is not None
        await storage.inbox.finish(item.id, "w", NOW)
    # the claim order is by priority then id, so the unfinished one is the last left
    assert await storage.inbox.purge_finished_before(NOW + timedelta(days=1)) == count
    left = await storage.inbox.claim("w", NOW, LEASE)
    assert left is not None and left.key == "waiting"


async def test_a_posted_reference_reaches_the_decision_and_a_retry_can_repair_it(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    await storage.decisions.save(decision_id="d_p", tenant_id=tenant, channel_external_id="C", user_external_id="U",
                                 private=False, skill="ask", rationale={}, reply={}, created_at=NOW)
    await storage.inbox.put("p", "chat", {}, priority=5, now=NOW)
    item = await storage.inbox.claim("w", NOW, LEASE)
    assert item is not None
    await storage.inbox.record_posted(item.id, {"ts": "1.1"})
    await storage.decisions.set_posted_ref("d_p", {"ts": "1.1"})
    assert (await storage.inbox.get(item.id)).posted_ref == {"ts": "1.1"}  # type: ignore[union-attr]
    assert (await storage.decisions.get("d_p")).posted_ref == {"ts": "1.1"}  # type: ignore[union-attr]
    await storage.decisions.set_posted_ref("d_p", {"ts": "1.1"})  # idempotent: a retry's repair
    assert (await storage.decisions.get("d_p")).posted_ref == {"ts": "1.1"}  # type: ignore[union-attr]
