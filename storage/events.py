"""Exactly-once handling of platform deliveries, shared by every replica through the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete

from storage.db import Database
from storage.tables import ProcessedEvent
from storage.upsert import insert_ignoring_duplicates


class ProcessedEvents:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, key: str) -> bool:
        """True for the first delivery of `key` anywhere; False for every retry or duplicate."""
        async with self.db.session() as s:
            return await insert_ignoring_duplicates(
                s, ProcessedEvent, {"key": key[:255], "received_at": datetime.now(UTC)}, ["key"])

    async def release(self, key: str) -> None:
        """Forget a claim whose handling failed before anything was said, so a retry can do it."""
        async with self.db.session() as s:
            await s.execute(delete(ProcessedEvent).where(ProcessedEvent.key == key[:255]))

    async def purge_older_than(self, cutoff: datetime) -> int:
        async with self.db.session() as s:
            result = await s.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
