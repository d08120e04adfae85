"""Why?, Hide why, feedback and follow-up clicks: the same message is updated; nothing leaks."""

from __future__ import annotations

import json
import time
from typing import Any

from adapters.slack import render
from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, BOB, GENERAL, SECRET, SlackRig, eventually
from tests.peers.slack import TEAM

TENANT = tenant_key("slack", TEAM)


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["text"]["text"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


async def asked_in_general(rig: SlackRig) -> tuple[str, str]:
    """(decision id, message ts) of an answer posted in #general."""
    await rig.message(SECRET, ALICE, "The acquisition target is Initech; codename kiwi, keep it quiet.",
                      channel_type="group")
    await rig.message(GENERAL, BOB, "Kiwi smoothie day in the kitchen is on Friday.")
    await rig.mention(GENERAL, ALICE, "what is happening with kiwi?")
    [post] = await rig.fake.wait_calls("chat.postMessage")
    return buttons(post.args["blocks"])["Why?"]["value"], rig.fake.channels[GENERAL].messages[-1]["ts"]


async def test_why_updates_the_same_message_and_hide_restores_it(rig: SlackRig) -> None:
    decision_id, ts = await asked_in_general(rig)
    assert (await rig.click(render.WHY, decision_id, user=BOB, message_ts=ts)).status == 200
    [update] = await rig.fake.wait_calls("chat.update")
    assert update.args["channel"] == GENERAL and update.args["ts"] == ts
    text = json.dumps(update.args["blocks"])
    assert "Why this answer" in text and decision_id in text
    assert set(buttons(update.args["blocks"])) >= {"Hide why"} and "Why?" not in buttons(update.args["blocks"])
    assert "Initech" not in text and "secret-plans" not in text, "a private channel's source never shows here"
    assert rig.fake.channels[GENERAL].messages[-1]["blocks"] == update.args["blocks"]

    assert (await rig.click(render.HIDE, decision_id, user=BOB, message_ts=ts)).status == 200
    [_, hidden] = await rig.fake.wait_calls("chat.update", 2)
    assert "Why?" in buttons(hidden.args["blocks"]) and "Why this answer" not in json.dumps(hidden.args["blocks"])
    assert not rig.fake.responses


async def test_why_on_an_ephemeral_answer_replaces_it_through_the_response_url(rig: SlackRig) -> None:
    await rig.command("help", hook="cmd")
    await rig.fake.wait_for(lambda: bool(rig.fake.responses))
    decision_id = buttons(rig.fake.responses[0]["blocks"])["Why?"]["value"]
    await rig.click(render.WHY, decision_id, ephemeral=True, hook="why")
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 2)
    answer = rig.fake.responses[1]
    assert answer["_path"] == "why" and answer["replace_original"] is True
    assert "Hide why" in buttons(answer["blocks"])
    assert not rig.fake.called("chat.update")


async def test_unknown_foreign_and_private_decisions_are_not_available(rig: SlackRig) -> None:
    await rig.command("help", user=ALICE, hook="alice")
    await rig.fake.wait_for(lambda: bool(rig.fake.responses))
    alices_private = buttons(rig.fake.responses[0]["blocks"])["Why?"]["value"]
    decision_id, ts = await asked_in_general(rig)
    clicks = [
        dict(value="d_doesnotexist00000000", hook="unknown"),
        dict(value="", hook="empty"),
        dict(value="x" * 2000, hook="huge"),
        dict(value=decision_id, team="TOTHER", hook="foreign"),
        dict(value=alices_private, user=BOB, hook="private"),
    ]
    for click in clicks:
        response = await rig.click(render.WHY, message_ts=ts, **click)  # type: ignore[arg-type]
        assert response.status == 200
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 1 + len(clicks))
    for answer in rig.fake.responses[1:]:
        assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
        text = json.dumps(answer["blocks"])
        assert "not available" in text and "kiwi" not in text.lower() and "Why this answer" not in text
    assert not rig.fake.called("chat.update"), "nothing was expanded"


async def test_feedback_is_stored_with_the_decision(rig: SlackRig) -> None:
    decision_id, ts = await asked_in_general(rig)
    value = render.encode_value(decision_id)
    await rig.click(render.HELPFUL, value, user=BOB, message_ts=ts, hook="fb1")
    await rig.click(render.UNHELPFUL, value, user=ALICE, message_ts=ts, hook="fb2")
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 2)
    await eventually(lambda: _feedback(rig, decision_id), sorted([(BOB, "", True), (ALICE, "", False)]))
    assert all("Thanks" in json.dumps(r["blocks"]) for r in rig.fake.responses)


async def _feedback(rig: SlackRig, decision_id: str) -> list[tuple[str, str, bool]]:
    return sorted(await rig.services.storage.decisions.feedback(decision_id))


async def test_a_follow_up_button_runs_its_command_in_the_thread(rig: SlackRig) -> None:
    await rig.mention(GENERAL, ALICE, "help", ts="1700000900.000001")
    [post] = await rig.fake.wait_calls("chat.postMessage")
    follow = [e for e in buttons(post.args["blocks"]).values() if e["action_id"].startswith(render.FOLLOW_UP)]
    assert follow, "help suggests next commands"
    ts = rig.fake.channels[GENERAL].messages[-1]["ts"]
    await rig.click(follow[0]["action_id"], follow[0]["value"], user=BOB, message_ts=ts,
                    thread_ts="1700000900.000001")
    [_, second] = await rig.fake.wait_calls("chat.postMessage", 2)
    assert second.args["channel"] == GENERAL and second.args["thread_ts"] == "1700000900.000001"


async def test_each_digest_item_takes_its_own_feedback(rig: SlackRig) -> None:
    now = time.time()  # the fake's own timestamps are from 2023, outside the digest's 24 h window
    for n, text in enumerate(["Incident: the checkout API is down, rolling back now", "Lunch is pizza today",
                              "Decision: we decided to go with Postgres for billing"]):
        await rig.message(GENERAL, BOB, text, ts=f"{now - 600 + n:.6f}")
    assert (await rig.command("digest now")).status == 200
    [post] = await rig.fake.wait_calls("chat.postMessage")
    overflow = [b for b in post.args["blocks"] if b.get("accessory", {}).get("type") == "overflow"]
    assert not overflow, "collapsed, a digest carries no per-item feedback"
    ts = rig.fake.channels[GENERAL].messages[-1]["ts"]
    decision = buttons(post.args["blocks"])["Why?"]["value"]
    await rig.click(render.WHY, decision, user=BOB, message_ts=ts)
    [update] = await rig.fake.wait_calls("chat.update")
    menus = [b["accessory"] for b in update.args["blocks"] if b.get("accessory", {}).get("type") == "overflow"]
    assert len(menus) == 3 and all(m["action_id"] == render.ITEM_FEEDBACK for m in menus)
    useful = menus[0]["options"][0]
    assert useful["text"]["text"] == "Useful" and len(useful["value"]) <= render.MAX_OPTION_VALUE
    item = json.loads(useful["value"])["i"]
    await rig.click(render.ITEM_FEEDBACK, useful["value"], user=BOB, message_ts=ts, hook="item", menu=True)
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 1)
    decision_id = json.loads(useful["value"])["d"]
    await eventually(lambda: _feedback(rig, decision_id), [(BOB, item, True)])
