"""Bot Framework activity -> our platform-neutral shapes (ChatEvent, NewMessage).

Teams specifics handled here and nowhere else:
- the tenant is `channelData.tenant.id` (botbuilder-schema drops `conversation.tenantId`; `app.py` copies
  it into channelData when only the conversation carries it, e.g. in group chats on some clients);
- a channel conversation id is `19:...@thread.tacv2;messageid=<root>`: the part before `;` is the channel,
  the `messageid` is the thread root;
- the bot mention is removed by the `<at>` tags that name the bot (mention entities may lack the
  `text` botbuilder's `remove_recipient_mention` needs); other people's mentions keep their names;
- a conversation without `conversationType` is classified from `isGroup` and its id (kind_of);
- the emulator sends neither tenant nor conversation type: it is a personal chat in tenant `emulator`;
- a click on Teams' own 👍/👎 is a `message/submitAction` invoke whose value is `{"actionName": "feedback",
  "actionValue": {"reaction": "like" | "dislike", "feedback": "{\"feedbackText\": \"…\"}"}}` and whose
  `replyToId` is the bot's message (native_feedback).
"""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationAccount, ConversationReference
from pydantic import BaseModel, ConfigDict, ValidationError

from bot import safe_json
from bot.models import ChatEvent, ConversationKind, Platform, Reader, Trigger
from bot.questions import asks_the_channel
from storage import NewMessage

log = logging.getLogger(__name__)

EMULATOR_TENANT = "emulator"
COMMAND_WORDS = frozenset({"ask", "summarize", "digest", "help"})
_AT_TAG = re.compile(r"<at[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_BLOCK_TAG = re.compile(r"</?(p|div|br)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_CHANNEL_THREAD = re.compile(r"^19:[^;]*@thread\.(tacv2|skype)$", re.IGNORECASE)
_INVOCATION = re.compile(r"^/?whybot\b[:,]?\s*", re.IGNORECASE)

KINDS = {"channel": ConversationKind.CHANNEL, "groupchat": ConversationKind.GROUP,
         "personal": ConversationKind.DM}


class Conversation(BaseModel):
    """Where an activity happened, in our terms."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    channel: str = ""
    channel_name: str | None = None
    kind: ConversationKind
    thread_id: str | None = None

    @property
    def private(self) -> bool:
        return self.kind == ConversationKind.DM


class TeamsMessage(BaseModel):
    """A normalized incoming message: who said what where, and whether it was said to us."""

    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    message_id: str
    user: str
    user_name: str = ""
    text: str
    mentioned: bool
    created_at: datetime
    reference: dict[str, Any]
    team_group_id: str | None = None

    @property
    def addressed_to_bot(self) -> bool:
        """Channels and group chats: only an @mention is for us. Personal chat: everything is."""
        return self.mentioned or self.conversation.kind == ConversationKind.DM


def _channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def tenant_of(activity: Activity) -> str:
    tenant = _channel_data(activity).get("tenant")
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"]:
        return str(tenant["id"])
    return EMULATOR_TENANT if activity.channel_id == "emulator" else (activity.channel_id or EMULATOR_TENANT)


def kind_of(activity: Activity) -> ConversationKind:
    """Channel, group chat or personal chat. `conversationType` when Teams sends it; without it (some
    clients and proactive paths omit it) a group conversation whose id is a channel thread
    (`19:…@thread.tacv2` / `@thread.skype`) or whose channelData names a channel is a channel, any other
    group conversation a group chat, and only the rest personal: guessing personal would answer every
    message in a channel without a mention."""
    conv = activity.conversation
    if conv is None:
        return ConversationKind.DM
    if isinstance(conv.conversation_type, str) and conv.conversation_type:
        return KINDS.get(conv.conversation_type.lower(), ConversationKind.DM)
    conv_id = (conv.id or "").split(";", 1)[0]
    if isinstance(_channel_data(activity).get("channel"), dict) or _CHANNEL_THREAD.search(conv_id):
        return ConversationKind.CHANNEL
    if conv.is_group or conv_id.startswith("19:"):
        return ConversationKind.GROUP
    return ConversationKind.DM


def conversation_of(activity: Activity) -> Conversation:
    conv = activity.conversation
    conv_id = conv.id if conv and conv.id else ""
    kind = kind_of(activity)
    channel_name: str | None = None
    thread_id: str | None = None
    channel = conv_id
    if kind == ConversationKind.CHANNEL:
        base, _, rest = conv_id.partition(";")
        data_channel = _channel_data(activity).get("channel")
        if isinstance(data_channel, dict):
            channel = str(data_channel.get("id") or base)
            channel_name = data_channel.get("name") if isinstance(data_channel.get("name"), str) else None
        else:
            channel = base
        if rest.startswith("messageid="):
            thread_id = rest.removeprefix("messageid=") or None
            if thread_id is not None and thread_id == activity.id:
                # A new post: Teams points the conversation at the post itself. That is no thread yet,
                # so `summarize` there means the channel, not a one-message "thread".
                thread_id = None
    elif conv and isinstance(conv.name, str) and conv.name:
        channel_name = conv.name
    return Conversation(tenant=tenant_of(activity), channel=channel, channel_name=channel_name, kind=kind,
                        thread_id=thread_id)


def team_of(activity: Activity) -> str | None:
    """The team a channel belongs to: a standard channel is readable by that team, not the tenant."""
    team = _channel_data(activity).get("team")
    if isinstance(team, dict) and isinstance(team.get("id"), str) and team["id"]:
        return str(team["id"])
    return None


def private_channel(activity: Activity) -> bool:
    """Private and shared Teams channels: their content is for their members, not the whole team."""
    channel = _channel_data(activity).get("channel")
    if not isinstance(channel, dict):
        return False
    kind = channel.get("membershipType") or channel.get("type")
    return isinstance(kind, str) and kind.lower() in ("private", "shared")


def bot_mentioned(activity: Activity) -> bool:
    bot_id = activity.recipient.id if activity.recipient else None
    if not bot_id:
        return False
    for mention in TurnContext.get_mentions(activity):
        mentioned = (mention.additional_properties or {}).get("mentioned")
        if isinstance(mentioned, dict) and mentioned.get("id") == bot_id:
            return True
    return False


def clean_text(text: str) -> str:
    """Teams message HTML -> plain text: other people's mentions keep their names, tags go."""
    text = _AT_TAG.sub(r"\1", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line).strip()


def bot_mention_names(activity: Activity) -> set[str]:
    """The names the bot is @mentioned by: each mention entity's `mentioned.name` (and `text`, stripped
    of its tags) whose id is the bot's, plus the recipient's own name."""
    bot_id = activity.recipient.id if activity.recipient else None
    names = {activity.recipient.name} if activity.recipient and activity.recipient.name else set()
    for mention in TurnContext.get_mentions(activity) if bot_id else []:
        props = mention.additional_properties or {}
        mentioned = props.get("mentioned")
        if not isinstance(mentioned, dict) or mentioned.get("id") != bot_id:
            continue
        if isinstance(mentioned.get("name"), str):
            names.add(mentioned["name"])
        if isinstance(props.get("text"), str):
            names.add(_AT_TAG.sub(r"\1", props["text"]))
    return {html.unescape(n).strip() for n in names if n and n.strip()}


def strip_bot_mention(text: str, names: set[str]) -> str:
    """`text` without the `<at>…</at>` tags that name the bot (any attributes, any case, entities decoded)."""
    def keep(match: re.Match[str]) -> str:
        return "" if html.unescape(match.group(1)).strip() in names else match.group(0)

    return _AT_TAG.sub(keep, text)


def text_without_bot(activity: Activity) -> str:
    """The text with our own @mention removed. By the `<at>` tags naming the bot rather than botbuilder's
    `remove_recipient_mention`, which needs each entity's `text` and leaves the name behind without it."""
    text = activity.text if isinstance(activity.text, str) else ""
    if not bot_mentioned(activity):
        return clean_text(text)  # an `<at>` with our name but no entity naming our id is not a mention
    return clean_text(strip_bot_mention(text, bot_mention_names(activity)))


def is_undelete(activity: Activity) -> bool:
    """A `messageUpdate` whose channelData.eventType is `undeleteMessage`: a deleted message restored,
    carrying its text. It must be un-deleted, not merely edited (the edit alone leaves it deleted)."""
    return activity.type == "messageUpdate" and _channel_data(activity).get("eventType") == "undeleteMessage"


def parse_timestamp(activity: Activity) -> datetime:
    stamp = activity.timestamp
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return datetime.now(UTC)


def reference_of(activity: Activity, conversation: Conversation) -> dict[str, Any]:
    """The conversation reference as JSON, pointed at the channel itself (not a thread) so that a
    proactive post starts a new thread rather than replying to whatever was said last."""
    ref: ConversationReference = TurnContext.get_conversation_reference(activity)
    ref.activity_id = None
    if conversation.kind == ConversationKind.CHANNEL and ref.conversation is not None:
        ref.conversation = ConversationAccount(
            id=conversation.channel, conversation_type=ref.conversation.conversation_type,
            is_group=ref.conversation.is_group, name=ref.conversation.name)
    data: dict[str, Any] = ref.serialize()
    return data


def message_of(activity: Activity) -> TeamsMessage | None:
    """None for messages without a sender or anything to say (e.g. a bare card submit)."""
    if not activity.from_property or not activity.from_property.id:
        return None
    conversation = conversation_of(activity)
    text = text_without_bot(activity)
    if not text and not bot_mentioned(activity):
        return None
    team = _channel_data(activity).get("team")
    group = team.get("aadGroupId") if isinstance(team, dict) and isinstance(team.get("aadGroupId"), str) else None
    return TeamsMessage(
        conversation=conversation, message_id=activity.id or "", user=activity.from_property.id,
        user_name=activity.from_property.name or "", text=text, mentioned=bot_mentioned(activity),
        created_at=parse_timestamp(activity), reference=reference_of(activity, conversation),
        team_group_id=group)


_NOT_FILES = ("text/html", "text/plain", "application/vnd.microsoft.card.")  # the message body, our own cards


def carries_files(activity: Activity) -> bool:
    """Attachments that are files or images (Teams also attaches the message's own HTML body)."""
    return any(isinstance(a.content_type, str) and not a.content_type.startswith(_NOT_FILES)
               for a in activity.attachments or [])


def mentions_someone(activity: Activity) -> bool:
    """Whether the message @mentions anyone at all (a person, a tag, the bot)."""
    return bool(TurnContext.get_mentions(activity))


def unasked_question(activity: Activity, message: TeamsMessage) -> bool:
    """A new post (not a thread reply) in a team channel, mentioning no one, that asks the channel a real
    question (bot/questions.py): answered only where the channel's rule is to answer questions."""
    conv = message.conversation
    return (conv.kind == ConversationKind.CHANNEL and conv.thread_id is None and not message.mentioned
            and not mentions_someone(activity) and asks_the_channel(message.text))


def deep_link(message: TeamsMessage) -> str | None:
    """Teams' link to a message (teams.microsoft.com/l/message/…), so citations open the message itself.
    Channel messages name their thread root (`parentMessageId`) and, when Teams sent it, the team's group."""
    conv = message.conversation
    if not message.message_id or not conv.channel:
        return None
    params: dict[str, str] = {"tenantId": conv.tenant, "createdTime": message.message_id}
    if conv.kind == ConversationKind.CHANNEL:
        params["parentMessageId"] = conv.thread_id or message.message_id
        if message.team_group_id:
            params["groupId"] = message.team_group_id
    else:
        params["context"] = '{"contextType":"chat"}'
    return f"https://teams.microsoft.com/l/message/{quote(conv.channel, safe='')}/{message.message_id}?" \
           f"{urlencode(params)}"


def split_command(text: str) -> tuple[str | None, str]:
    """`ask what is x` -> ("ask", "what is x"): the `/whybot` grammar, with or without `/whybot`."""
    text = _INVOCATION.sub("", text.strip(), count=1)
    first, _, rest = text.partition(" ")
    if first.lower() in COMMAND_WORDS:
        return first.lower(), rest.strip()
    return None, text


def chat_event(message: TeamsMessage, *, event_id: str | None = None) -> ChatEvent:
    command, args = split_command(message.text)
    conv = message.conversation
    if command is not None:
        trigger = Trigger.COMMAND
    else:
        trigger = Trigger.MESSAGE if conv.kind == ConversationKind.DM else Trigger.MENTION
    return ChatEvent(
        platform=Platform.TEAMS, tenant=conv.tenant, channel=conv.channel, conversation_kind=conv.kind,
        user=message.user, text=args if command else message.text, thread_id=conv.thread_id,
        message_id=message.message_id, trigger=trigger, command=command, args=args if command else "",
        private_reply=conv.private, event_id=event_id, received_at=message.created_at,
        reference=message.reference)


def command_event(activity: Activity, command_text: str, *, event_id: str | None = None) -> ChatEvent | None:
    """A follow-up button (Action.Submit carrying a command) as if the person had typed it."""
    if not activity.from_property or not activity.from_property.id:
        return None
    conv = conversation_of(activity)
    message = TeamsMessage(conversation=conv, message_id=activity.id or "", user=activity.from_property.id,
                           text=command_text, mentioned=True, created_at=parse_timestamp(activity),
                           reference=reference_of(activity, conv))
    return chat_event(message, event_id=event_id)


def history_item(message: TeamsMessage) -> NewMessage:
    conv = message.conversation
    thread = conv.thread_id if conv.thread_id and conv.thread_id != message.message_id else None
    return NewMessage(channel_external_id=conv.channel, external_id=message.message_id, text=message.text,
                      created_at=message.created_at, user_external_id=message.user, thread_external_id=thread,
                      permalink=deep_link(message))


def reader_of(activity: Activity) -> Reader | None:
    """Who clicked a card action, and where the result will be shown."""
    if not activity.from_property or not activity.from_property.id:
        return None
    conv = conversation_of(activity)
    return Reader(platform=Platform.TEAMS, tenant=conv.tenant, user=activity.from_property.id,
                  channel=conv.channel, private=conv.private)


# Teams' feedback loop ---------------------------------------------------------------------------

MAX_COMMENT = 2000


class _Reaction(BaseModel):
    reaction: Literal["like", "dislike"]
    feedback: str | dict[str, Any] | None = None


class NativeFeedback(BaseModel):
    """👍/👎 from Teams' feedback loop: on which of the bot's messages, and what the person wrote."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    helpful: bool
    comment: str = ""


def _comment(raw: str | dict[str, Any] | None) -> str:
    """The default form sends `{"feedbackText": "…"}` as JSON text; take the text, whatever the shape."""
    parsed: object = raw
    if isinstance(raw, str):
        try:
            parsed = safe_json.loads(raw)
        except ValueError:
            parsed = raw
    text = parsed.get("feedbackText") if isinstance(parsed, dict) else parsed
    return text.strip()[:MAX_COMMENT] if isinstance(text, str) else ""


def native_feedback(activity: Activity) -> NativeFeedback | None:
    """The feedback in a `message/submitAction` invoke; None for another action (not ours to handle),
    ValueError when the payload is malformed."""
    value = activity.value
    if not isinstance(value, dict) or not isinstance(value.get("actionName"), str):
        raise ValueError("message/submitAction without an actionName")
    if value["actionName"] != "feedback":
        return None
    try:
        action = _Reaction.model_validate(value.get("actionValue"))
    except ValidationError as exc:
        raise ValueError(f"feedback without a like/dislike reaction: {exc.error_count()} problem(s)") from exc
    if not isinstance(activity.reply_to_id, str) or not activity.reply_to_id:
        raise ValueError("feedback that names no message (replyToId)")
    return NativeFeedback(message_id=activity.reply_to_id, helpful=action.reaction == "like",
                          comment=_comment(action.feedback))
