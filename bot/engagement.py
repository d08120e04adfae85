"""Engagement per week: questions asked, answered and declined, the helpful rate, Why? opens and digest
reads. A tool nobody engages with has failed, however good its answers; this is how an admin finds out.

What each number measures (the same in App Home and `whybot stats`):
- asked: requests that were questions (ask, people, summarize, and free text whybot could not route);
  commands (digest schedules, help) and scheduled digests are not questions.
- answered / declined / failed: the question's outcome. Declined: whybot said it could not find an answer
  (its rationale carries a "declined: …" caveat) or did not understand the request; failed: an error reply.
- helpful rate: 👍 / (👍 + 👎) over whole-reply votes on that week's questions.
- Why? opens: every time someone opened a rationale that week (messages and App Home).
- digest reads: people who opened Why? on, or rated, a digest that week, once per digest. Slack and Teams
  do not tell a bot who read a message, so this is a floor on reads, not a count of them.

Counts shown to a person count only decisions that person may open (Router.decision's rule); the command
line, run by an operator on the database, counts everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from bot.models import ChatEvent, Reader, Reply, RouteKind, Trigger
from bot.visibility import Visibility
from storage import Audience, Storage
from storage.engagement import ANSWERED, DECLINED, FAILED

QUESTION_SKILLS = frozenset({"ask", "people", "summarize"})
MAX_QUESTION = 1000
WEEK = timedelta(days=7)

MaySee = Callable[[Audience], bool]


def everything(_: Audience) -> bool:
    """The operator's view (`whybot stats`): every audience."""
    return True


class Access:
    """Which audiences `reader` may see: the rule Router.decision applies to a single decision, so a count
    never includes a decision its reader could not open (a private answer to someone else, a channel they
    are not in)."""

    def __init__(self, reader: Reader, visibility: Visibility) -> None:
        self.reader = reader
        self.visibility = visibility

    def __call__(self, audience: Audience) -> bool:
        if audience.private and audience.asker != self.reader.user:
            return False
        return self.visibility.may_see_channel(audience.channel_external_id)


def classify(reply: Reply, event: ChatEvent) -> tuple[str | None, str | None]:
    """(question, outcome) to store with a decision; (None, None) when the request was not a question."""
    if event.trigger == Trigger.SCHEDULE:
        return None, None
    rationale = reply.rationale
    asked = (event.args if event.command else event.text).strip()
    if rationale.skill in QUESTION_SKILLS:
        if any(c.startswith("not carried out") for c in rationale.caveats):
            outcome = FAILED
        else:
            outcome = DECLINED if rationale.declined else ANSWERED
    elif rationale.route.kind == RouteKind.FALLBACK and asked:
        outcome = DECLINED  # free text no skill understood: help was shown instead of an answer
    else:
        return None, None
    question = (rationale.conversation.asked if rationale.conversation and rationale.conversation.asked
                else asked) or (rationale.inputs.query or "")
    return question[:MAX_QUESTION], outcome


class WeekStats(BaseModel):
    start: date = Field(description="the Monday the week starts on (00:00 UTC)")
    partial: bool = Field(default=False, description="the current week, counted so far")
    asked: int = 0
    answered: int = 0
    declined: int = 0
    failed: int = 0
    helpful: int = 0
    unhelpful: int = 0
    why_opens: int = 0
    digest_reads: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def helpful_rate(self) -> float | None:
        votes = self.helpful + self.unhelpful
        return round(self.helpful / votes, 3) if votes else None


class Engagement(BaseModel):
    tenant_id: str
    scope: Literal["everything", "visible"] = Field(
        description="everything (the operator's command line) or what the viewer may see (App Home)")
    weeks: list[WeekStats] = Field(default_factory=list, description="oldest first; the last is this week")


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of the week `at` falls in."""
    day = at.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(), tzinfo=UTC)


async def engagement(storage: Storage, tenant_id: str, now: datetime, *, weeks: int = 4,
                     may_see: MaySee = everything) -> Engagement:
    """The last `weeks` weeks (this one included, counted so far), summed over the audiences `may_see`."""
    current = week_start(now)
    rows: list[WeekStats] = []
    for back in range(max(1, weeks) - 1, -1, -1):
        start = current - WEEK * back
        week = WeekStats(start=start.date(), partial=back == 0)
        for group in await storage.engagement.counts(tenant_id, start, start + WEEK):
            if not may_see(group.audience):
                continue
            week.asked += sum(group.outcomes.values())
            week.answered += group.outcomes.get(ANSWERED, 0)
            week.declined += group.outcomes.get(DECLINED, 0)
            week.failed += group.outcomes.get(FAILED, 0)
            week.helpful += group.helpful
            week.unhelpful += group.unhelpful
            week.why_opens += group.why_opens
            week.digest_reads += group.digest_reads
        rows.append(week)
    return Engagement(tenant_id=tenant_id, scope="everything" if may_see is everything else "visible", weeks=rows)
