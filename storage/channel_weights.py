"""Per-channel digest ranking weights, refitted from people's helpful / not helpful votes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.tables import ChannelWeights, Decision, Feedback
from storage.upsert import upsert


@dataclass(frozen=True, slots=True)
class ChannelWeightsRecord:
    tenant_id: str
    channel_external_id: str
    weights: dict[str, float]
    samples: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ItemVote:
    """One person's vote on one ranked item of a stored reply, with what is needed to rebuild it."""

    tenant_id: str
    channel_external_id: str | None
    decision_id: str
    item_id: str
    helpful: bool
    user_external_id: str
    rationale: dict[str, Any]


class ChannelWeightsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, tenant_id: str, channel_external_id: str) -> ChannelWeightsRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(select(ChannelWeights).where(
                ChannelWeights.tenant_id == tenant_id, ChannelWeights.channel_external_id == channel_external_id))
            if row is None:
                return None
            return ChannelWeightsRecord(row.tenant_id, row.channel_external_id,
                                        {k: float(v) for k, v in row.weights.items()}, row.samples, row.updated_at)

    async def save(self, tenant_id: str, channel_external_id: str, weights: dict[str, float], samples: int) -> None:
        async with self.db.session() as s:
            await upsert(s, ChannelWeights, {"tenant_id": tenant_id, "channel_external_id": channel_external_id,
                                             "weights": weights, "samples": samples,
                                             "updated_at": datetime.now(UTC)},
                         conflict=["tenant_id", "channel_external_id"], update=["weights", "samples", "updated_at"])

    async def item_votes(self, skill: str, item_prefix: str = "") -> list[ItemVote]:
        """Every per-item vote on replies of `skill`, oldest first (the training data for a refit)."""
        async with self.db.session() as s:
            rows = await s.execute(
                select(Decision.tenant_id, Decision.channel_external_id, Decision.id, Feedback.item_id,
                       Feedback.helpful, Feedback.user_external_id, Decision.rationale)
                .join(Decision, Decision.id == Feedback.decision_id)
                .where(Decision.skill == skill, Feedback.item_id != "", Feedback.item_id.startswith(item_prefix))
                .order_by(Feedback.id))
            return [ItemVote(*row) for row in rows.tuples()]
