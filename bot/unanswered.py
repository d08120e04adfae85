"""Why didn't you answer? When whybot decides not to answer something addressed to it, the person who
asked is told why, privately (Surface.notify: a Slack ephemeral, a Teams personal chat, a playground note),
and the decision is stored like any other: a decision row whose skill is "none", private to the asker,
with the reason on its route. `recent()` reads them back for App Home and stats.

Bots and system messages are recorded but told nothing: there is no person to tell.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.models import ChatEvent, Rationale, Reply, Route, RouteKind
from storage import DecisionRecord, Storage

NONE_SKILL = "none"  # the skill of a decision not to answer


class Reason(StrEnum):
    RATE_LIMITED = "rate_limited"
    EXCLUDED = "excluded_channel"
    UNREADABLE = "unreadable"  # a file or image without words: nothing whybot can read
    NOT_A_PERSON = "not_a_person"  # another bot, or a system message


TITLES = {Reason.RATE_LIMITED: "Slow down a little", Reason.EXCLUDED: "I don't read this channel",
          Reason.UNREADABLE: "I can't read that", Reason.NOT_A_PERSON: "Not answered: not a person"}
UNREADABLE_TEXT = ("I can only read text, not files or images. Tell me in words what you'd like to know, "
                   "e.g. `ask when is the release freeze?`")
NOT_A_PERSON_TEXT = "Not answered: the message came from a bot or the system, not a person."


def excluded_text(channel: str, since: datetime | None) -> str:
    when = f" on {since:%d %b %Y}" if since else ""
    return (f"I don't read {channel}: it was excluded from whybot{when} (`settings exclude`), so I keep nothing "
            "said here and don't answer here. Ask me in another channel or in a direct message; whoever may "
            "change this channel's rules can undo it with `settings include`.")


def tells_the_asker(reason: Reason) -> bool:
    return reason != Reason.NOT_A_PERSON


class NotAnswered(BaseModel):
    """One decision not to answer, as App Home and stats read it."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    reason: Reason
    text: str
    channel: str | None
    user: str | None
    at: datetime


def reply_for(event: ChatEvent, reason: Reason, text: str, decision_id: str) -> Reply:
    """The stored form of the decision: private to the asker, never posted (only its text is told)."""
    route = Route(kind=RouteKind.FALLBACK, skill=NONE_SKILL, reason=f"{reason.value}: {text}")
    rationale = Rationale(decision_id=decision_id, skill=NONE_SKILL, route=route,
                          caveats=[f"not answered ({reason.value})"])
    return Reply(title=TITLES[reason], body=text, rationale=rationale, private=True,
                 thread_id=event.thread_id or event.message_id)


def reason_of(record: DecisionRecord) -> Reason | None:
    """The reason a stored "none" decision names, or None for any other decision."""
    if record.skill != NONE_SKILL:
        return None
    code = str((record.rationale.get("route") or {}).get("reason", "")).split(":", 1)[0]
    try:
        return Reason(code)
    except ValueError:
        return None


async def recent(storage: Storage, tenant_id: str, *, since: datetime, until: datetime | None = None,
                 limit: int = 500) -> list[NotAnswered]:
    """The tenant's decisions not to answer in [since, until), newest first."""
    found: list[NotAnswered] = []
    for record in await storage.decisions.by_skill(tenant_id, NONE_SKILL, since=since, until=until, limit=limit):
        reason = reason_of(record)
        if reason is not None:
            found.append(NotAnswered(decision_id=record.id, reason=reason, text=str(record.reply.get("body", "")),
                                     channel=record.channel_external_id, user=record.user_external_id,
                                     at=record.created_at))
    return found
