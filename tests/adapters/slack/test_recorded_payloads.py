"""Slack decisions in normalize.py, on event shapes recorded from public sources.

Sources (shapes kept as recorded):
- Slackbot notice in a DM: an Events API `message` with `user: USLACKBOT`, no `bot_id`, `channel_type: im`
  ("You have been removed from #… by <@…>"), recorded in public test fixtures and in Slack's docs
  (https://api.slack.com/events/message.im).
- file_share DM: `subtype: file_share`, `channel_type: im`, `files: [{id}]`, as in Slack's docs
  (https://api.slack.com/events/message/file_share) and public Bolt app tests.
- attachment-only app notification: a-harrison/slackduty, test/exampleActionAcknowledge.js
  (`original_message`: `text: ""`, `bot_id`, `subtype: bot_message`, attachments with title/text/footer/fallback).
- message_changed: https://api.slack.com/events/message/message_changed (`message`, `previous_message`,
  `event_ts`); issue 12 recorded an edit whose `message` has no `ts`.
"""

from __future__ import annotations

from typing import Any

from adapters.slack import normalize

BOT = "U0BOT00001"

SLACKBOT_NOTICE: dict[str, Any] = {
    "type": "message", "text": "You have been removed from #testcreate2 by <@UC7SRSBH7>", "user": "USLACKBOT",
    "ts": "1547268549.000100", "channel": "DF6DMV4KX", "event_ts": "1547268549.000100", "channel_type": "im",
}
FILE_SHARE_DM: dict[str, Any] = {
    "type": "message", "subtype": "file_share", "channel_type": "im", "text": "schedule attached",
    "user": "U0123456789", "channel": "D1234567890", "ts": "1234567890.123456", "files": [{"id": "F1234567890"}],
}
PERSON_DM: dict[str, Any] = {
    "type": "message", "user": "U0123456789", "text": "when is the freeze?", "ts": "1234567890.123457",
    "channel": "D1234567890", "channel_type": "im",
}
APP_NOTIFICATION: dict[str, Any] = {
    "text": "", "bot_id": "B52HQJQEM", "type": "message", "subtype": "bot_message", "ts": "1492927035.812771",
    "channel": "C4ZT51PP0",
    "attachments": [{"callback_id": "17a02d0d370d4add8e53132199614121", "text": "An incident has been triggered.",
                     "title": "Incident Triggered", "footer": "Production XDB Cluster - Laura Haley", "id": 1,
                     "ts": 2016, "color": "FF0000", "fallback": "Incident Triggered",
                     "actions": [{"id": "1", "name": "alertAction", "text": "Acknowledge", "type": "button",
                                  "value": "acknowledge", "style": ""}]}],
}


def test_slackbot_notices_are_stored_but_never_answered() -> None:
    assert normalize.new_message(SLACKBOT_NOTICE) is not None
    assert not normalize.answerable_dm(SLACKBOT_NOTICE, bot_user_id=BOT)


def test_a_file_share_dm_is_stored_but_never_answered() -> None:
    item = normalize.new_message(FILE_SHARE_DM)
    assert item is not None and item.file_count == 1 and item.text == "schedule attached"
    assert not normalize.answerable_dm(FILE_SHARE_DM, bot_user_id=BOT)


def test_why_not_is_told_for_a_file_recorded_for_an_app_and_skipped_for_slackbot_and_whybot() -> None:
    assert normalize.unreadable_dm(FILE_SHARE_DM, bot_user_id=BOT), "the person is told files can't be read"
    app_dm = {**APP_NOTIFICATION, "channel": "D1234567890", "channel_type": "im"}
    assert normalize.bot_dm(app_dm, bot_user_id=BOT, bot_id="BWHYBOT"), "another app: recorded, not answered"
    assert not normalize.bot_dm({**app_dm, "bot_id": "BWHYBOT"}, bot_user_id=BOT, bot_id="BWHYBOT"), "whybot itself"
    assert not normalize.bot_dm(SLACKBOT_NOTICE, bot_user_id=BOT), "a Slackbot notice asks nothing"
    assert not normalize.unasked_question({**APP_NOTIFICATION, "text": "Is the incident resolved yet?"},
                                          bot_user_id=BOT), "an app's question is not a person's"


def test_a_person_typing_in_the_dm_is_answered_but_not_the_bot_itself() -> None:
    assert normalize.answerable_dm(PERSON_DM, bot_user_id=BOT)
    assert not normalize.answerable_dm({**PERSON_DM, "user": BOT}, bot_user_id=BOT)
    assert not normalize.answerable_dm({**PERSON_DM, "channel": "C1", "channel_type": "channel"}, bot_user_id=BOT)


def test_text_that_lives_only_in_attachments_is_stored() -> None:
    item = normalize.new_message(APP_NOTIFICATION)
    assert item is not None and item.is_bot
    assert item.text == "Incident Triggered\nAn incident has been triggered.\nProduction XDB Cluster - Laura Haley"


def test_text_that_lives_only_in_rich_text_blocks_is_stored() -> None:
    event = {"type": "message", "user": "U1", "text": "", "ts": "1700000000.000100", "channel": "C1",
             "blocks": [{"type": "rich_text", "block_id": "x", "elements": [
                 {"type": "rich_text_section", "elements": [{"type": "text", "text": "Deploy is blocked on "},
                                                            {"type": "user", "user_id": "U2"}]},
                 {"type": "rich_text_list", "style": "bullet", "elements": [
                     {"type": "rich_text_section", "elements": [{"type": "link", "url": "https://ci.example/1",
                                                                 "text": "CI run 1"}]}]}]}]}
    item = normalize.new_message(event)
    assert item is not None and item.text == "Deploy is blocked on <@U2>\nCI run 1"


def test_message_changed_without_message_ts_uses_previous_message_ts() -> None:
    event = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": "C123ABC456",
             "ts": "1358878755.000001", "event_ts": "1358878755.000001",
             "message": {"type": "message", "user": "U123ABC456", "text": "Hello, world!",
                         "edited": {"user": "U123ABC456", "ts": "1358878755.000001"}},
             "previous_message": {"type": "message", "user": "U123ABC456", "text": "Helo, world",
                                  "ts": "1358878749.000002"}}
    edit = normalize.edit_of(event)
    assert edit is not None and (edit.ts, edit.text) == ("1358878749.000002", "Hello, world!")
    assert edit.edited_at == normalize.ts_to_datetime("1358878755.000001")
    with_ts = {**event, "message": {**event["message"], "ts": "1358878749.000002"}}
    assert normalize.edit_of(with_ts) == edit
    assert normalize.edit_of({**event, "message": {}, "previous_message": None}) is None
