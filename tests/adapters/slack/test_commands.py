"""/whybot: acked at once (well inside Slack's 3 s) while the answer is still being worked out."""

from __future__ import annotations

import json
import time

from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, BOB, GENERAL, RigFactory, SlackRig, SlowGenerator
from tests.peers.slack import TEAM

TENANT = tenant_key("slack", TEAM)
SKILL_DELAY = 1.5


async def test_the_command_is_acked_fast_while_the_skill_is_slow(make_rig: RigFactory) -> None:
    rig = await make_rig(generator=SlowGenerator(SKILL_DELAY))
    await rig.message(GENERAL, ALICE, "The office wifi password rotates every Monday morning.")
    started = time.perf_counter()
    response = await rig.command("ask when does the wifi password rotate?")
    ack_seconds = time.perf_counter() - started
    assert response.status == 200
    assert ack_seconds < 1.0, f"ack took {ack_seconds:.3f}s"
    assert (await response.json())["text"] == "Working on it…", "Slack shows something at once"
    assert not rig.fake.responses, "the answer is not in the ack"
    await rig.fake.wait_for(lambda: bool(rig.fake.responses))
    answered_after = time.perf_counter() - started
    assert answered_after >= SKILL_DELAY, "the work really continued after the ack"
    [answer] = rig.fake.responses
    assert answer["_path"] == "cmd" and answer["replace_original"] is True, "the answer replaces the note"
    assert "Monday" in json.dumps(answer["blocks"])
    buttons = [e["text"]["text"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "Why?" in buttons
    print(f"\nslash command ack latency {ack_seconds * 1000:.0f} ms with a {SKILL_DELAY}s skill")


async def test_the_mention_is_acked_fast_while_the_skill_is_slow(make_rig: RigFactory) -> None:
    rig = await make_rig(generator=SlowGenerator(SKILL_DELAY))
    await rig.message(GENERAL, ALICE, "The office wifi password rotates every Monday morning.")
    started = time.perf_counter()
    response = await rig.mention(GENERAL, BOB, "when does the wifi password rotate?")
    ack_seconds = time.perf_counter() - started
    assert response.status == 200 and ack_seconds < 1.0, f"ack took {ack_seconds:.3f}s"
    await rig.fake.wait_calls("chat.postMessage")
    print(f"\napp_mention ack latency {ack_seconds * 1000:.0f} ms with a {SKILL_DELAY}s skill")


async def test_help_answers_privately_through_the_response_url(rig: SlackRig) -> None:
    assert (await rig.command("help")).status == 200
    await rig.fake.wait_for(lambda: bool(rig.fake.responses))
    assert rig.fake.responses[0]["replace_original"] is True  # replaces the ephemeral "working on it"
    assert not rig.fake.called("chat.postMessage")


async def test_digest_now_is_posted_in_the_channel(rig: SlackRig) -> None:
    await rig.message(GENERAL, ALICE, "Release 4.2 is blocked on the flaky checkout test.")
    await rig.message(GENERAL, BOB, "I'll quarantine the checkout test today.")
    assert (await rig.command("digest now")).status == 200
    [post] = await rig.fake.wait_calls("chat.postMessage")
    assert post.args["channel"] == GENERAL
    await rig.fake.wait_for(lambda: bool(rig.fake.responses))
    assert rig.fake.responses[0]["delete_original"] is True, "the working-on-it note is folded away"
    assert any(e["text"]["text"] == "Why?" for b in post.args["blocks"] if b["type"] == "actions"
               for e in b["elements"])


async def test_digest_daily_uses_the_askers_slack_time_zone(rig: SlackRig) -> None:
    assert (await rig.command("digest daily 09:00", user=ALICE)).status == 200
    await rig.fake.wait_calls("chat.postMessage")
    user = await rig.services.storage.workspace.get_user(TENANT, ALICE)
    assert user is not None and user.tz == "Europe/Berlin", "users.info tz is stored"
    sub = await rig.services.storage.subscriptions.for_channel(TENANT, GENERAL)
    assert sub is not None and sub.tz == "Europe/Berlin" and sub.cron == "0 9 * * *"
    assert sub.reference["team_id"] == TEAM and sub.reference["channel"] == GENERAL


async def test_a_command_where_the_bot_is_not_a_member_still_answers(rig: SlackRig) -> None:
    from tests.peers.slack import FakeChannel
    rig.fake.add_channel(FakeChannel("COUTSIDE", "outside", members=[ALICE]))
    assert (await rig.command("digest now", channel="COUTSIDE", channel_name="outside")).status == 200
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 2)
    assert "invite" in json.dumps(rig.fake.responses[0]).lower()
    assert rig.fake.responses[1]["response_type"] == "ephemeral"


async def test_stopping_the_server_lets_answers_in_flight_finish(make_rig: RigFactory) -> None:
    rig = await make_rig(generator=SlowGenerator(0.8))
    await rig.message(GENERAL, ALICE, "The office wifi password rotates every Monday morning.")
    assert (await rig.mention(GENERAL, BOB, "when does the wifi password rotate?")).status == 200
    await rig.http.close()  # shutdown begins while the skill is still working
    assert len(rig.fake.called("chat.postMessage")) == 1, "the acked mention was still answered"
