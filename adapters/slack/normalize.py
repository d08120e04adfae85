"""Slack payloads -> the core's models. Nothing Slack-shaped gets past this module and render.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.importers.slack_text import message_text
from bot.models import ChatEvent, ConversationKind, Platform, Trigger
from bot.questions import asks_the_channel
from storage import ChannelRecord, NewMessage

SLACKBOT = "USLACKBOT"

_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")

# message subtypes that are somebody saying something (stored as history); the rest are noise
# (joins, topic changes, pins) or handled on their own (message_changed, message_deleted).
SPOKEN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "bot_message", "me_message"})
MAX_COUNT = 2**31 - 1  # counts are INTEGER columns; a bigger number from a payload must not reach the database


class Unreadable(ValueError):
    """A signed payload whose identifying fields have the wrong types: skipped (logged), never half-stored."""


def text_field(obj: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """`obj[key]` if it is a string; None if absent; Unreadable if it is anything else (or required and empty).

    Ids and timestamps are strings in every Slack payload; `str()` of a number or an object would store
    an id that matches nothing."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise Unreadable(f"`{key}` is missing")
        return None
    if not isinstance(value, str):
        raise Unreadable(f"`{key}` is a {type(value).__name__}, not a string")
    return value


def count(value: Any) -> int:
    """A count from a payload: an int within an INTEGER column, else 0 (a decoration, not worth a message)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return min(max(value, 0), MAX_COUNT)


def ts_to_datetime(ts: str | float | None) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts or 0), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.fromtimestamp(0, UTC)


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    """The text without the mention(s) of the bot, and without the `:`/`,` people type after it."""
    if not bot_user_id:
        return text.strip()
    pattern = re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>\s*[:,]?\s*")
    return re.sub(r"[ \t]{2,}", " ", pattern.sub("", text)).strip()


def kind_of(channel: ChannelRecord | None, channel_id: str, channel_type: str | None = None) -> ConversationKind:
    """Conversation kind from what we stored (conversations.info), else from the event's hints."""
    if channel is not None:
        if channel.kind == "dm":
            return ConversationKind.DM
        if channel.kind == "group":
            return ConversationKind.GROUP
        return ConversationKind.CHANNEL
    if channel_type == "im" or channel_id.startswith("D"):
        return ConversationKind.DM
    if channel_type == "mpim":
        return ConversationKind.GROUP
    return ConversationKind.CHANNEL


def reference(team_id: str, channel: str, *, thread_ts: str | None = None, ts: str | None = None,
              response_url: str | None = None, user: str | None = None) -> dict[str, Any]:
    """What we need to answer later; stored with digest subscriptions too, so keep it small and JSON."""
    ref: dict[str, Any] = {"team_id": team_id, "channel": channel}
    for key, value in (("thread_ts", thread_ts), ("ts", ts), ("response_url", response_url), ("user", user)):
        if value:
            ref[key] = value
    return ref


def mention_event(body: dict[str, Any], event: dict[str, Any], *, team_id: str, bot_user_id: str | None,
                  kind: ConversationKind) -> ChatEvent:
    """An @mention, answered in the mention's thread."""
    ts = text_field(event, "ts", required=True) or ""
    channel = text_field(event, "channel", required=True) or ""
    user = text_field(event, "user", required=True) or ""
    thread = text_field(event, "thread_ts")
    return ChatEvent(
        platform=Platform.SLACK, tenant=team_id, channel=channel, conversation_kind=kind, user=user,
        text=strip_bot_mention(text_field(event, "text") or "", bot_user_id),
        thread_id=thread, message_id=ts, trigger=Trigger.MENTION,
        event_id=body.get("event_id"), received_at=ts_to_datetime(ts),
        reference=reference(team_id, channel, thread_ts=thread or ts, ts=ts, user=user),
    )


def direct_message_event(body: dict[str, Any], event: dict[str, Any], *, team_id: str,
                         bot_user_id: str | None) -> ChatEvent:
    """A message in the bot's DM: answered there, in a thread only if the person wrote in one."""
    ts = text_field(event, "ts", required=True) or ""
    channel = text_field(event, "channel", required=True) or ""
    user = text_field(event, "user", required=True) or ""
    thread = text_field(event, "thread_ts")
    return ChatEvent(
        platform=Platform.SLACK, tenant=team_id, channel=channel, conversation_kind=ConversationKind.DM,
        user=user, text=strip_bot_mention(text_field(event, "text") or "", bot_user_id),
        thread_id=thread, message_id=ts, trigger=Trigger.MESSAGE, private_reply=True,
        event_id=body.get("event_id"),
        reference=reference(team_id, channel, thread_ts=thread, ts=ts, user=user),
    )


def is_dm(event: dict[str, Any]) -> bool:
    channel = event.get("channel")
    return event.get("channel_type") == "im" or (isinstance(channel, str) and channel.startswith("D"))


def answerable_dm(event: dict[str, Any], *, bot_user_id: str | None = None) -> bool:
    """A DM the bot should answer: a person typing to it. Not Slackbot's notices (`USLACKBOT`, no
    `bot_id`), not other bots, not the bot itself, and no subtype at all (a `file_share` is stored,
    never answered: the bot cannot read the file, so a reply would answer only the caption)."""
    user = event.get("user")
    return (is_dm(event) and event.get("subtype") is None and isinstance(user, str) and bool(user)
            and user not in (SLACKBOT, bot_user_id) and not event.get("bot_id") and not event.get("bot_profile"))


def thread_follow_up(event: dict[str, Any], *, bot_user_id: str | None = None) -> bool:
    """A plain message in a channel thread (no mention: that arrives as `app_mention`) from a person:
    answered only when whybot answered in that thread, which the worker checks."""
    text = event.get("text")
    mentioned = bool(bot_user_id) and isinstance(text, str) and f"<@{bot_user_id}>" in text
    return (not is_dm(event) and bool(event.get("thread_ts")) and event.get("thread_ts") != event.get("ts")
            and event.get("subtype") is None and isinstance(event.get("user"), str) and bool(event.get("user"))
            and event.get("user") not in (SLACKBOT, bot_user_id) and not event.get("bot_id")
            and not event.get("bot_profile") and not mentioned)


def by_a_bot(event: dict[str, Any]) -> bool:
    """Written by an app or Slackbot rather than a person."""
    return (bool(event.get("bot_id")) or bool(event.get("bot_profile")) or event.get("subtype") == "bot_message"
            or event.get("user") == SLACKBOT)


def _person(event: dict[str, Any], bot_user_id: str | None) -> bool:
    user = event.get("user")
    return isinstance(user, str) and bool(user) and user != bot_user_id and not by_a_bot(event)


def unreadable_dm(event: dict[str, Any], *, bot_user_id: str | None = None) -> bool:
    """A file (or image) a person sent the bot in its DM: stored, but nothing the bot can read to answer."""
    return is_dm(event) and event.get("subtype") == "file_share" and _person(event, bot_user_id)


def bot_dm(event: dict[str, Any], *, bot_user_id: str | None = None, bot_id: str | None = None) -> bool:
    """Another app writing in the bot's DM: not answered (recorded as such). Not whybot's own posts, and not
    Slackbot's notices ("you were removed from #x"): those tell the bot something, they ask nothing."""
    user = event.get("user") or event.get("bot_id")
    return (is_dm(event) and event.get("subtype") in (None, "bot_message") and isinstance(user, str) and bool(user)
            and user not in (bot_user_id, SLACKBOT) and (not bot_id or event.get("bot_id") != bot_id)
            and by_a_bot(event))


def non_person_event(body: dict[str, Any], event: dict[str, Any], *, team_id: str, bot_user_id: str | None,
                     kind: ConversationKind) -> ChatEvent:
    """A bot's or Slackbot's message addressed to whybot, as an event (never answered: it names no person)."""
    author = text_field(event, "user") or text_field(event, "bot_id") or SLACKBOT
    return mention_event(body, {**event, "user": author}, team_id=team_id, bot_user_id=bot_user_id, kind=kind)


def unasked_question(event: dict[str, Any], *, bot_user_id: str | None = None) -> bool:
    """A person's top-level message in a channel (public or private, not a DM or group DM) that does not
    mention whybot but asks the channel a real question (bot/questions.py): answered only where the
    channel's rule is to answer questions, which the worker checks."""
    text = event.get("text")
    channel = event.get("channel")
    kind = event.get("channel_type")
    in_channel = kind in ("channel", "group") or (kind is None and isinstance(channel, str)
                                                   and channel[:1] in ("C", "G"))
    top_level = not event.get("thread_ts") or event.get("thread_ts") == event.get("ts")
    mentioned = bool(bot_user_id) and isinstance(text, str) and f"<@{bot_user_id}>" in text
    return (in_channel and top_level and event.get("subtype") is None and _person(event, bot_user_id)
            and isinstance(text, str) and not mentioned and asks_the_channel(text))


def thread_message_event(body: dict[str, Any], event: dict[str, Any], *, team_id: str, bot_user_id: str | None,
                         kind: ConversationKind) -> ChatEvent:
    """A plain message in a channel thread, as a follow-up answered in that thread for everyone there."""
    ts = str(event.get("ts") or "")
    chat = mention_event(body, event, team_id=team_id, bot_user_id=bot_user_id, kind=kind)
    return chat.model_copy(update={"trigger": Trigger.MESSAGE, "message_id": ts})


class MessageEdit(BaseModel):
    """What a `message_changed` event changed: which message, its new text, and when."""

    model_config = ConfigDict(frozen=True)

    ts: str
    text: str
    edited_at: datetime


def edit_of(event: dict[str, Any]) -> MessageEdit | None:
    """The edit in a `message_changed` event, or None when it names no message.

    Some edits (app unfurls, attachment-only updates) arrive with a `message` that has no `ts`; the
    edited message is then `previous_message.ts`. The new text is rendered like any stored message
    (text, blocks, attachments)."""
    new = event.get("message")
    new = new if isinstance(new, dict) else {}
    previous = event.get("previous_message")
    previous = previous if isinstance(previous, dict) else {}
    ts = next((t for t in (new.get("ts"), previous.get("ts")) if isinstance(t, str) and t), None)
    if ts is None:
        return None
    edited = new.get("edited")
    stamp = (edited.get("ts") if isinstance(edited, dict) else None) or event.get("event_ts") or event.get("ts")
    return MessageEdit(ts=ts, text=message_text(new), edited_at=ts_to_datetime(stamp))


def command_event(command: dict[str, Any], *, kind: ConversationKind, private: bool = True) -> ChatEvent:
    """`/whybot ...`: the whole text goes to the router, which knows the command words."""
    team_id = str(command.get("team_id") or "")
    channel = str(command.get("channel_id") or "")
    return ChatEvent(
        platform=Platform.SLACK, tenant=team_id, channel=channel, conversation_kind=kind,
        user=str(command.get("user_id") or ""), text=str(command.get("text") or "").strip(),
        trigger=Trigger.COMMAND, private_reply=private,
        event_id=f"cmd:{command.get('trigger_id')}" if command.get("trigger_id") else None,
        reference=reference(team_id, channel, response_url=command.get("response_url"),
                            user=command.get("user_id")),
    )


def new_message(event: dict[str, Any], *, bot_user_id: str | None = None) -> NewMessage | None:
    """A history message to store, or None for subtypes that are not somebody speaking (Unreadable for a
    message whose ts, channel, user or thread has the wrong type)."""
    subtype = event.get("subtype")
    if not isinstance(subtype, str | None) or subtype not in SPOKEN_SUBTYPES:
        return None
    if not event.get("ts") or not event.get("channel"):
        return None
    return message_from_api(event, text_field(event, "channel", required=True) or "", bot_user_id=bot_user_id)


def message_from_api(m: dict[str, Any], channel: str, *, bot_user_id: str | None = None,
                     permalink: str | None = None) -> NewMessage:
    """The same shape comes from events and from conversations.history / replies. The stored text is the
    plain rendering of `text`, `blocks` and `attachments` (app notifications often have only the latter)."""
    text = message_text(m)
    ts = text_field(m, "ts", required=True) or ""
    thread_ts = text_field(m, "thread_ts")
    author = text_field(m, "user") or text_field(m, "bot_id")
    edited_obj = m.get("edited")
    edited = edited_obj.get("ts") if isinstance(edited_obj, dict) else None  # a decoration: ignored if odd
    reactions = m.get("reactions")
    files = m.get("files")
    mentions = [u for u in _USER_MENTION.findall(text_field(m, "text") or "") if u != bot_user_id]
    return NewMessage(
        channel_external_id=channel, external_id=ts, text=text, created_at=ts_to_datetime(ts),
        user_external_id=author,
        thread_external_id=thread_ts if thread_ts and thread_ts != ts else None,
        reaction_count=count(sum(count(r.get("count")) for r in reactions if isinstance(r, dict))
                             if isinstance(reactions, list) else 0),
        reply_count=count(m.get("reply_count")), mention_count=len(mentions),
        file_count=len(files) if isinstance(files, list) else 0, permalink=permalink,
        is_bot=bool(m.get("bot_id")) or m.get("subtype") == "bot_message",
        edited_at=ts_to_datetime(edited) if isinstance(edited, str | int | float) and edited else None,
    )
