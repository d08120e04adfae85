"""The HTTP contract of POST /slack/events: signatures, url_verification, malformed and unknown input."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from tests.adapters.slack.conftest import GENERAL, SlackRig
from tests.peers.slack import SIGNING_SECRET, TEAM, action_form, event_body, form, signed_headers


async def test_url_verification_echoes_the_challenge(rig: SlackRig) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    response = await rig.send(body)
    assert response.status == 200
    assert (await response.json())["challenge"] == "c-123"


async def test_wrong_signature_is_401_and_does_nothing(rig: SlackRig) -> None:
    body = json.dumps(event_body({"type": "app_mention", "channel": GENERAL, "user": "UALICE",
                                  "text": "<@UBOT> help", "ts": "1.1"}, event_id="EvBad"))
    response = await rig.send(body, secret="not-the-secret")
    assert response.status == 401
    assert not rig.fake.called("chat.postMessage")
    assert await rig.services.storage.inbox.by_key("slack:EvBad") is None, "a rejected request queues nothing"


async def test_timestamp_older_than_five_minutes_is_401(rig: SlackRig) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c", "type": "url_verification"})
    response = await rig.send(body, timestamp=int(time.time()) - 6 * 60)
    assert response.status == 401


async def test_malformed_bodies_with_a_valid_signature_are_400(rig: SlackRig) -> None:
    cases = [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"just a string"', "application/json"),
        (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": "nope"}), "application/json"),
        (json.dumps({"type": "event_callback", "event_id": 5, "event": {"type": "app_mention"}}),
         "application/json"),
        (json.dumps({"type": 7}), "application/json"),
        (action_form({"type": "block_actions", "actions": "nope"}), "application/x-www-form-urlencoded"),
        ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        ("a=1&b=2", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ]
    for body, content_type in cases:
        response = await rig.send(body, content_type=content_type)
        assert response.status == 400, (body, response.status, await response.text())
    raw = b"\xff\xfe{"
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    response = await rig.http.post("/slack/events", data=raw, headers={
        "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}", "Content-Type": "application/json"})
    assert response.status == 401, "Slack signs UTF-8 text only: other bytes cannot carry a valid signature"
    assert not rig.fake.called("chat.postMessage")


async def test_malformed_body_with_a_bad_signature_is_401_not_400(rig: SlackRig) -> None:
    response = await rig.send("{not json", secret="wrong")
    assert response.status == 401


async def test_unknown_event_types_are_acked_and_ignored(rig: SlackRig) -> None:
    for kind in ("reaction_added", "emoji_changed", "a_type_slack_invents_next_year"):
        response = await rig.event({"type": kind, "user": "UALICE", "event_ts": "1.0"})
        assert response.status == 200, kind
    unknown_interaction = action_form({"type": "shortcut_of_the_future", "team": {"id": TEAM},
                                       "user": {"id": "UALICE"}, "callback_id": "x", "trigger_id": "t"})
    response = await rig.send(unknown_interaction, content_type="application/x-www-form-urlencoded")
    assert response.status < 500
    other_command = form({"team_id": TEAM, "channel_id": GENERAL, "user_id": "UALICE", "command": "/other",
                          "text": "x", "response_url": rig.fake.response_url()})
    response = await rig.send(other_command, content_type="application/x-www-form-urlencoded")
    assert response.status < 500
    assert not rig.fake.called("chat.postMessage") and not rig.fake.responses


async def test_health_lists_the_slack_adapter(rig: SlackRig) -> None:
    response = await rig.http.get("/healthz")
    assert "slack" in (await response.json())["adapters"]


async def test_the_adapter_is_created_only_when_slack_is_configured(sqlite_url: str, sqlite_storage) -> None:  # type: ignore[no-untyped-def]
    from adapters.slack import SlackAdapter, create_adapter
    from bot.app import discover_adapters
    from bot.services import build_services
    from tests.conftest import make_settings

    assert discover_adapters()["slack"] is create_adapter, "registered in the whybot.adapters entry points"
    cases = [
        ({}, False),
        ({"SLACK_SIGNING_SECRET": "s"}, False),  # no token and no OAuth client: refused with a clear log
        ({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1"}, True),
        ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1"}, True),
        ({"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c"}, True),
    ]
    for env, expected in cases:
        services = await build_services(make_settings(sqlite_url, **env), storage=sqlite_storage)
        adapter = create_adapter(services)
        assert isinstance(adapter, SlackAdapter) == expected, env


DEEP = "[" * 100_000 + "]" * 100_000


async def test_an_unsigned_body_is_401_whatever_it_contains(rig: SlackRig) -> None:
    """The signature is checked before the body is parsed: 100,000 nested brackets are never read."""
    for body, content_type in [(DEEP, "application/json"), ("{" + '"a":' * 50_000, "application/json"),
                               ("payload=" + DEEP, "application/x-www-form-urlencoded")]:
        response = await rig.http.post("/slack/events", data=body.encode(),
                                       headers={"Content-Type": content_type})
        assert response.status == 401, (content_type, response.status)
        response = await rig.send(body, content_type=content_type, secret="wrong")
        assert response.status == 401


async def test_a_signed_deeply_nested_body_is_400(rig: SlackRig) -> None:
    for body, content_type in [(DEEP, "application/json"),
                               ("payload=" + "%5B" * 100_000, "application/x-www-form-urlencoded"),
                               ('{"type": "event_callback", "event": ' + "[" * 5_000 + "]" * 5_000 + "}",
                                "application/json"),
                               ('{"challenge": "c", "type": "url_verification", "x": "\\ud800"}',
                                "application/json"),
                               ('{"type": "url_verification", "challenge": ' + "9" * 5000 + "}", "application/json")]:
        response = await rig.send(body, content_type=content_type)
        assert response.status == 400, (body[:60], response.status, await response.text())


async def test_a_timestamp_that_is_not_an_integer_is_401(rig: SlackRig) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c", "type": "url_verification"})
    for stamp in ["abc", "1796004611.5", "", "99999999999999999999999", "-1"]:
        headers = signed_headers(body)
        headers["X-Slack-Request-Timestamp"] = stamp
        response = await rig.http.post("/slack/events", data=body.encode(), headers=headers)
        assert response.status == 401, (stamp, response.status)


async def test_an_action_id_that_is_not_a_string_is_400(rig: SlackRig) -> None:
    for action in [{"action_id": 5, "block_id": "b", "value": "x"}, {"action_id": None},
                   {"action_id": ["whybot_why"]}, {"action_id": "whybot_why", "block_id": {"a": 1}}]:
        payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": "UALICE"},
                   "actions": [action], "trigger_id": "t.1"}
        response = await rig.send(action_form(payload), content_type="application/x-www-form-urlencoded")
        assert response.status == 400, (action, response.status, await response.text())
