"""Channel rules in someone's home (issue 14, item 5): the rules of the channels they may see, and changes
made there. A change is `/whybot settings …` run for that channel and person, through the router: the same
skill (skills/settings.py), the same authority from the platform (`Surface.rules_authority`), the same
refusal saying who can. Nothing here decides who may; it only asks.

Only channels the reader may see are listed (bot/visibility.py `may_know_channel`); an excluded one stays
listed for them, so it can be included again. A channel whybot does not know and one the reader may not
see get the same answer, so a forged click learns nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, Field

from bot.gaps import where_asked
from bot.models import ChatEvent, ConversationKind, Reader, Trigger
from bot.router import Router
from bot.rules import AnswerMode, Authority, RulesBook
from bot.turns import HomeChange
from bot.visibility import Visibility
from storage import ChannelRecord

MAX_RULES = 10
NOT_AVAILABLE = "I can't show or change the rules of that channel here. `/whybot settings` in it shows them."
SETTINGS_ARGS = {"exclude": "exclude", "include": "include", "answer_mentions": "answer mentions",
                 "answer_questions": "answer questions"}

AuthorityOf = Callable[[ChatEvent], Awaitable[Authority]]
"""The platform's answer to "may this person change this channel's rules?" (`Surface.rules_authority`)."""


class HomeRule(BaseModel):
    """One channel's rules as its reader sees them at home."""

    channel_id: str
    channel_name: str
    lines: list[str] = Field(description="the rules in plain words (ChannelRules.lines)")
    excluded: bool
    answer: AnswerMode
    who: str = Field(description="who may change them, in words")
    may_change: bool = Field(description="whether this reader may: only then does the home offer controls")


class HomeRules(BaseModel):
    rules: list[HomeRule] = Field(default_factory=list)
    more: int = Field(default=0, description="channels the reader may see but not listed (too many)")


def settings_event(reader: Reader, channel: ChannelRecord, args: str = "") -> ChatEvent:
    """`/whybot settings <args>` as if `reader` typed it in `channel`, answered to them alone."""
    kind = next((k for k in ConversationKind if k.value == channel.kind), ConversationKind.CHANNEL)
    return ChatEvent(platform=reader.platform, tenant=reader.tenant, channel=channel.external_id,
                     conversation_kind=kind, user=reader.user, text=f"settings {args}".strip(),
                     trigger=Trigger.ACTION, command="settings", args=args, private_reply=True,
                     reference={"home": True})


def _listed(channel: ChannelRecord, visibility: Visibility) -> bool:
    return channel.kind == ConversationKind.CHANNEL and visibility.may_know_channel(channel.external_id)


async def rules_section(book: RulesBook, tenant_id: str, reader: Reader, channels: list[ChannelRecord],
                        authority_of: AuthorityOf) -> HomeRules:
    """The rules of the channels `reader` may see: changed ones first, then by name, at most MAX_RULES."""
    visibility = Visibility(reader, tenant_id, channels)
    changed = {r.channel: r for r in await book.for_tenant(tenant_id)}
    shown = sorted((c for c in channels if _listed(c, visibility)),
                   key=lambda c: (c.external_id not in changed, c.name.lower(), c.external_id))
    rules: list[HomeRule] = []
    for channel in shown[:MAX_RULES]:
        current = changed.get(channel.external_id) or await book.get(tenant_id, channel.external_id)
        authority = await authority_of(settings_event(reader, channel))
        rules.append(HomeRule(channel_id=channel.external_id, channel_name=where_asked(channel),
                              lines=current.lines(), excluded=current.excluded, answer=current.answer,
                              who=authority.who, may_change=authority.may_change))
    return HomeRules(rules=rules, more=max(0, len(shown) - MAX_RULES))


async def change_rule(router: Router, tenant_id: str, reader: Reader, change: HomeChange,
                      channels: list[ChannelRecord], authority_of: AuthorityOf) -> str:
    """Run the settings skill for the channel and person; returns what to tell them (done, or who can)."""
    args = SETTINGS_ARGS.get(change.op)
    channel = next((c for c in channels if c.external_id == change.channel), None)
    if args is None or channel is None or not _listed(channel, Visibility(reader, tenant_id, channels)):
        return NOT_AVAILABLE
    event = settings_event(reader, channel, args)
    reply = await router.answer(event, tenant_id, authority=await authority_of(event))
    name = where_asked(channel)
    title = reply.title if name in reply.title else f"{name}: {reply.title}"
    return f"**{title}.** {reply.body}".strip()
