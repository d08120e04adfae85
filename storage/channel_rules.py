"""Channel rules: one row per channel that differs from the defaults (read it, answer on mention only,
no digest defaults). bot/rules.py turns these rows into the model the rest of the code reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.tables import ChannelRule
from storage.upsert import upsert

FIELDS = ("excluded", "excluded_by", "excluded_at", "answer_mode", "digest_window_hours", "digest_top_n",
          "digest_cron", "digest_tz", "digest_description")


@dataclass(frozen=True, slots=True)
class ChannelRuleRecord:
    tenant_id: str
    channel_external_id: str
    excluded: bool
    excluded_by: str | None
    excluded_at: datetime | None
    answer_mode: str
    digest_window_hours: int | None
    digest_top_n: int | None
    digest_cron: str | None
    digest_tz: str | None
    digest_description: str | None
    updated_by: str
    updated_at: datetime


def _record(r: ChannelRule) -> ChannelRuleRecord:
    return ChannelRuleRecord(r.tenant_id, r.channel_external_id, r.excluded, r.excluded_by, r.excluded_at,
                             r.answer_mode, r.digest_window_hours, r.digest_top_n, r.digest_cron, r.digest_tz,
                             r.digest_description, r.updated_by, r.updated_at)


class ChannelRuleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, tenant_id: str, channel_external_id: str) -> ChannelRuleRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(ChannelRule).where(ChannelRule.tenant_id == tenant_id,
                                                           ChannelRule.channel_external_id == channel_external_id))
            return _record(row) if row else None

    async def for_tenant(self, tenant_id: str) -> list[ChannelRuleRecord]:
        async with self.db.session() as s:
            rows = await s.scalars(select(ChannelRule).where(ChannelRule.tenant_id == tenant_id)
                                   .order_by(ChannelRule.channel_external_id))
            return [_record(r) for r in rows]

    async def change(self, tenant_id: str, channel_external_id: str, *, by: str, at: datetime,
                     **changes: Any) -> ChannelRuleRecord:
        """Set some fields (the rest keep their stored or default values); one statement, so two people
        changing different rules at once both keep their change."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ValueError(f"not a channel rule: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {"tenant_id": tenant_id, "channel_external_id": channel_external_id,
                                  "excluded": False, "answer_mode": "mention", "updated_by": by, "updated_at": at,
                                  **changes}
        async with self.db.session() as s:
            await upsert(s, ChannelRule, values, conflict=["tenant_id", "channel_external_id"],
                         update=[*changes, "updated_by", "updated_at"])
        found = await self.get(tenant_id, channel_external_id)
        assert found is not None
        return found
