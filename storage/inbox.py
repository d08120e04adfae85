"""The inbox: a durable queue of turns on the database every replica and worker shares.

Written here rather than taken from procrastinate or pgqueuer because both are PostgreSQL-only and
whybot's default is SQLite on one host; the queue is small (enqueue, claim under a lease, finish)
and uses the same claim as digest runs: `FOR UPDATE SKIP LOCKED` on PostgreSQL, and on SQLite a
conditional UPDATE whose WHERE re-checks the claimable state, so only one writer wins.

A worker that dies keeps its lease until `lease_until`; the item is then claimable again. What the
first attempt already did (the decision it stored, where it posted) is on the row, so the next
attempt continues instead of starting over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from storage.db import Database
from storage.tables import InboxItem
from storage.upsert import insert_for

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


@dataclass(frozen=True, slots=True)
class InboxRecord:
    id: int
    key: str
    kind: str
    priority: int
    payload: dict[str, Any]
    status: str
    attempts: int
    claimed_by: str | None
    lease_until: datetime | None
    created_at: datetime
    decision_id: str | None
    posted_ref: dict[str, Any] | None
    note: str
    progress: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewTurn:
    key: str
    kind: str
    payload: dict[str, Any]
    priority: int


@dataclass(frozen=True, slots=True)
class InboxStats:
    pending: int
    running: int
    oldest_age_s: float


def _record(r: InboxItem) -> InboxRecord:
    return InboxRecord(r.id, r.key, r.kind, r.priority, dict(r.payload), r.status, r.attempts, r.claimed_by,
                       r.lease_until, r.created_at, r.decision_id, dict(r.posted_ref) if r.posted_ref else None,
                       r.note, dict(r.progress) if r.progress else None)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Waiting and due, or running under a lease that has run out (its worker died or hung)."""
    return or_(and_(InboxItem.status == PENDING, InboxItem.available_at <= now),
               and_(InboxItem.status == RUNNING, InboxItem.lease_until <= now))


class InboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, key: str, kind: str, payload: dict[str, Any], *, priority: int, now: datetime) -> bool:
        """Commit one turn; False when `key` was already there (a platform retry). Raises if not durable."""
        return (await self.put_many([NewTurn(key, kind, payload, priority)], now=now))[0]

    async def put_many(self, turns: Sequence[NewTurn], *, now: datetime) -> list[bool]:
        """Commit several turns in one statement and one transaction (group commit under load); per turn,
        whether it was new (a key repeated within the batch is new only the first time)."""
        if not turns:
            return []
        rows = [{"key": t.key[:255], "kind": t.kind, "priority": t.priority, "payload": t.payload,
                 "status": PENDING, "attempts": 0, "available_at": now, "created_at": now, "note": ""}
                for t in turns]
        # One statement: on PostgreSQL it commits by itself (one round trip instead of three); on SQLite a
        # RETURNING statement stays open until its rows are read, so it keeps its transaction and the writer lock.
        async with (self.db.autocommit() if self.db.dialect == "postgresql" else self.db.session()) as s:
            # One statement with the rows as parameters (not `.values(rows)`): SQLAlchemy caches its compiled
            # form and still sends one multi-row INSERT; compiling a new statement per batch size cost the
            # acking loop about a third of its time.
            stmt = (insert_for(s, InboxItem).on_conflict_do_nothing(index_elements=["key"])
                    .returning(InboxItem.key))
            inserted = set((await s.scalars(stmt, rows)).all())
        queued: list[bool] = []
        for row in rows:
            queued.append(row["key"] in inserted)
            inserted.discard(row["key"])
        return queued

    async def claim(self, worker: str, now: datetime, lease: timedelta) -> InboxRecord | None:
        """The most urgent claimable turn, leased to `worker` until `now + lease`; None when idle."""
        if self.db.dialect == "postgresql":
            async with self.db.session() as s:
                row = await s.scalar(select(InboxItem).where(_claimable(now))
                                     .order_by(InboxItem.priority, InboxItem.id).limit(1)
                                     .with_for_update(skip_locked=True))
                if row is None:
                    return None
                row.status, row.claimed_by, row.lease_until, row.claimed_at = RUNNING, worker, now + lease, now
                row.attempts += 1
                await s.flush()
                return _record(row)
        async with self.db.session() as s:
            candidates = list(await s.scalars(select(InboxItem.id).where(_claimable(now))
                                              .order_by(InboxItem.priority, InboxItem.id).limit(8)))
        for item_id in candidates:
            async with self.db.autocommit() as s:
                result = await s.execute(
                    update(InboxItem).where(InboxItem.id == item_id, _claimable(now))
                    .values(status=RUNNING, claimed_by=worker, lease_until=now + lease, claimed_at=now,
                            attempts=InboxItem.attempts + 1)
                    .execution_options(synchronize_session=False))
                if int(getattr(result, "rowcount", 0) or 0) == 1:
                    row = await s.get(InboxItem, item_id)
                    assert row is not None
                    return _record(row)
        return None

    async def _owned(self, item_id: int, worker: str, **values: object) -> bool:
        """Change an item only while `worker` still holds it; False means its lease passed to another."""
        async with self.db.autocommit() as s:
            result = await s.execute(
                update(InboxItem).where(InboxItem.id == item_id, InboxItem.status == RUNNING,
                                        InboxItem.claimed_by == worker)
                .values(**values).execution_options(synchronize_session=False))
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def renew(self, item_id: int, worker: str, until: datetime) -> bool:
        return await self._owned(item_id, worker, lease_until=until)

    async def record_decision(self, item_id: int, worker: str, decision_id: str) -> bool:
        """The stored decision this turn answers with, so a retry resends it instead of deciding again."""
        return await self._owned(item_id, worker, decision_id=decision_id)

    async def record_posted(self, item_id: int, posted_ref: dict[str, Any]) -> None:
        """Where the answer went, written the moment the platform says so (whoever holds the lease now)."""
        async with self.db.autocommit() as s:
            await s.execute(update(InboxItem).where(InboxItem.id == item_id).values(posted_ref=posted_ref)
                            .execution_options(synchronize_session=False))

    async def record_progress(self, key: str, progress: dict[str, Any]) -> bool:
        """What a running turn shows so far (its status line, the answer as written), for a page that polls
        while another process answers. Only a running turn takes it: a late write never lands on a
        finished one. False when nothing was written."""
        async with self.db.autocommit() as s:
            result = await s.execute(update(InboxItem).where(InboxItem.key == key[:255], InboxItem.status == RUNNING)
                                     .values(progress=progress).execution_options(synchronize_session=False))
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def finish(self, item_id: int, worker: str, now: datetime, *, failed: bool = False,
                     note: str = "") -> bool:
        return await self._owned(item_id, worker, status=FAILED if failed else DONE, finished_at=now,
                                 lease_until=None, note=note[:2000])

    async def retry_later(self, item_id: int, worker: str, at: datetime, note: str) -> bool:
        """Give the item back after a failure that may pass (a platform outage); claimable again at `at`."""
        return await self._owned(item_id, worker, status=PENDING, claimed_by=None, lease_until=None,
                                 available_at=at, note=note[:2000])

    async def hand_back(self, item_id: int, worker: str, now: datetime) -> bool:
        """Return an unfinished item at shutdown so another worker takes it now, not after the lease."""
        return await self._owned(item_id, worker, status=PENDING, claimed_by=None, lease_until=None,
                                 available_at=now, attempts=InboxItem.attempts - 1)

    async def get(self, item_id: int) -> InboxRecord | None:
        async with self.db.session() as s:
            row = await s.get(InboxItem, item_id)
            return _record(row) if row else None

    async def by_key(self, key: str) -> InboxRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(InboxItem).where(InboxItem.key == key[:255]))
            return _record(row) if row else None

    async def stats(self, now: datetime) -> InboxStats:
        """Queue depth and the age of the oldest unfinished turn, for /metrics."""
        async with self.db.session() as s:
            rows = (await s.execute(select(InboxItem.status, func.count(), func.min(InboxItem.created_at))
                                    .where(InboxItem.status.in_((PENDING, RUNNING)))
                                    .group_by(InboxItem.status))).tuples().all()
        counts = {status: int(n) for status, n, _ in rows}
        oldest = min((first for _, _, first in rows if first is not None), default=None)
        return InboxStats(counts.get(PENDING, 0), counts.get(RUNNING, 0),
                          max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    async def recent_timings(self, since: datetime, limit: int = 5000) -> list[tuple[float, float]]:
        """(waited, ran) seconds of turns finished since `since`: queue wait, and claim to answer."""
        async with self.db.session() as s:
            rows = (await s.execute(select(InboxItem.created_at, InboxItem.claimed_at, InboxItem.finished_at)
                                    .where(InboxItem.status == DONE, InboxItem.finished_at >= since)
                                    .order_by(InboxItem.finished_at.desc()).limit(limit))).tuples().all()
        return [((claimed - created).total_seconds(), (finished - claimed).total_seconds())
                for created, claimed, finished in rows if claimed is not None and finished is not None]

    async def purge_finished_before(self, cutoff: datetime) -> int:
        """Finished turns are kept a while (their keys stop late retries), then dropped (in batches)."""
        return await self.db.delete_in_batches(InboxItem, InboxItem.status.in_((DONE, FAILED)),
                                               InboxItem.created_at < cutoff)
