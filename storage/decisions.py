"""Decisions (a reply plus its rationale and who may read it) and the feedback on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from storage.db import Database
from storage.records import DecisionRecord
from storage.tables import Decision, Feedback
from storage.upsert import upsert


def _record(d: Decision) -> DecisionRecord:
    return DecisionRecord(d.id, d.tenant_id, d.channel_external_id, d.user_external_id, d.private, d.skill,
                          d.rationale, d.reply, d.posted_ref, d.created_at)


class DecisionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, *, decision_id: str, tenant_id: str, channel_external_id: str | None,
                   user_external_id: str | None, private: bool, skill: str, rationale: dict[str, Any],
                   reply: dict[str, Any], created_at: datetime, thread_id: str | None = None,
                   question: str | None = None, outcome: str | None = None) -> None:
        """`question` and `outcome` are set for questions only (engagement counts them: storage/engagement.py)."""
        async with self.db.autocommit() as s:  # one INSERT
            s.add(Decision(id=decision_id, tenant_id=tenant_id, channel_external_id=channel_external_id,
                           user_external_id=user_external_id, private=private, skill=skill,
                           rationale=rationale, reply=reply, created_at=created_at, thread_id=thread_id,
                           question=question, outcome=outcome))

    async def in_thread(self, tenant_id: str, channel_external_id: str, thread_id: str, *, reader: str,
                        limit: int = 3) -> list[DecisionRecord]:
        """The latest decisions answered in one thread, newest first, that `reader` may see: the
        thread's own (same channel), and a private one only when `reader` asked it."""
        async with self.db.session() as s:
            rows = await s.scalars(
                select(Decision)
                .where(Decision.tenant_id == tenant_id, Decision.channel_external_id == channel_external_id,
                       Decision.thread_id == thread_id,
                       or_(Decision.private.is_(False), Decision.user_external_id == reader))
                .order_by(Decision.created_at.desc(), Decision.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    async def get(self, decision_id: str) -> DecisionRecord | None:
        async with self.db.session() as s:
            row = await s.get(Decision, decision_id)
            return _record(row) if row else None

    async def get_many(self, decision_ids: list[str]) -> dict[str, DecisionRecord]:
        if not decision_ids:
            return {}
        async with self.db.session() as s:
            rows = await s.scalars(select(Decision).where(Decision.id.in_(decision_ids)))
            return {r.id: _record(r) for r in rows}

    async def set_posted_ref(self, decision_id: str, ref: dict[str, Any]) -> None:
        """Remember where the reply was posted (message ts, activity id) so it can be updated in place. One
        UPDATE committed by itself (idempotent: a retry that finds its turn posted sets it again)."""
        async with self.db.autocommit() as s:
            await s.execute(update(Decision).where(Decision.id == decision_id).values(posted_ref=ref)
                            .execution_options(synchronize_session=False))

    async def posted_as(self, tenant_id: str, channel_external_id: str, message_id: str) -> str | None:
        """The decision whose reply was posted as `message_id` in that channel, for feedback a platform
        ties to its message rather than to our decision id (Teams' feedback loop). The channel narrows
        the scan to one channel's decisions (ix_decisions_thread); the newest wins if ids ever repeat."""
        if not message_id:
            return None
        async with self.db.session() as s:
            found = await s.scalar(
                select(Decision.id)
                .where(Decision.tenant_id == tenant_id, Decision.channel_external_id == channel_external_id,
                       Decision.posted_ref["activity_id"].as_string() == message_id)
                .order_by(Decision.created_at.desc()).limit(1))
            return str(found) if found is not None else None

    async def by_skill(self, tenant_id: str, skill: str, *, since: datetime, until: datetime | None = None,
                       limit: int = 500) -> list[DecisionRecord]:
        """A tenant's decisions of one skill in [since, until), newest first: e.g. skill "none", the requests
        whybot decided not to answer (bot/unanswered.py reads their reason)."""
        conditions = [Decision.tenant_id == tenant_id, Decision.skill == skill, Decision.created_at >= since]
        if until is not None:
            conditions.append(Decision.created_at < until)
        async with self.db.session() as s:
            rows = await s.scalars(select(Decision).where(*conditions)
                                   .order_by(Decision.created_at.desc(), Decision.id.desc()).limit(limit))
            return [_record(r) for r in rows]

    async def purge_older_than(self, cutoff: datetime) -> int:
        return await self.db.delete_in_batches(Decision, Decision.created_at < cutoff)

    async def record_feedback(self, decision_id: str, user_external_id: str, helpful: bool,
                              item_id: str = "", comment: str = "") -> None:
        """One vote per person per item; voting again changes the vote rather than adding one."""
        async with self.db.session() as s:
            await upsert(s, Feedback,
                         {"decision_id": decision_id, "user_external_id": user_external_id, "item_id": item_id,
                          "helpful": helpful, "comment": comment},
                         conflict=["decision_id", "user_external_id", "item_id"], update=["helpful", "comment"])

    async def feedback(self, decision_id: str) -> list[tuple[str, str, bool]]:
        async with self.db.session() as s:
            rows = await s.execute(select(Feedback.user_external_id, Feedback.item_id, Feedback.helpful)
                                   .where(Feedback.decision_id == decision_id).order_by(Feedback.id))
            return [(u, i, h) for u, i, h in rows.tuples()]
