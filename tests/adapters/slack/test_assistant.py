"""Slack's assistant view (side panel) and agent view (Messages tab), end to end: signed events through the
real Bolt app, answered by the worker against the fake Web API, which speaks assistant.threads.* and the
chat streaming methods as Slack does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.slack import render
from bot.models import Reply
from bot.render import why_lines
from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, BOB, DM_ALICE, GENERAL, SECRET, RigFactory, SlackRig, eventually
from tests.bot.backends.llm.conftest import source_number
from tests.conftest import settled
from tests.peers.fake_openai import FakeOpenAI
from tests.peers.slack import BOT_USER, TEAM, FakeChannel

TENANT = tenant_key("slack", TEAM)
RANDOM, DM_BOB = "CRANDOM", "DBOB"


async def seed(rig: SlackRig) -> None:
    rig.fake.add_channel(FakeChannel(RANDOM, "random", members=[ALICE, BOB, BOT_USER]))
    rig.fake.add_channel(FakeChannel(DM_BOB, "", is_im=True, user=BOB, members=[BOB, BOT_USER]))
    await rig.message(GENERAL, ALICE, "The deploy freeze starts Friday because the payment migration is risky.")
    await rig.message(RANDOM, BOB, "The deploy freeze for the mobile app starts Monday after the store review.")
    await rig.message(SECRET, ALICE, "The acquisition of Initech closes in March; the deploy freeze starts then.")


async def start_thread(rig: SlackRig, *, user: str = ALICE, dm: str = DM_ALICE, viewing: str | None = GENERAL,
                       event_id: str | None = None, retry: int | None = None) -> str:
    """The side panel opens a thread: Slack posts its root in the DM and sends assistant_thread_started."""
    thread_ts = rig.fake.next_ts()
    rig.fake.channels[dm].messages.append({"type": "message", "subtype": "assistant_app_thread", "user": user,
                                           "text": "New chat", "ts": thread_ts, "thread_ts": thread_ts})
    context = {"channel_id": viewing, "team_id": TEAM, "enterprise_id": None} if viewing else {}
    response = await rig.event({"type": "assistant_thread_started", "event_ts": thread_ts, "assistant_thread": {
        "user_id": user, "context": context, "channel_id": dm, "thread_ts": thread_ts}}, event_id=event_id,
        retry=retry)
    assert response.status == 200, await response.text()
    return thread_ts


async def change_context(rig: SlackRig, thread_ts: str, viewing: str, *, user: str = ALICE,
                         dm: str = DM_ALICE) -> None:
    response = await rig.event({"type": "assistant_thread_context_changed", "event_ts": rig.fake.next_ts(),
                                "assistant_thread": {"user_id": user, "channel_id": dm, "thread_ts": thread_ts,
                                                     "context": {"channel_id": viewing, "team_id": TEAM}}})
    assert response.status == 200


async def say(rig: SlackRig, text: str, *, thread_ts: str | None, user: str = ALICE, dm: str = DM_ALICE,
              app_context: dict[str, Any] | None = None, event_id: str | None = None,
              retry: int | None = None) -> str:
    """A person writes to the bot in its DM (in a thread, or, in the agent view, with what is in view)."""
    ts = rig.fake.next_ts()
    event: dict[str, Any] = {"type": "message", "channel": dm, "user": user, "text": text, "ts": ts, "event_ts": ts,
                             "channel_type": "im"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    if app_context is not None:
        event["app_context"] = app_context
    rig.fake.channels[dm].messages.append({k: v for k, v in event.items() if k != "app_context"})
    response = await rig.event(event, event_id=event_id, retry=retry)
    assert response.status == 200, await response.text()
    return ts


def viewing(channel: str) -> dict[str, Any]:
    return {"entities": [{"type": "slack#/types/channel_id", "value": channel, "team_id": TEAM}]}


def answers(rig: SlackRig, dm: str = DM_ALICE) -> list[dict[str, Any]]:
    """The bot's answers in the DM (messages with a Why? button), as the fake holds them now."""
    return [m for m in rig.fake.channels[dm].messages if m.get("user") == BOT_USER and render.WHY in json.dumps(
        m.get("blocks") or [])]


def why_value(message: dict[str, Any]) -> str:
    return next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e.get("action_id") == render.WHY)


async def decision(rig: SlackRig, message: dict[str, Any]) -> dict[str, Any]:
    record = await rig.services.storage.decisions.get(why_value(message))
    assert record is not None
    return record.reply


# the assistant view --------------------------------------------------------------------------------


async def test_a_new_thread_is_greeted_with_prompts_about_the_channel_in_view(rig: SlackRig) -> None:
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=GENERAL)
    [prompts] = await rig.fake.wait_calls("assistant.threads.setSuggestedPrompts")
    assert prompts.args["channel_id"] == DM_ALICE and prompts.args["thread_ts"] == thread_ts
    offered = prompts.args["prompts"]
    assert 1 <= len(offered) <= 4 and all(set(p) == {"title", "message"} for p in offered)
    messages = [p["message"] for p in offered]
    assert messages[:3] == ["summarize #general last 24h", "digest now", "what was decided in #general this week?"]
    assert messages[3] == "summarize #secret-plans last 7d"  # a channel Alice is in (privately: only she reads it)
    assert "#general" in prompts.args["title"]
    [greeting] = [c for c in rig.posted(DM_ALICE) if c.get("thread_ts") == thread_ts]
    assert greeting["metadata"] == {"event_type": "assistant_thread_context",
                                    "event_payload": {"channel_id": GENERAL, "team_id": TEAM}}
    assert "Why?" in json.dumps(greeting["blocks"])


async def test_a_question_in_the_thread_shows_status_names_the_thread_and_is_answered_there(rig: SlackRig) -> None:
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=GENERAL)
    await rig.fake.wait_calls("chat.postMessage", 1)
    await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 1)
    statuses = [c.args for c in rig.fake.called("assistant.threads.setStatus")]
    assert statuses and all(s["channel_id"] == DM_ALICE and s["thread_ts"] == thread_ts for s in statuses)
    assert statuses[0]["status"].startswith("Searching #general")
    [title] = rig.fake.called("assistant.threads.setTitle")
    assert title.args["title"] == "when does the deploy freeze start?"
    [answer] = answers(rig)
    assert answer["thread_ts"] == thread_ts
    reply = await decision(rig, answer)
    assert reply["rationale"]["inputs"]["viewing"]["channel"] == GENERAL
    assert "payment migration" in json.dumps(answer["blocks"]) and "store review" not in json.dumps(answer["blocks"])
    # a second question does not rename the thread
    await say(rig, "and why is it risky?", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 2)
    assert len(rig.fake.called("assistant.threads.setTitle")) == 1


async def test_a_follow_up_in_the_assistant_thread_continues_it_and_why_says_so(rig: SlackRig) -> None:
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=GENERAL)
    await rig.fake.wait_calls("chat.postMessage", 1)
    await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 1)
    await say(rig, "and who said that?", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 2)
    follow = answers(rig)[-1]
    assert follow["thread_ts"] == thread_ts
    assert "payment migration" in json.dumps(follow["blocks"]), "answered from the message the first answer cited"
    note = (await decision(rig, follow))["rationale"]["conversation"]
    assert note["continues"] == "when does the deploy freeze start?"
    assert note["searched_as"].startswith("and who said that?") and "freeze" in note["searched_as"]
    assert (await rig.click(render.WHY, why_value(follow), channel=DM_ALICE, message_ts=follow["ts"],
                            thread_ts=thread_ts)).status == 200
    [update] = await rig.fake.wait_calls("chat.update")
    shown = json.dumps(update.args["blocks"], ensure_ascii=False)
    assert "Continues:* when does the deploy freeze start? → searched as: and who said that?" in shown
    assert "preferring the thread my earlier answer cited" in shown


async def _count(items: list[Any]) -> int:
    return len(items)


async def test_a_context_change_scopes_the_next_answer_and_why_says_so(rig: SlackRig) -> None:
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=GENERAL)
    await rig.fake.wait_calls("chat.postMessage", 1)
    await change_context(rig, thread_ts, RANDOM)
    await eventually(lambda: _greeting_context(rig, thread_ts), RANDOM)
    # prompts follow the view (set in the same turn, just after the greeting's context)
    assert len(await rig.fake.wait_calls("assistant.threads.setSuggestedPrompts", 2)) == 2
    assert "summarize #random last 24h" in json.dumps(rig.fake.called("assistant.threads.setSuggestedPrompts")[-1]
                                                      .args["prompts"])
    await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 1)
    [answer] = answers(rig)
    assert "store review" in json.dumps(answer["blocks"]) and "payment migration" not in json.dumps(answer["blocks"])
    lines = why_lines(Reply.model_validate(await decision(rig, answer)))
    assert any("the channel you were viewing" in line and "random" in line for line in lines)
    await say(rig, "summarize", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 2)
    summary = await decision(rig, answers(rig)[-1])
    assert summary["title"].startswith("#random") and summary["rationale"]["skill"] == "summarize"
    assert summary["rationale"]["inputs"]["viewing"]["channel"] == RANDOM


async def test_a_first_question_that_shows_no_status_still_names_the_thread(rig: SlackRig) -> None:
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=RANDOM)
    await rig.fake.wait_calls("chat.postMessage", 1)
    await say(rig, "summarize", thread_ts=thread_ts)  # summarize says nothing while it works
    await eventually(lambda: _count(answers(rig)), 1)
    [title] = await rig.fake.wait_calls("assistant.threads.setTitle")
    assert title.args == {"channel_id": DM_ALICE, "thread_ts": thread_ts, "title": "summarize"}


async def _posted_ts(rig: SlackRig, decision_id: str) -> str:
    record = await rig.services.storage.decisions.get(decision_id)
    return str((record.posted_ref or {}).get("ts", "")) if record else ""


async def _greeting_context(rig: SlackRig, thread_ts: str) -> str:
    for m in rig.fake.channels[DM_ALICE].messages:
        if m.get("user") == BOT_USER and m.get("thread_ts") == thread_ts and m.get("metadata"):
            return str(m["metadata"]["event_payload"].get("channel_id"))
    return ""


async def test_a_channel_the_person_cannot_see_is_never_a_scope_nor_named(rig: SlackRig) -> None:
    """Bob is not in #secret-plans. Whatever Slack (or a forged payload) says he is looking at, prompts never
    name it and his answers neither search it nor mention it."""
    await seed(rig)
    thread_ts = await start_thread(rig, user=BOB, dm=DM_BOB, viewing=SECRET)
    [prompts] = await rig.fake.wait_calls("assistant.threads.setSuggestedPrompts")
    assert "secret" not in json.dumps(prompts.args).lower()
    await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts, user=BOB, dm=DM_BOB)
    await say(rig, "summarize", thread_ts=thread_ts, user=BOB, dm=DM_BOB)
    await eventually(lambda: _count(answers(rig, DM_BOB)), 2)
    shown = json.dumps([m["blocks"] for m in answers(rig, DM_BOB)]).lower()
    assert "initech" not in shown and "secret" not in shown
    for message in answers(rig, DM_BOB):
        reply = await decision(rig, message)
        assert reply["rationale"]["inputs"]["viewing"] is None
        assert "secret" not in json.dumps(reply).lower() and "initech" not in json.dumps(reply).lower()
    statuses = " ".join(c.args["status"] for c in rig.fake.called("assistant.threads.setStatus"))
    assert "secret" not in statuses


async def test_retried_assistant_events_are_carried_out_once(rig: SlackRig) -> None:
    await seed(rig)
    thread_ts = await start_thread(rig, event_id="EvOpen")
    await rig.fake.wait_calls("assistant.threads.setSuggestedPrompts")
    response = await rig.event({"type": "assistant_thread_started", "event_ts": thread_ts, "assistant_thread": {
        "user_id": ALICE, "context": {"channel_id": GENERAL}, "channel_id": DM_ALICE, "thread_ts": thread_ts}},
        event_id="EvOpen", retry=1)
    assert response.status == 200
    ts = await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts, event_id="EvAsk")
    await eventually(lambda: _count(answers(rig)), 1)
    again = await rig.event({"type": "message", "channel": DM_ALICE, "user": ALICE, "channel_type": "im",
                             "text": "when does the deploy freeze start?", "ts": ts, "thread_ts": thread_ts},
                            event_id="EvAsk", retry=1)
    assert again.status == 200
    await settled(rig.services)
    assert len(answers(rig)) == 1
    assert len([c for c in rig.posted(DM_ALICE) if "metadata" in c and c["metadata"]["event_type"]
                == "assistant_thread_context"]) == 1
    assert len(rig.fake.called("assistant.threads.setSuggestedPrompts")) == 1


@pytest.mark.parametrize("assistant_thread", [
    None, "thread", [], {"user_id": ALICE, "channel_id": DM_ALICE}, {"user_id": 7, "channel_id": DM_ALICE,
                                                                      "thread_ts": "1.0"},
    {"user_id": ALICE, "channel_id": {"id": DM_ALICE}, "thread_ts": "1.0", "context": "general"},
])
async def test_a_malformed_assistant_event_is_acknowledged_cleanly(rig: SlackRig, assistant_thread: Any) -> None:
    event: dict[str, Any] = {"type": "assistant_thread_started", "event_ts": "1.0"}
    if assistant_thread is not None:
        event["assistant_thread"] = assistant_thread
    for kind in ("assistant_thread_started", "assistant_thread_context_changed"):
        response = await rig.event({**event, "type": kind})
        assert response.status in (200, 400), await response.text()
    await settled(rig.services)
    assert not rig.fake.called("assistant.threads.setSuggestedPrompts") and not rig.posted()


async def test_malformed_view_contexts_are_ignored_not_fatal(rig: SlackRig) -> None:
    await seed(rig)
    for context in ("general", {"entities": "x"}, {"entities": [7, {"type": "slack#/types/channel_id",
                                                                  "value": {"id": GENERAL}}]}):
        await say(rig, "when does the deploy freeze start?", thread_ts=None, app_context=context)  # type: ignore
    await eventually(lambda: _count(answers(rig)), 3)
    for message in answers(rig):
        assert (await decision(rig, message))["rationale"]["inputs"]["viewing"] is None
    response = await rig.event({"type": "app_context_changed", "user": ALICE, "channel": DM_ALICE,
                                "context": {"entities": [None, 3]}})
    assert response.status == 200


# the agent view ------------------------------------------------------------------------------------


async def test_agent_view_prompts_on_opening_and_answers_each_message_in_its_own_thread(rig: SlackRig) -> None:
    await seed(rig)
    response = await rig.event({"type": "app_home_opened", "user": ALICE, "channel": DM_ALICE, "tab": "messages",
                                "event_ts": rig.fake.next_ts()})
    assert response.status == 200
    [prompts] = await rig.fake.wait_calls("assistant.threads.setSuggestedPrompts")
    assert prompts.args["channel_id"] == DM_ALICE and "thread_ts" not in prompts.args
    home = await rig.event({"type": "app_home_opened", "user": ALICE, "channel": DM_ALICE, "tab": "home",
                            "event_ts": rig.fake.next_ts()})
    assert home.status == 200  # the Home tab is not the conversation: no prompts for it
    await rig.event({"type": "app_context_changed", "user": ALICE, "channel": DM_ALICE, "event_ts": "1.0",
                     "context": viewing(RANDOM)})
    await rig.fake.wait_calls("assistant.threads.setSuggestedPrompts", 2)
    assert "#random" in rig.fake.called("assistant.threads.setSuggestedPrompts")[-1].args["title"]
    ts = await say(rig, "when does the deploy freeze start?", thread_ts=None, app_context=viewing(RANDOM))
    await eventually(lambda: _count(answers(rig)), 1)
    [answer] = answers(rig)
    assert answer["thread_ts"] == ts  # the agent view threads each new message
    assert "store review" in json.dumps(answer["blocks"])
    assert (await decision(rig, answer))["rationale"]["inputs"]["viewing"]["channel"] == RANDOM
    [status, *_] = rig.fake.called("assistant.threads.setStatus")
    assert status.args["thread_ts"] == ts and "#random" in status.args["status"]
    assert rig.fake.called("assistant.threads.setTitle")[0].args["thread_ts"] == ts
    await settled(rig.services)
    assert len(rig.fake.called("assistant.threads.setSuggestedPrompts")) == 2


# streaming -----------------------------------------------------------------------------------------


@pytest.fixture
async def openai() -> Any:
    async with FakeOpenAI() as fake:
        fake.stream_words = 2
        yield fake


def llm_answer(body: dict[str, Any]) -> str:
    n = source_number(body["messages"][1]["content"], "payment migration")
    return f"The deploy freeze starts on Friday, because the payment migration is risky [{n}]."


async def llm_rig(make_rig: RigFactory, openai: FakeOpenAI, **kw: Any) -> SlackRig:
    openai.answer(llm_answer)
    return await make_rig(OPENAI_BASE_URL=openai.base_url, OPENAI_API_KEY="test-key",
                          WHYBOT_LLM_MODEL="gpt-4o-mini", **kw)


async def test_an_llm_answer_is_streamed_then_becomes_the_reply_with_why(make_rig: RigFactory,
                                                                          openai: FakeOpenAI) -> None:
    rig = await llm_rig(make_rig, openai)
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=GENERAL)
    await rig.fake.wait_calls("chat.postMessage", 1)
    await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts, event_id="EvStream")
    await eventually(lambda: _count(answers(rig)), 1)
    [start] = rig.fake.called("chat.startStream")
    assert start.args["channel"] == DM_ALICE and start.args["thread_ts"] == thread_ts
    appended = rig.fake.called("chat.appendStream")
    assert appended, "the text grows while the model writes"
    [stop] = rig.fake.called("chat.stopStream")
    [answer] = answers(rig)
    assert all(c.args["ts"] == answer["ts"] for c in [*appended, stop]) and "streaming" not in answer
    assert answer["metadata"]["event_type"] == "whybot_reply" and stop.args["metadata"] == answer["metadata"]
    assert "payment migration" in json.dumps(answer["blocks"])
    assert [c for c in rig.posted(DM_ALICE) if c.get("thread_ts") == thread_ts] == \
        [c for c in rig.posted(DM_ALICE) if "assistant_thread_context" in json.dumps(c.get("metadata"))], \
        "no second message: the streamed one became the reply"
    await eventually(lambda: _posted_ts(rig, why_value(answer)), answer["ts"])  # Why? finds this message
    again = await rig.event({"type": "message", "channel": DM_ALICE, "user": ALICE, "channel_type": "im",
                             "text": "when does the deploy freeze start?", "ts": "9.0", "thread_ts": thread_ts},
                            event_id="EvStream", retry=1)
    assert again.status == 200
    await settled(rig.services)
    assert len(rig.fake.called("chat.startStream")) == 1 and len(answers(rig)) == 1


async def test_a_mention_in_a_channel_shows_a_status_and_is_posted_whole(make_rig: RigFactory,
                                                                        openai: FakeOpenAI) -> None:
    """Not streamed where everyone reads: a worker dying mid-stream would leave half an answer beside the whole
    one its retry posts. The thread's status line (setStatus takes chat:write now) says what is happening."""
    rig = await llm_rig(make_rig, openai)
    await seed(rig)
    response = await rig.mention(GENERAL, BOB, "when does the deploy freeze start?", ts="1700000500.000100")
    assert response.status == 200
    [posted] = await rig.fake.wait_calls("chat.postMessage")
    assert posted.args["thread_ts"] == "1700000500.000100" and render.WHY in json.dumps(posted.args["blocks"])
    await settled(rig.services)
    assert not rig.fake.called("chat.startStream") and not rig.fake.called("chat.update")
    statuses = rig.fake.called("assistant.threads.setStatus")
    assert statuses and all(c.args["channel_id"] == GENERAL and c.args["thread_ts"] == "1700000500.000100"
                            for c in statuses)
    assert not rig.fake.called("assistant.threads.setTitle")  # a channel thread is not the bot's to name


async def test_where_streaming_is_unavailable_the_text_is_posted_and_redrawn(make_rig: RigFactory,
                                                                             openai: FakeOpenAI) -> None:
    rig = await llm_rig(make_rig, openai)
    await seed(rig)
    thread_ts = await start_thread(rig, viewing=GENERAL)
    await rig.fake.wait_calls("chat.postMessage", 1)
    rig.fake.fail_next("chat.startStream", 200, body={"ok": False, "error": "feature_not_enabled"})
    await say(rig, "when does the deploy freeze start?", thread_ts=thread_ts)
    await eventually(lambda: _count(answers(rig)), 1)
    [answer] = answers(rig)
    posted = [c.args for c in rig.fake.called("chat.postMessage") if c.args.get("thread_ts") == thread_ts]
    assert len(posted) == 2 and "blocks" not in posted[1]  # the greeting, then the text while it was written
    assert answer["metadata"]["event_type"] == "whybot_reply" and not rig.fake.called("chat.appendStream")
    assert "payment migration" in json.dumps(answer["blocks"])
