"""Activity -> ChatEvent/NewMessage, on activities built the way Teams sends them."""

from __future__ import annotations

from botbuilder.schema import Activity

from adapters.teams import normalize
from adapters.teams.app import parse_activity
from bot.models import ConversationKind, Trigger
from tests.peers.bot_framework import TEAM_CHANNEL, TENANT


def _activity(raw: dict[str, object]) -> Activity:
    raw["serviceUrl"] = "http://127.0.0.1:9/"
    return Activity().deserialize(raw)


def _mention(text: str, **kw: object) -> dict[str, object]:
    return {
        "type": "message", "id": "1700000000001", "channelId": "msteams",
        "from": {"id": "29:ann", "name": "Ann"}, "recipient": {"id": "28:bot", "name": "whybot"},
        "conversation": {"id": f"{TEAM_CHANNEL};messageid=1700000000000", "conversationType": "channel"},
        "channelData": {"tenant": {"id": TENANT}, "channel": {"id": TEAM_CHANNEL, "name": "General"}},
        "text": text, "entities": [{"type": "mention", "text": "<at>whybot</at>",
                                    "mentioned": {"id": "28:bot", "name": "whybot"}}], **kw,
    }


def test_channel_mention_in_a_thread() -> None:
    message = normalize.message_of(_activity(_mention("<at>whybot</at>   ask when is the freeze?")))
    assert message is not None and message.mentioned and message.addressed_to_bot
    conv = message.conversation
    assert (conv.tenant, conv.channel, conv.channel_name, conv.kind, conv.thread_id) == (
        TENANT, TEAM_CHANNEL, "General", ConversationKind.CHANNEL, "1700000000000")
    event = normalize.chat_event(message, event_id="e1")
    assert (event.trigger, event.command, event.args) == (Trigger.COMMAND, "ask", "when is the freeze?")
    assert event.thread_id == "1700000000000" and not event.private_reply
    item = normalize.history_item(message)
    assert item.thread_external_id == "1700000000000" and item.text == "ask when is the freeze?"
    assert message.reference["conversation"]["id"] == TEAM_CHANNEL and "activityId" not in message.reference


def test_mention_removal_keeps_other_people_and_tidies_whitespace() -> None:
    raw = _mention("<at>whybot</at> summarize what <at>Bob Smith</at> said&nbsp;&amp; <p>why</p>")
    message = normalize.message_of(_activity(raw))
    assert message is not None
    assert message.text == "summarize what Bob Smith said & \nwhy".replace(" \n", "\n")
    assert normalize.split_command("/whybot digest daily 09:00") == ("digest", "daily 09:00")
    assert normalize.split_command("whybot: Help") == ("help", "")
    assert normalize.split_command("what changed?") == (None, "what changed?")


def test_malformed_mention_entity_does_not_crash() -> None:
    raw = _mention("<at>whybot</at> help")
    raw["entities"] = [{"type": "mention", "text": "<at>whybot</at>"}, {"type": "mention", "mentioned": "x"}]
    message = normalize.message_of(_activity(raw))
    assert message is not None and not message.mentioned and message.text == "whybot help"


def test_personal_and_group_chats_and_the_emulator() -> None:
    personal = normalize.message_of(_activity({
        "type": "message", "id": "m1", "channelId": "msteams", "from": {"id": "29:ann"},
        "recipient": {"id": "28:bot"}, "conversation": {"id": "a:1", "conversationType": "personal"},
        "channelData": {"tenant": {"id": TENANT}}, "text": "digest status"}))
    assert personal is not None and personal.addressed_to_bot
    event = normalize.chat_event(personal)
    assert event.conversation_kind == ConversationKind.DM and event.private_reply and event.command == "digest"
    group = normalize.conversation_of(_activity({
        "type": "message", "conversation": {"id": "19:g@thread.v2", "conversationType": "groupChat", "name": "Ops"},
        "channelData": {"tenant": {"id": TENANT}}}))
    assert (group.kind, group.channel, group.channel_name) == (ConversationKind.GROUP, "19:g@thread.v2", "Ops")
    emulator = normalize.message_of(_activity({
        "type": "message", "id": "e1", "channelId": "emulator", "from": {"id": "user1", "name": "User"},
        "recipient": {"id": "bot1"}, "conversation": {"id": "conv-1"}, "text": "hello"}))
    assert emulator is not None and emulator.conversation.tenant == "emulator"
    assert emulator.conversation.kind == ConversationKind.DM


def test_tenant_comes_from_conversation_when_channel_data_lacks_it() -> None:
    activity = parse_activity(b'{"type": "message", "serviceUrl": "https://smba.example/", '
                              b'"conversation": {"id": "a:1", "conversationType": "personal", "tenantId": "t-9"}}')
    assert normalize.tenant_of(activity) == "t-9"


def test_private_channels_are_recognised() -> None:
    raw = _mention("hi")
    raw["channelData"] = {"tenant": {"id": TENANT}, "channel": {"id": TEAM_CHANNEL, "membershipType": "private"}}
    assert normalize.private_channel(_activity(raw))
    assert not normalize.private_channel(_activity(_mention("hi")))


def test_a_new_channel_post_is_not_a_thread() -> None:
    """Teams sends a new post with `;messageid=` set to the post's own id: that means "no thread"."""
    raw = _mention("<at>whybot</at> summarize")
    raw["id"] = "1700000000000"
    message = normalize.message_of(_activity(raw))
    assert message is not None
    assert (message.conversation.channel, message.conversation.thread_id) == (TEAM_CHANNEL, None)
    event = normalize.chat_event(message, event_id="e2")
    assert event.thread_id is None and event.channel == TEAM_CHANNEL
    assert normalize.history_item(message).thread_external_id is None
