"""Telling talk *with* whybot apart from the team's own talk.

Questions to whybot, its replies and slash-command echoes stay in storage (they are a conversation's
context), but a digest or summary made of them would report the bot to itself: "What happened" would
start with someone asking whybot what happened.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.skill import SkillContext
from storage import MessageRecord

# "/whybot digest now" as typed in the playground, or echoed by another client.
_SLASH_ECHO = re.compile(r"^\s*/[a-z][\w-]*\b", re.IGNORECASE)
# "@whybot …" / "whybot: …" (playground, Teams history), and Slack's "<@U123> …".
_NAMED = re.compile(r"(^|\s)@whybot\b|^\s*whybot\s*[:,]", re.IGNORECASE)
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class Split:
    """A window's messages: the team's own, and how many were bot traffic."""

    kept: list[MessageRecord]
    excluded: int


def is_bot_traffic(m: MessageRecord, bot_user_ids: Collection[str] = ()) -> bool:
    """True for whybot's replies and for messages addressed to a bot (mention or slash command)."""
    if m.decision_id is not None:
        return True
    text = m.text
    if _SLASH_ECHO.match(text) or _NAMED.search(text):
        return True
    return any(u in bot_user_ids for u in _SLACK_USER.findall(text))


def without_bot_traffic(messages: Sequence[MessageRecord], bot_user_ids: Collection[str] = ()) -> Split:
    kept = [m for m in messages if not is_bot_traffic(m, bot_user_ids)]
    return Split(kept, len(messages) - len(kept))


def excluded_note(count: int) -> str:
    """The plain-words line a digest's or summary's Why? carries about it."""
    what = "message" if count == 1 else "messages"
    return f"{count} {what} to or from whybot (questions, commands, its replies): they are not team news"


async def bot_user_ids(ctx: SkillContext, tenant_id: str) -> set[str]:
    """The workspace's bot accounts, whose mentions mark a message as addressed to a bot."""
    return {u.external_id for u in await ctx.storage.workspace.list_users(tenant_id) if u.is_bot}
