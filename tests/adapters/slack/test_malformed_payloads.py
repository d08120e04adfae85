"""Signed Slack payloads with the wrong shapes (issue 12): each is a clear 4xx, or acknowledged and logged
as skipped with its reason, or stored correctly. Never acknowledged and then dropped without a word,
never Slack's 404 or a timeout, and never a row that breaks the worker after the ack."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from adapters.slack import render
from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, GENERAL, SlackRig, eventually
from tests.peers.slack import TEAM, action_form

SKIPPED = "skipped a Slack payload"


def message(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "message", "channel": GENERAL, "user": ALICE, "text": "the freeze is Friday",
                             "ts": "1700000000.000100", "event_ts": "1700000000.000100", "channel_type": "channel"}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def click(action: dict[str, Any], **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions", "team": {"id": TEAM}, "user": {"id": ALICE, "team_id": TEAM},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": GENERAL},
        "channel": {"id": GENERAL}, "trigger_id": "trig.1", "response_url": "http://127.0.0.1:9/x",
        "actions": [{"block_id": "whybot:x", "action_ts": "1.0", **action}]}
    payload.update(changes)
    return payload


def skips(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if SKIPPED in r.getMessage()]


async def stored(rig: SlackRig, ts: str) -> Any:
    return await rig.services.storage.messages.find(tenant_key("slack", TEAM), GENERAL, ts)


UNREADABLE_MESSAGES = {
    "a string user object is not a user id": message(user={"id": ALICE}),
    "a non-string thread_ts": message(thread_ts=1700000000.0001),
    "a numeric ts": message(ts=1700000000.0001),
    "an integer above 2^63 as ts": message(ts=2**64 + 1),
}
TOLERATED_MESSAGES = {  # optional decorations: ignored when malformed, the message itself is kept
    "a string edited": message(edited="yesterday"),
    "a non-numeric reply_count": message(reply_count="many"),
    "an integer files": message(files=3),
    "an integer above 2^63 as reply_count": message(reply_count=2**64),
    "reactions that are not a list": message(reactions={"count": 2**70}),
    "a reaction count above 2^63": message(reactions=[{"name": "+1", "count": 2**70}]),
}


@pytest.mark.parametrize("name", UNREADABLE_MESSAGES)
async def test_an_unreadable_message_is_acknowledged_and_logged_as_skipped(
        rig: SlackRig, caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.WARNING):
        response = await rig.event(UNREADABLE_MESSAGES[name])
    assert response.status == 200 or 400 <= response.status < 500, (name, response.status)
    if response.status == 200:
        assert skips(caplog), f"{name}: acknowledged but not logged as skipped"


@pytest.mark.parametrize("name", TOLERATED_MESSAGES)
async def test_malformed_decorations_do_not_lose_the_message(rig: SlackRig, name: str) -> None:
    event = TOLERATED_MESSAGES[name]
    response = await rig.event(event)
    assert response.status == 200
    await eventually(lambda: _exists(rig, event["ts"]), True)
    record = await stored(rig, event["ts"])
    assert record.text == "the freeze is Friday" and 0 <= record.reply_count < 2**31


async def _exists(rig: SlackRig, ts: str) -> bool:
    return await stored(rig, ts) is not None


CLICKS = {
    "a string user": click({"action_id": render.WHY, "value": "d_1"}, user=ALICE),
    "a string container and no channel": click({"action_id": render.WHY, "value": "d_1"}, container="x",
                                               channel=None),
    "a button value that is not a string": click({"action_id": render.WHY, "value": {"d": "d_1"}}),
    "a feedback value that is not a string": click({"action_id": render.HELPFUL, "value": 7}),
    "a selected_option that is not an object": click({"action_id": render.ITEM_FEEDBACK, "type": "overflow",
                                                      "selected_option": "d_1"}),
    "a selected_option whose value is not a string": click({"action_id": render.ITEM_FEEDBACK,
                                                            "selected_option": {"value": ["d_1"]}}),
    "a follow-up value that is not a string": click({"action_id": f"{render.FOLLOW_UP}_0", "value": 1}),
    "a thread_ts that is not a string": click({"action_id": render.WHY, "value": "d_1"},
                                              message={"ts": "1.0", "thread_ts": 5}),
}


@pytest.mark.parametrize("name", CLICKS)
async def test_a_malformed_click_is_a_4xx_or_a_logged_skip(rig: SlackRig, caplog: pytest.LogCaptureFixture,
                                                          name: str) -> None:
    payload = {k: v for k, v in CLICKS[name].items() if v is not None}
    with caplog.at_level(logging.WARNING):
        response = await rig.send(action_form(payload), content_type="application/x-www-form-urlencoded")
    assert response.status == 200 or 400 <= response.status < 500, (name, response.status)
    assert response.status != 404, "Slack's 'no listener' answer: the click would show an error"
    if response.status == 200:
        assert skips(caplog), f"{name}: acknowledged but neither queued nor logged as skipped"
        stats = await rig.services.storage.inbox.by_key(f"slack:action:trig.1:{payload['actions'][0]['action_id']}:1.0")
        assert stats is None, f"{name}: a turn was queued from a payload we could not read"


async def test_a_lone_surrogate_is_400(rig: SlackRig) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "EvX", "team_id": TEAM,
                       "event": message(text="a\ud800b")})
    response = await rig.send(body)
    assert response.status == 400
