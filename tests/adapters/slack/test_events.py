"""Events end to end: the real bolt AsyncApp against the fake Slack Web API, over signed HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time

import pytest

from adapters.slack import render
from storage import tenant_key
from tests.adapters.slack.conftest import (
    ALICE,
    BOB,
    DM_ALICE,
    GENERAL,
    SECRET,
    RigFactory,
    SlackRig,
    SlowGenerator,
    eventually,
)
from tests.conftest import settled
from tests.peers.slack import BOT_ID, BOT_USER, TEAM, FakeChannel

TENANT = tenant_key("slack", TEAM)


def why_buttons(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == "Why?"]


async def seed(rig: SlackRig) -> None:
    await rig.message(GENERAL, ALICE, "The deploy freeze starts Friday because the payment migration is risky.")
    await rig.message(GENERAL, BOB, "Lunch is at noon today in the big room.")


async def test_mention_is_answered_in_its_thread_with_a_why_button(rig: SlackRig) -> None:
    await seed(rig)
    response = await rig.mention(GENERAL, BOB, "why does the deploy freeze start Friday?", ts="1700000500.000100")
    assert response.status == 200
    [call] = await rig.fake.wait_calls("chat.postMessage")
    assert call.args["channel"] == GENERAL and call.args["thread_ts"] == "1700000500.000100"
    assert call.token == "xoxb-fake-token"
    [why] = why_buttons(call.args["blocks"])
    decision = await rig.services.storage.decisions.get(why["value"])
    assert decision is not None and decision.skill == "ask"
    assert decision.rationale["inputs"]["query"] and "<@" not in decision.rationale["inputs"]["query"], \
        "the bot mention is stripped before the router sees the text"
    assert "payment migration" in json.dumps(call.args["blocks"])
    await eventually(lambda: _posted_ts(rig, why["value"]), "1700")  # the posted ts is stored for Why?


async def _posted_ts(rig: SlackRig, decision_id: str) -> str:
    record = await rig.services.storage.decisions.get(decision_id)
    return str((record.posted_ref or {}).get("ts", "")) if record else ""


async def test_a_retried_event_is_answered_once(rig: SlackRig) -> None:
    first = await rig.mention(GENERAL, ALICE, "help", event_id="EvSame")
    assert first.status == 200
    await rig.fake.wait_calls("chat.postMessage")
    for attempt in (1, 2, 3):
        again = await rig.mention(GENERAL, ALICE, "help", event_id="EvSame", retry=attempt)
        assert again.status == 200
    await settled(rig.services)
    assert len(rig.fake.called("chat.postMessage")) == 1


async def test_a_retry_whose_first_delivery_was_lost_is_handled(rig: SlackRig) -> None:
    response = await rig.mention(GENERAL, ALICE, "help", event_id="EvLost", retry=1)
    assert response.status == 200
    await rig.fake.wait_calls("chat.postMessage")


async def test_retries_across_restarts_and_replicas_sharing_a_database(make_rig: RigFactory, db_url: str) -> None:
    """Two servers on one database (SQLite file or PostgreSQL): the event is answered by exactly one."""
    one = await make_rig(db_url=db_url)
    two = await make_rig(db_url=db_url, fake=one.fake)
    sends = [one.mention(GENERAL, ALICE, "help", event_id="EvReplica", ts="1700000600.000001"),
             two.mention(GENERAL, ALICE, "help", event_id="EvReplica", ts="1700000600.000001", retry=1),
             two.mention(GENERAL, ALICE, "help", event_id="EvReplica", ts="1700000600.000001", retry=2)]
    assert [r.status for r in await asyncio.gather(*sends)] == [200, 200, 200]
    await one.fake.wait_calls("chat.postMessage")
    await settled(one.services)
    await settled(two.services)
    assert len(one.fake.called("chat.postMessage")) == 1


async def test_an_event_the_database_cannot_take_is_refused_then_answered_on_retry(make_rig: RigFactory,
                                                                                  sqlite_url: str) -> None:
    """No 2xx for work that is not durable: while another writer holds the SQLite lock past the inbox's
    write timeout, Slack gets a 5xx in time (and retries); the retry is acknowledged and answered once."""
    rig = await make_rig(WHYBOT_INBOX_WRITE_TIMEOUT="2.0")
    assert (await rig.mention(GENERAL, ALICE, "help")).status == 200  # Bolt's one auth.test, off the clock
    await rig.fake.wait_calls("chat.postMessage")
    locker = sqlite3.connect(sqlite_url.split("///", 1)[1], timeout=1, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # the write lock: every other writer waits
        started = time.monotonic()
        response = await asyncio.wait_for(rig.mention(GENERAL, BOB, "help", event_id="EvBusyDb"), 3.0)
        assert response.status >= 500 and time.monotonic() - started < 3.0
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    again = await rig.mention(GENERAL, BOB, "help", event_id="EvBusyDb", retry=1)
    assert again.status == 200
    await rig.fake.wait_calls("chat.postMessage", 2)
    third = await rig.mention(GENERAL, BOB, "help", event_id="EvBusyDb", retry=2)
    assert third.status == 200
    await settled(rig.services)
    assert len(rig.fake.called("chat.postMessage")) == 2, "a retry of a queued event is not answered twice"


async def test_a_burst_is_acked_at_once_and_answered_a_few_at_a_time(make_rig: RigFactory) -> None:
    rig = await make_rig(generator=SlowGenerator(0.3), WHYBOT_WORKER_CONCURRENCY="1")
    await seed(rig)
    await rig.mention(GENERAL, ALICE, "help")
    await rig.fake.wait_calls("chat.postMessage")
    responses = await asyncio.gather(*(rig.mention(GENERAL, ALICE, "why does the deploy freeze start Friday?")
                                       for _ in range(3)))
    all_acked = time.monotonic()
    assert [r.status for r in responses] == [200, 200, 200]
    calls = await rig.fake.wait_calls("chat.postMessage", 4)
    assert all_acked < calls[1].at, "all three were acked before the first of them was answered"
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls[1:])]
    assert all(gap >= 0.25 for gap in gaps), f"one answer at a time, each ~0.3 s: {gaps}"


async def test_the_bot_ignores_its_own_messages(rig: SlackRig) -> None:
    own = {"type": "message", "channel": DM_ALICE, "channel_type": "im", "user": BOT_USER, "bot_id": BOT_ID,
           "text": "ask me anything", "ts": rig.fake.next_ts()}
    assert (await rig.event(own)).status == 200
    await settled(rig.services)
    assert not rig.fake.called("chat.postMessage")
    assert await rig.services.storage.messages.count(TENANT) == 0


async def test_messages_are_stored_edited_and_deleted_in_storage_and_index(rig: SlackRig) -> None:
    ts = await rig.message(GENERAL, ALICE, "The quarterly budget review moved to Thursday.")
    await rig.fake.wait_for(lambda: bool(rig.fake.called("conversations.info")))
    await settled(rig.services)
    stored = await rig.services.storage.messages.find(TENANT, GENERAL, ts)
    assert stored is not None and "Thursday" in stored.text
    channel = await rig.services.storage.workspace.channel(TENANT, GENERAL)
    assert channel is not None and channel.name == "general" and not channel.is_private

    edit = {"type": "message", "subtype": "message_changed", "channel": GENERAL, "channel_type": "channel",
            "ts": rig.fake.next_ts(), "event_ts": rig.fake.next_ts(),
            "message": {"type": "message", "user": ALICE, "text": "The quarterly budget review moved to Monday.",
                        "ts": ts, "edited": {"user": ALICE, "ts": rig.fake.next_ts()}},
            "previous_message": {"type": "message", "user": ALICE, "ts": ts, "text": "old"}}
    assert (await rig.event(edit)).status == 200
    await eventually(lambda: _text(rig, ts), "Monday")
    channel = await rig.services.storage.workspace.channel(TENANT, GENERAL)
    assert channel is not None
    found = await rig.services.retriever.search(TENANT, "budget review Monday", frozenset({channel.id}))
    assert [h for h in found.hits if "Monday" in h.text], "the edited text is searchable"

    delete = {"type": "message", "subtype": "message_deleted", "channel": GENERAL, "channel_type": "channel",
              "ts": rig.fake.next_ts(), "deleted_ts": ts, "event_ts": rig.fake.next_ts(),
              "previous_message": {"type": "message", "user": ALICE, "ts": ts, "text": "x"}}
    assert (await rig.event(delete)).status == 200
    await eventually(lambda: _deleted(rig, ts), True)
    await rig.mention(GENERAL, BOB, "when is the quarterly budget review?")
    [answer] = await rig.fake.wait_calls("chat.postMessage")
    assert "Monday" not in json.dumps(answer.args["blocks"]), "a deleted message is gone from the index"


async def _text(rig: SlackRig, ts: str) -> str:
    found = await rig.services.storage.messages.find(TENANT, GENERAL, ts)
    return found.text if found else ""


async def _deleted(rig: SlackRig, ts: str) -> bool:
    found = await rig.services.storage.messages.find(TENANT, GENERAL, ts)
    return bool(found and found.deleted)


async def test_direct_messages_are_answered_in_the_dm(rig: SlackRig) -> None:
    ts = rig.fake.next_ts()
    dm = {"type": "message", "channel": DM_ALICE, "channel_type": "im", "user": ALICE, "text": "help", "ts": ts}
    assert (await rig.event(dm)).status == 200
    [call] = await rig.fake.wait_calls("chat.postMessage")
    assert call.args["channel"] == DM_ALICE and not call.args.get("thread_ts")
    assert why_buttons(call.args["blocks"])
    channel = await rig.services.storage.workspace.channel(TENANT, DM_ALICE)
    assert channel is not None and channel.kind == "dm" and channel.member_ids == {ALICE, BOT_USER}


async def test_private_channel_privacy_and_members_are_learned(rig: SlackRig) -> None:
    await rig.message(SECRET, ALICE, "The acquisition target is Initech.", channel_type="group")
    await eventually(lambda: _is_private(rig), True)
    channel = await rig.services.storage.workspace.channel(TENANT, SECRET)
    assert channel is not None and channel.member_ids == {ALICE, BOT_USER}


async def _is_private(rig: SlackRig) -> bool:
    channel = await rig.services.storage.workspace.channel(TENANT, SECRET)
    return bool(channel and channel.is_private and channel.name == "secret-plans")


async def test_joining_a_channel_backfills_its_history_page_by_page(rig: SlackRig) -> None:
    history = rig.fake.add_channel(FakeChannel("CHIST", "history", members=[ALICE, BOB]))
    now = rig.services.clock().timestamp()
    for i in range(450):
        history.messages.append({"type": "message", "user": ALICE if i % 2 else BOB, "ts": f"{now - 3600 + i:.6f}",
                                 "text": f"status update number {i} about the kiwi project"})
    root = history.messages[10]
    root["reply_count"] = 3
    for j in range(3):
        history.messages.append({"type": "message", "user": BOB, "ts": f"{now - 100 + j:.6f}",
                                 "thread_ts": root["ts"], "text": f"reply {j} in the kiwi thread"})
    history.members.append(BOT_USER)
    joined = {"type": "member_joined_channel", "user": BOT_USER, "channel": "CHIST", "channel_type": "C",
              "team": TEAM, "event_ts": rig.fake.next_ts()}
    assert (await rig.event(joined)).status == 200
    await eventually(lambda: rig.services.storage.messages.count(TENANT), 453, within=10)
    pages = rig.fake.called("conversations.history")
    assert len(pages) == 3 and pages[1].args.get("cursor"), "paginated with the cursor"
    assert rig.fake.called("conversations.replies")
    thread = await rig.services.storage.messages.thread(TENANT, "CHIST", root["ts"])
    assert len(thread) == 4


async def test_backfill_waits_out_rate_limits(rig: SlackRig) -> None:
    history = rig.fake.add_channel(FakeChannel("CRATE", "rate", members=[ALICE, BOT_USER]))
    now = rig.services.clock().timestamp()
    history.messages += [{"type": "message", "user": ALICE, "ts": f"{now - 60 + i:.6f}", "text": f"m{i}"}
                         for i in range(5)]
    rig.fake.fail_next("conversations.history", 429, headers={"Retry-After": "1"},
                       body={"ok": False, "error": "ratelimited"})
    joined = {"type": "member_joined_channel", "user": BOT_USER, "channel": "CRATE", "event_ts": "1.0"}
    assert (await rig.event(joined)).status == 200
    await eventually(lambda: rig.services.storage.messages.count(TENANT), 5, within=10)
    first, second = rig.fake.called("conversations.history")[:2]
    assert second.at - first.at >= 0.9, "Retry-After was honoured"


async def test_member_joins_and_leaves_update_membership(rig: SlackRig) -> None:
    await rig.message(SECRET, ALICE, "hello", channel_type="group")
    await eventually(lambda: _is_private(rig), True)
    await rig.event({"type": "member_joined_channel", "user": BOB, "channel": SECRET, "event_ts": "1.0"})
    await eventually(lambda: _members(rig), frozenset({ALICE, BOB, BOT_USER}))
    await rig.event({"type": "member_left_channel", "user": BOB, "channel": SECRET, "event_ts": "2.0"})
    await eventually(lambda: _members(rig), frozenset({ALICE, BOT_USER}))


async def _members(rig: SlackRig) -> frozenset[str]:
    channel = await rig.services.storage.workspace.channel(TENANT, SECRET)
    return channel.member_ids if channel else frozenset()


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
async def test_uninstall_deletes_the_workspace_data(rig: SlackRig, kind: str) -> None:
    await rig.message(GENERAL, ALICE, "something to forget")
    await eventually(lambda: rig.services.storage.messages.count(TENANT), 1)
    event = {"type": kind, "event_ts": "1.0"}
    if kind == "tokens_revoked":
        event["tokens"] = {"oauth": [], "bot": [BOT_USER]}
    assert (await rig.event(event)).status == 200
    await eventually(lambda: rig.services.storage.workspace.tenant_exists(TENANT), False)


async def test_uninstall_keeps_data_when_configured_to(make_rig: RigFactory) -> None:
    rig = await make_rig(WHYBOT_DELETE_DATA_ON_UNINSTALL="false")
    await rig.message(GENERAL, ALICE, "something to keep")
    await eventually(lambda: rig.services.storage.messages.count(TENANT), 1)
    assert (await rig.event({"type": "app_uninstalled", "event_ts": "1.0"})).status == 200
    await settled(rig.services)
    assert await rig.services.storage.messages.count(TENANT) == 1


def test_why_button_constant_is_exact() -> None:
    assert render.WHY_TEXT == "Why?"


async def test_slackbot_notices_and_file_shares_in_the_dm_are_stored_but_never_answered(rig: SlackRig) -> None:
    """Shapes as Slack sends them (api.slack.com/events/message/file_share; Slackbot's DM notices carry
    user USLACKBOT and no bot_id): both are history, neither is a question to answer."""
    notice_ts, file_ts = rig.fake.next_ts(), rig.fake.next_ts()
    notice = {"type": "message", "channel": DM_ALICE, "channel_type": "im", "user": "USLACKBOT",
              "text": "You have been added to #general by Bob.", "ts": notice_ts, "event_ts": notice_ts}
    shared = {"type": "message", "subtype": "file_share", "channel": DM_ALICE, "channel_type": "im", "user": ALICE,
              "text": "here is the runbook", "ts": file_ts, "event_ts": file_ts,
              "files": [{"id": "F1", "name": "runbook.pdf", "mimetype": "application/pdf"}]}
    assert (await rig.event(notice)).status == 200
    assert (await rig.event(shared)).status == 200
    await settled(rig.services)
    assert not rig.fake.called("chat.postMessage")
    for ts in (notice_ts, file_ts):
        assert await rig.services.storage.messages.find(tenant_key("slack", TEAM), DM_ALICE, ts) is not None
