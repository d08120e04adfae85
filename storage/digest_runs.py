"""Scheduled digest runs: one row per (subscription, slot), claimed with a lease so that every slot is
delivered once however many replicas share the database.

A claim is a lease, not a lock held across the network call: on PostgreSQL the claiming
transaction picks a row with `FOR UPDATE SKIP LOCKED` (replicas never wait on each other) and
stamps `lease_until`; on SQLite, which has no SKIP LOCKED, the claim is a conditional UPDATE whose
WHERE re-checks status and lease, so only one writer's rowcount is 1. A replica that dies keeps
its lease until it expires; then the row is claimable again and `posted_message_id` tells the next
worker whether the post already happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update

from storage.db import Database
from storage.tables import DigestRun
from storage.upsert import insert_for

PENDING, RUNNING, DONE, SKIPPED, FAILED = "pending", "running", "done", "skipped", "failed"
FINAL = (DONE, SKIPPED, FAILED)


@dataclass(frozen=True, slots=True)
class DigestRunRecord:
    id: int
    subscription_id: int
    scheduled_for: datetime
    status: str
    claimed_by: str | None
    lease_until: datetime | None
    attempts: int
    late: bool
    decision_id: str | None
    posted_message_id: str | None
    note: str
    finished_at: datetime | None


def _record(r: DigestRun) -> DigestRunRecord:
    return DigestRunRecord(r.id, r.subscription_id, r.scheduled_for, r.status, r.claimed_by, r.lease_until,
                           r.attempts, r.late, r.decision_id, r.posted_message_id, r.note, r.finished_at)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due, and either waiting (past any retry back-off) or running under a lease that has expired."""
    return and_(
        DigestRun.scheduled_for <= now,
        or_(
            and_(DigestRun.status == PENDING, or_(DigestRun.lease_until.is_(None), DigestRun.lease_until <= now)),
            and_(DigestRun.status == RUNNING, DigestRun.lease_until <= now),
        ),
    )


class DigestRunStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_slots(self, subscription_id: int, slots: Sequence[datetime]) -> int:
        """Insert a pending run per slot; slots another replica already inserted are left alone."""
        if not slots:
            return 0
        added = 0
        async with self.db.session() as s:
            for slot in slots:
                stmt = insert_for(s, DigestRun).values(
                    subscription_id=subscription_id, scheduled_for=slot, status=PENDING, attempts=0, late=False,
                    note="").on_conflict_do_nothing(index_elements=["subscription_id", "scheduled_for"])
                result = await s.execute(stmt)
                added += int(getattr(result, "rowcount", 0) or 0)
        return added

    async def latest_slot(self, subscription_id: int) -> datetime | None:
        async with self.db.session() as s:
            return await s.scalar(select(DigestRun.scheduled_for).where(DigestRun.subscription_id == subscription_id)
                                  .order_by(DigestRun.scheduled_for.desc()).limit(1))

    async def claim(self, worker: str, now: datetime, lease: timedelta) -> DigestRunRecord | None:
        """Take the oldest claimable run for `worker` until `now + lease`, or None when nothing is due."""
        if self.db.dialect == "postgresql":
            return await self._claim_skip_locked(worker, now, lease)
        return await self._claim_conditional(worker, now, lease)

    async def _claim_skip_locked(self, worker: str, now: datetime, lease: timedelta) -> DigestRunRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(DigestRun).where(_claimable(now))
                                 .order_by(DigestRun.scheduled_for, DigestRun.id).limit(1)
                                 .with_for_update(skip_locked=True))
            if row is None:
                return None
            row.status, row.claimed_by, row.lease_until = RUNNING, worker, now + lease
            row.attempts += 1
            await s.flush()
            return _record(row)

    async def _claim_conditional(self, worker: str, now: datetime, lease: timedelta) -> DigestRunRecord | None:
        async with self.db.session() as s:
            candidates = list(await s.scalars(select(DigestRun.id).where(_claimable(now))
                                              .order_by(DigestRun.scheduled_for, DigestRun.id).limit(8)))
        for run_id in candidates:
            async with self.db.session() as s:
                result = await s.execute(
                    update(DigestRun).where(DigestRun.id == run_id, _claimable(now))
                    .values(status=RUNNING, claimed_by=worker, lease_until=now + lease,
                            attempts=DigestRun.attempts + 1)
                    .execution_options(synchronize_session=False))
                if int(getattr(result, "rowcount", 0) or 0) == 1:
                    row = await s.get(DigestRun, run_id)
                    assert row is not None
                    return _record(row)
        return None

    async def claim_id(self, run_id: int, worker: str, now: datetime, lease: timedelta) -> DigestRunRecord | None:
        """Take this run if it is claimable now (the inbox said it is due); None if it is not."""
        async with self.db.session() as s:
            result = await s.execute(
                update(DigestRun).where(DigestRun.id == run_id, _claimable(now))
                .values(status=RUNNING, claimed_by=worker, lease_until=now + lease, attempts=DigestRun.attempts + 1)
                .execution_options(synchronize_session=False))
            if int(getattr(result, "rowcount", 0) or 0) != 1:
                return None
            row = await s.get(DigestRun, run_id)
            assert row is not None
            return _record(row)

    async def due(self, now: datetime, limit: int = 100) -> list[DigestRunRecord]:
        """Runs a worker could claim now, oldest slot first."""
        async with self.db.session() as s:
            rows = await s.scalars(select(DigestRun).where(_claimable(now))
                                   .order_by(DigestRun.scheduled_for, DigestRun.id).limit(limit))
            return [_record(r) for r in rows]

    async def _owned(self, run_id: int, worker: str, **values: object) -> bool:
        """Change a run only while `worker` still holds it; False means someone else has taken it over."""
        async with self.db.session() as s:
            result = await s.execute(
                update(DigestRun).where(DigestRun.id == run_id, DigestRun.status == RUNNING,
                                        DigestRun.claimed_by == worker)
                .values(**values).execution_options(synchronize_session=False))
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def renew(self, run_id: int, worker: str, until: datetime) -> bool:
        """Extend the lease just before the irreversible step (posting); False = lost it, do not post."""
        return await self._owned(run_id, worker, lease_until=until)

    async def mark_late(self, run_id: int, worker: str, note: str) -> bool:
        return await self._owned(run_id, worker, late=True, note=note)

    async def record_posted(self, run_id: int, worker: str, message_id: str, decision_id: str | None) -> bool:
        """Remember the platform's message id the moment the post returns, before anything else."""
        async with self.db.session() as s:
            result = await s.execute(
                update(DigestRun).where(DigestRun.id == run_id, DigestRun.posted_message_id.is_(None))
                .values(posted_message_id=message_id, decision_id=decision_id)
                .execution_options(synchronize_session=False))
            return int(getattr(result, "rowcount", 0) or 0) == 1

    async def finish(self, run_id: int, worker: str, status: str, note: str, now: datetime) -> bool:
        assert status in FINAL
        return await self._owned(run_id, worker, status=status, note=note, finished_at=now, lease_until=None)

    async def retry_later(self, run_id: int, worker: str, note: str, at: datetime) -> bool:
        """Give the run back after a failure; it becomes claimable again at `at`."""
        return await self._owned(run_id, worker, status=PENDING, claimed_by=None, lease_until=at, note=note)

    async def newer_due(self, subscription_id: int, scheduled_for: datetime, now: datetime) -> datetime | None:
        """The newest slot after `scheduled_for` that is already due: a reason to skip a stale one."""
        async with self.db.session() as s:
            return await s.scalar(select(DigestRun.scheduled_for).where(
                DigestRun.subscription_id == subscription_id, DigestRun.scheduled_for > scheduled_for,
                DigestRun.scheduled_for <= now).order_by(DigestRun.scheduled_for.desc()).limit(1))

    async def get(self, run_id: int) -> DigestRunRecord | None:
        async with self.db.session() as s:
            row = await s.get(DigestRun, run_id)
            return _record(row) if row else None

    async def for_subscription(self, subscription_id: int) -> list[DigestRunRecord]:
        async with self.db.session() as s:
            rows = await s.scalars(select(DigestRun).where(DigestRun.subscription_id == subscription_id)
                                   .order_by(DigestRun.scheduled_for))
            return [_record(r) for r in rows]
