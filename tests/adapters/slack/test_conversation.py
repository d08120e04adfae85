"""Follow-ups on Slack, end to end: bolt over signed HTTP, the worker, the fake Slack Web API."""

from __future__ import annotations

import asyncio
import json

from adapters.slack import render
from tests.adapters.slack.conftest import ALICE, BOB, GENERAL, SlackRig
from tests.peers.slack import BOT_USER


async def seed(rig: SlackRig) -> str:
    root = await rig.message(GENERAL, ALICE, "The ledger-worker deadlock in us-west-2: what was the root cause?")
    await rig.message(GENERAL, BOB, "Root cause: the nightly compaction took a table lock.", thread_ts=root)
    await rig.message(GENERAL, ALICE, "Lunch is at noon today in the big room.")
    return root


async def test_a_plain_reply_in_a_thread_whybot_answered_continues_the_conversation(rig: SlackRig) -> None:
    await seed(rig)
    mention = rig.fake.next_ts()
    response = await rig.mention(GENERAL, ALICE, "what caused the ledger-worker deadlock in us-west-2?", ts=mention)
    assert response.status == 200
    [first] = await rig.fake.wait_calls("chat.postMessage")
    assert first.args["thread_ts"] == mention

    await rig.message(GENERAL, BOB, "and who said that?", thread_ts=mention)  # no mention: a follow-up
    calls = await rig.fake.wait_calls("chat.postMessage", 2)
    follow = calls[1]
    assert follow.args["thread_ts"] == mention
    decision_id = next(e["value"] for b in follow.args["blocks"] if b["type"] == "actions"
                       for e in b["elements"] if e["text"]["text"] == "Why?")
    decision = await rig.services.storage.decisions.get(decision_id)
    assert decision is not None and decision.skill == "ask"
    note = decision.rationale["conversation"]
    assert note["continues"] == "what caused the ledger-worker deadlock in us-west-2?"
    assert "ledger-worker" in note["searched_as"] and note["searched_as"].startswith("and who said that?")
    assert "compaction" in str(follow.args["blocks"]), "answered from the thread the first answer cited"
    [posted] = [m for m in rig.fake.channels[GENERAL].messages if m.get("blocks") == follow.args["blocks"]]
    clicked = await rig.click(render.WHY, decision_id, user=BOB, message_ts=posted["ts"], thread_ts=mention)
    assert clicked.status == 200
    [update] = await rig.fake.wait_calls("chat.update")
    shown = json.dumps(update.args["blocks"], ensure_ascii=False)
    assert "Continues:* what caused the ledger-worker deadlock in us-west-2? → searched as: and who said that?" in shown
    assert "preferring the thread my earlier answer cited" in shown


async def test_a_plain_reply_in_another_thread_is_only_history(rig: SlackRig) -> None:
    root = await seed(rig)
    await rig.message(GENERAL, BOB, "and who said that?", thread_ts=root)  # whybot never answered here
    await rig.message(GENERAL, ALICE, "thanks!", thread_ts=root)
    await asyncio.sleep(0.5)
    assert rig.fake.called("chat.postMessage") == []


async def test_a_mention_in_the_thread_is_not_answered_twice(rig: SlackRig) -> None:
    await seed(rig)
    mention = rig.fake.next_ts()
    await rig.mention(GENERAL, ALICE, "what caused the ledger-worker deadlock in us-west-2?", ts=mention)
    await rig.fake.wait_calls("chat.postMessage")
    ts = rig.fake.next_ts()
    await rig.mention(GENERAL, BOB, "who said that?", ts=ts, thread_ts=mention)
    # Slack sends the same words as a `message` event too; only the app_mention is answered.
    await rig.message(GENERAL, BOB, f"<@{BOT_USER}> who said that?", ts=ts, thread_ts=mention)
    await rig.fake.wait_calls("chat.postMessage", 2)
    await asyncio.sleep(0.5)
    assert len(rig.fake.called("chat.postMessage")) == 2
