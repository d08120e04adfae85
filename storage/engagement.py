"""Engagement: Why? opens, and the questions, votes and digest interactions counted per week.

Counts come back grouped by *audience* (the channel a decision was shown in, whether it was private, and
for a private one its asker), never as one total: who may see a decision depends on that audience, so
the caller (bot/engagement.py) keeps only the groups its reader may see before adding them up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, or_, select, union

from storage.db import Database
from storage.tables import Decision, DecisionOpen, Feedback
from storage.upsert import insert_ignoring_duplicates

ANSWERED, DECLINED, FAILED = "answered", "declined", "failed"
OUTCOMES = (ANSWERED, DECLINED, FAILED)
DIGEST_SKILL = "digest"
MAX_GAPS = 500  # candidates for one clustering run; a workspace with more declines a week has other problems


@dataclass(frozen=True, slots=True)
class Audience:
    """Who could see a decision: its channel, and for a private one (ephemeral, DM) only its asker."""

    channel_external_id: str | None
    private: bool
    asker: str | None = None


@dataclass(slots=True)
class AudienceCounts:
    """One audience's numbers for one window."""

    audience: Audience
    outcomes: dict[str, int] = field(default_factory=dict)
    helpful: int = 0
    unhelpful: int = 0
    why_opens: int = 0
    digest_reads: int = 0


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    decision_id: str
    tenant_id: str
    channel_external_id: str | None
    user_external_id: str | None
    private: bool
    skill: str
    question: str
    outcome: str
    created_at: datetime
    helpful: int = 0
    unhelpful: int = 0

    @property
    def audience(self) -> Audience:
        return Audience(self.channel_external_id, self.private, self.user_external_id if self.private else None)


def _asker() -> ColumnElement[str | None]:
    return case((Decision.private.is_(True), Decision.user_external_id), else_=literal(None)).label("asker")


def _votes() -> Subquery:
    """Whole-reply votes per decision (a digest item's vote is about ranking, not about the answer)."""
    return (select(Feedback.decision_id,
                   func.sum(case((Feedback.helpful.is_(True), 1), else_=0)).label("up"),
                   func.sum(case((Feedback.helpful.is_(False), 1), else_=0)).label("down"))
            .where(Feedback.item_id == "").group_by(Feedback.decision_id).subquery())


class EngagementStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_open(self, key: str, decision_id: str, tenant_id: str, user_external_id: str, *,
                          admin: bool, at: datetime) -> bool:
        """One Why? opened; False when the turn `key` was already counted (a retried turn)."""
        async with self.db.session() as s:
            return await insert_ignoring_duplicates(
                s, DecisionOpen, {"key": key, "decision_id": decision_id, "tenant_id": tenant_id,
                                  "user_external_id": user_external_id, "admin": admin, "opened_at": at},
                conflict=["key"])

    async def opens(self, decision_id: str) -> list[tuple[str, bool]]:
        async with self.db.session() as s:
            rows = await s.execute(select(DecisionOpen.user_external_id, DecisionOpen.admin)
                                   .where(DecisionOpen.decision_id == decision_id).order_by(DecisionOpen.id))
            return [(u, a) for u, a in rows.tuples()]

    async def counts(self, tenant_id: str, start: datetime, end: datetime) -> list[AudienceCounts]:
        """Per audience, for [start, end): questions asked by outcome and the whole-reply votes on them (by
        when the question was asked), Why? opens (by when they were opened), and digest reads: each person
        who opened Why? on or rated a digest, once per digest (by when they did)."""
        groups: dict[Audience, AudienceCounts] = {}

        def at(channel: str | None, private: bool, asker: str | None) -> AudienceCounts:
            key = Audience(channel, bool(private), asker if private else None)
            return groups.setdefault(key, AudienceCounts(key))

        asker = _asker()
        audience = (Decision.channel_external_id, Decision.private, asker)
        asked = and_(Decision.tenant_id == tenant_id, Decision.outcome.is_not(None),
                     Decision.created_at >= start, Decision.created_at < end)
        async with self.db.session() as s:
            rows = await s.execute(select(*audience, Decision.outcome, func.count())
                                   .where(asked).group_by(*audience, Decision.outcome))
            for channel, private, who, outcome, n in rows.tuples():
                at(channel, private, who).outcomes[str(outcome)] = int(n)
            votes = _votes()
            voted = await s.execute(select(*audience, func.sum(votes.c.up), func.sum(votes.c.down))
                                    .join(votes, votes.c.decision_id == Decision.id)
                                    .where(asked).group_by(*audience))
            for channel, private, who, up, down in voted.tuples():
                counts = at(channel, private, who)
                counts.helpful, counts.unhelpful = int(up or 0), int(down or 0)
            opened = await s.execute(select(*audience, func.count())
                                     .select_from(DecisionOpen)
                                     .join(Decision, Decision.id == DecisionOpen.decision_id)
                                     .where(DecisionOpen.tenant_id == tenant_id, DecisionOpen.opened_at >= start,
                                            DecisionOpen.opened_at < end)
                                     .group_by(*audience))
            for channel, private, who, n in opened.tuples():
                at(channel, private, who).why_opens = int(n)
            touched = union(
                select(DecisionOpen.decision_id, DecisionOpen.user_external_id)
                .where(DecisionOpen.tenant_id == tenant_id, DecisionOpen.opened_at >= start,
                       DecisionOpen.opened_at < end),
                select(Feedback.decision_id, Feedback.user_external_id)
                .join(Decision, Decision.id == Feedback.decision_id)
                .where(Decision.tenant_id == tenant_id, Feedback.created_at >= start, Feedback.created_at < end),
            ).subquery()
            read = await s.execute(select(*audience, func.count())
                                   .select_from(touched).join(Decision, Decision.id == touched.c.decision_id)
                                   .where(Decision.skill == DIGEST_SKILL).group_by(*audience))
            for channel, private, who, n in read.tuples():
                at(channel, private, who).digest_reads = int(n)
        return list(groups.values())

    async def recent_questions(self, tenant_id: str, user_external_id: str, *, limit: int = 10
                               ) -> list[QuestionRecord]:
        """What one person asked, newest first."""
        return await self._questions(and_(Decision.tenant_id == tenant_id,
                                          Decision.user_external_id == user_external_id), limit)

    async def gap_candidates(self, tenant_id: str, start: datetime, end: datetime) -> list[QuestionRecord]:
        """Questions asked in [start, end) that were declined or got a 👎, newest first."""
        votes = _votes()
        return await self._questions(and_(Decision.tenant_id == tenant_id, Decision.created_at >= start,
                                          Decision.created_at < end,
                                          or_(Decision.outcome == DECLINED, votes.c.down > 0)), MAX_GAPS, votes)

    async def _questions(self, where: ColumnElement[bool], limit: int,
                         votes: Subquery | None = None) -> list[QuestionRecord]:
        sub = votes if votes is not None else _votes()
        up, down = sub.c.up, sub.c.down
        query = (select(Decision.id, Decision.tenant_id, Decision.channel_external_id, Decision.user_external_id,
                        Decision.private, Decision.skill, Decision.question, Decision.outcome, Decision.created_at,
                        up, down)
                 .outerjoin(sub, sub.c.decision_id == Decision.id)
                 .where(where, Decision.outcome.is_not(None))
                 .order_by(Decision.created_at.desc(), Decision.id.desc()).limit(limit))
        async with self.db.session() as s:
            rows = await s.execute(query)
            return [QuestionRecord(d, t, c, u, bool(p), sk, q or "", str(o), at, int(h or 0), int(n or 0))
                    for d, t, c, u, p, sk, q, o, at, h, n in rows.tuples()]
