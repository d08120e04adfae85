"""Socket Mode: with SLACK_APP_TOKEN the same AsyncApp runs over a WebSocket, no public URL needed."""

from __future__ import annotations

import asyncio

from tests.adapters.slack.conftest import ALICE, GENERAL, RigFactory
from tests.peers.slack import APP_TOKEN, BOT_USER, event_body


async def test_events_arrive_over_socket_mode_are_acked_and_answered_once(make_rig: RigFactory) -> None:
    rig = await make_rig(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=None)
    fake = rig.fake
    [opened] = await fake.wait_calls("apps.connections.open")
    assert opened.token == APP_TOKEN
    assert (await rig.http.post("/slack/events", data=b"{}")).status == 404, "no HTTP endpoint without a secret"

    body = event_body({"type": "app_mention", "channel": GENERAL, "user": ALICE, "text": f"<@{BOT_USER}> help",
                       "ts": "1700001000.000001"}, event_id="EvSocket")
    await fake.send_envelope("events_api", body, envelope_id="env-1")
    await fake.send_envelope("events_api", body, envelope_id="env-2", retry_attempt=1)
    await fake.wait_for(lambda: {a.get("envelope_id") for a in fake.socket_acks} >= {"env-1", "env-2"})
    [post] = await fake.wait_calls("chat.postMessage")
    assert post.args["thread_ts"] == "1700001000.000001"
    await asyncio.sleep(0.3)
    assert len(fake.called("chat.postMessage")) == 1, "the redelivery was recognised"


async def test_slash_commands_over_socket_mode(make_rig: RigFactory) -> None:
    rig = await make_rig(SLACK_APP_TOKEN=APP_TOKEN)
    fake = rig.fake
    await fake.wait_calls("apps.connections.open")
    command = {"team_id": "T0FAKE", "channel_id": GENERAL, "channel_name": "general", "user_id": ALICE,
               "command": "/whybot", "text": "help", "response_url": fake.response_url("sock"),
               "trigger_id": "trig.1"}
    await fake.send_envelope("slash_commands", command, envelope_id="env-cmd")
    await fake.wait_for(lambda: any(a.get("envelope_id") == "env-cmd" for a in fake.socket_acks))
    await fake.wait_for(lambda: bool(fake.responses))
    assert fake.responses[0]["_path"] == "sock"
