"""Digest subscriptions: which channel gets a digest, on what schedule, in which time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.records import SubscriptionRecord
from storage.tables import ConversationReference, DigestSubscription
from storage.upsert import upsert


def _record(r: DigestSubscription) -> SubscriptionRecord:
    return SubscriptionRecord(r.id, r.tenant_id, r.platform, r.channel_external_id, r.cron, r.tz,
                              r.description, r.top_n, r.created_by, r.active, r.reference, r.created_at,
                              r.updated_at)


class SubscriptionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def subscribe(self, *, tenant_id: str, platform: str, channel_external_id: str, cron: str, tz: str,
                        description: str, top_n: int, created_by: str,
                        reference: dict[str, Any] | None = None, now: datetime | None = None
                        ) -> SubscriptionRecord:
        """One subscription per channel: subscribing again replaces the schedule (from `now`, the caller's
        clock, so no slot before the change is owed)."""
        now = now or datetime.now(UTC)
        values = {"tenant_id": tenant_id, "platform": platform, "channel_external_id": channel_external_id,
                  "cron": cron, "tz": tz, "description": description, "top_n": top_n, "created_by": created_by,
                  "active": True, "reference": reference or {}, "created_at": now, "updated_at": now}
        async with self.db.session() as s:
            await upsert(s, DigestSubscription, values, conflict=["tenant_id", "channel_external_id"],
                         update=["cron", "tz", "description", "top_n", "created_by", "active", "reference",
                                 "updated_at"])
        found = await self.for_channel(tenant_id, channel_external_id)
        assert found is not None
        return found

    async def for_channel(self, tenant_id: str, channel_external_id: str) -> SubscriptionRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(DigestSubscription).where(
                DigestSubscription.tenant_id == tenant_id,
                DigestSubscription.channel_external_id == channel_external_id))
            return _record(row) if row else None

    async def get(self, subscription_id: int) -> SubscriptionRecord | None:
        async with self.db.session() as s:
            row = await s.get(DigestSubscription, subscription_id)
            return _record(row) if row else None

    async def deactivate(self, tenant_id: str, channel_external_id: str, now: datetime | None = None) -> bool:
        async with self.db.session() as s:
            row = await s.scalar(select(DigestSubscription).where(
                DigestSubscription.tenant_id == tenant_id,
                DigestSubscription.channel_external_id == channel_external_id))
            if row is None or not row.active:
                return False
            row.active = False
            row.updated_at = now or datetime.now(UTC)
            return True

    async def set_up_by(self, tenant_id: str, user_external_id: str) -> list[SubscriptionRecord]:
        """The active subscriptions one person set up (or last changed), oldest first."""
        async with self.db.session() as s:
            rows = await s.scalars(select(DigestSubscription).where(
                DigestSubscription.tenant_id == tenant_id, DigestSubscription.created_by == user_external_id,
                DigestSubscription.active.is_(True)).order_by(DigestSubscription.id))
            return [_record(r) for r in rows]

    async def active(self) -> list[SubscriptionRecord]:
        async with self.db.session() as s:
            rows = await s.scalars(select(DigestSubscription).where(DigestSubscription.active.is_(True))
                                   .order_by(DigestSubscription.id))
            return [_record(r) for r in rows]

    # conversation references (where a platform can post later) --------------------------------

    async def save_reference(self, tenant_id: str, channel_external_id: str, reference: dict[str, Any]) -> None:
        async with self.db.session() as s:
            await upsert(s, ConversationReference,
                         {"tenant_id": tenant_id, "channel_external_id": channel_external_id,
                          "reference": reference, "updated_at": datetime.now(UTC)},
                         conflict=["tenant_id", "channel_external_id"], update=["reference", "updated_at"])

    async def reference(self, tenant_id: str, channel_external_id: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            return await s.scalar(select(ConversationReference.reference).where(
                ConversationReference.tenant_id == tenant_id,
                ConversationReference.channel_external_id == channel_external_id))
