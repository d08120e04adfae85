"""Per-person request counts in the database, so every worker process and replica counts the same requests.

`admit` counts and decides in one transaction. The request's own row is written first: on SQLite that
takes the write lock, so two workers deciding for the same person at once take turns; on PostgreSQL a
transaction-scoped advisory lock on the person does the same. A refused request's row is removed again,
so being refused never extends the wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text

from storage.db import Database
from storage.tables import RateEvent
from storage.upsert import insert_ignoring_duplicates


@dataclass(frozen=True, slots=True)
class Limit:
    window: timedelta
    allowed: int  # requests per window; 0 = no limit


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    counted: int = 0  # requests already made in the window that refused this one
    window: timedelta | None = None
    retry_at: datetime | None = None  # when the oldest of them leaves the window


class RateLimitStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def admit(self, tenant_id: str, user_external_id: str, key: str, now: datetime,
                    limits: Sequence[Limit]) -> Admission:
        """Count this request (once per `key`) unless one of `limits` is already reached."""
        active = [lim for lim in limits if lim.allowed > 0]
        if not active:
            return Admission(True)
        async with self.db.session() as s:
            if self.db.dialect == "postgresql":
                await s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:person, 0))"),
                                {"person": f"rate:{tenant_id}:{user_external_id}"})
            new = await insert_ignoring_duplicates(s, RateEvent, {
                "key": key, "tenant_id": tenant_id, "user_external_id": user_external_id, "at": now},
                conflict=["key"])
            if not new:
                return Admission(True)  # a retried turn that was counted (and admitted) before
            person = (RateEvent.tenant_id == tenant_id, RateEvent.user_external_id == user_external_id)
            for limit in sorted(active, key=lambda lim: lim.window):
                since = now - limit.window
                counted = int(await s.scalar(select(func.count(RateEvent.id)).where(
                    *person, RateEvent.at > since, RateEvent.key != key)) or 0)
                if counted < limit.allowed:
                    continue
                # The request may go once enough of the earlier ones have left the window.
                freeing = await s.scalar(select(RateEvent.at).where(*person, RateEvent.at > since,
                                                                     RateEvent.key != key)
                                         .order_by(RateEvent.at.desc()).offset(limit.allowed - 1).limit(1))
                await s.execute(delete(RateEvent).where(RateEvent.key == key))
                return Admission(False, counted, limit.window, (freeing or now) + limit.window)
        return Admission(True)

    async def purge_before(self, cutoff: datetime) -> int:
        async with self.db.session() as s:
            result = await s.execute(delete(RateEvent).where(RateEvent.at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
