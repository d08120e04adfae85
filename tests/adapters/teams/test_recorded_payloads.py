"""Teams decisions in normalize.py, on activity shapes recorded from public sources.

Sources (shapes kept, ids shortened):
- channel activity: MicrosoftDocs/msteams-docs, msteams-platform/bots/how-to/conversations/
  subscribe-to-conversation-events.md (conversation `isGroup: true`, id `19:…@thread.skype`, channelData
  channel/team/tenant). Issue 12 recorded the same activity without `conversationType` from a real tenant,
  with a `19:…@thread.tacv2` id: that is the case tested here.
- mention entity: msteams-docs channel-and-group-conversations.md ("retrieve mentions": `type: mention`,
  `mentioned: {id, name}`), recorded without its `text` as issue 12 describes.
- undelete: `messageUpdate` with channelData `eventType: undeleteMessage`, as in msteams-docs
  subscribe-to-conversation-events.md ("Undelete message") and the Microsoft 365 Agents SDK tests that
  route `message_update` + `{"eventType": "undeleteMessage"}`.
"""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity

from adapters.teams import normalize
from bot.models import ConversationKind

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHANNEL = "19:d441f4a1c6b44e4cb3a3b4f0e2a3c5d6@thread.tacv2"


def _activity(raw: dict[str, Any]) -> Activity:
    return Activity().deserialize({"serviceUrl": "https://smba.trafficmanager.net/amer/", **raw})


def channel_message(text: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message", "id": "1718000000001", "channelId": "msteams", "timestamp": "2024-06-10T09:00:00.000Z",
        "from": {"id": "29:1wR7IdIRIoerMIWbewMi75JA3scaMuxvFon9eRQW2Nix5loMDo0362st2IaRVRirPZBv1WdXT8TIFWWmlQ",
                 "name": "Megan Bowen"},
        "conversation": {"isGroup": True, "id": f"{CHANNEL};messageid=1718000000000"},  # no conversationType
        "recipient": {"id": "28:f5d48856-5b42-41a0-8c3a-c5f944b679b0", "name": "whybot"},
        "channelData": {"teamsChannelId": CHANNEL, "teamsTeamId": "19:efa9296d959346209fea44151c742e73@thread.skype",
                        "channel": {"id": CHANNEL}, "team": {"id": "19:efa9296d959346209fea44151c742e73@thread.skype"},
                        "tenant": {"id": TENANT}},
        "text": text, "entities": entities,
    }


def test_channel_activity_without_conversation_type_is_a_channel() -> None:
    activity = _activity(channel_message("what is the freeze date?", []))
    assert normalize.kind_of(activity) == ConversationKind.CHANNEL
    message = normalize.message_of(activity)
    assert message is not None and message.conversation.channel == CHANNEL
    assert not message.addressed_to_bot  # not a personal chat: no mention, no answer


def test_group_conversation_without_type_or_channel_is_a_group_chat() -> None:
    raw = channel_message("hi all", [])
    raw["conversation"] = {"isGroup": True, "id": "19:meeting_a1b2c3@thread.v2"}
    raw["channelData"] = {"tenant": {"id": TENANT}}
    assert normalize.kind_of(_activity(raw)) == ConversationKind.GROUP
    raw["conversation"] = {"id": "a:1personalChatId"}
    assert normalize.kind_of(_activity(raw)) == ConversationKind.DM


def test_mention_entity_without_text_still_removes_the_bot_name() -> None:
    entity = {"type": "mention", "mentioned": {"id": "28:f5d48856-5b42-41a0-8c3a-c5f944b679b0", "name": "whybot"}}
    activity = _activity(channel_message("<at>whybot</at> summarize last 24h, cc <at>Megan Bowen</at>", [entity]))
    assert normalize.bot_mentioned(activity)
    assert normalize.text_without_bot(activity) == "summarize last 24h, cc Megan Bowen"


def test_mention_tag_with_attributes_and_entities_is_stripped_by_the_mentioned_name() -> None:
    entity = {"type": "mention", "mentioned": {"id": "28:f5d48856-5b42-41a0-8c3a-c5f944b679b0",
                                               "name": "Why &amp; Bot"}}
    activity = _activity(channel_message('<p><at id="0">Why &amp; Bot</at>&nbsp;help</p>', [entity]))
    assert normalize.text_without_bot(activity) == "help"


def test_undelete_is_recognised() -> None:
    raw = channel_message("the restored text", [])
    raw.update(type="messageUpdate", channelData={**raw["channelData"], "eventType": "undeleteMessage"})
    assert normalize.is_undelete(_activity(raw))
    raw["channelData"]["eventType"] = "editMessage"
    assert not normalize.is_undelete(_activity(raw))
