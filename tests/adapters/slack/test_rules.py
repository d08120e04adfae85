"""Channel rules, rate limits and "why didn't you answer?" on Slack, through bolt and the fake Web API:
`/whybot settings` by admins and others, an excluded channel, answering questions without a mention,
digest defaults, and the ephemeral messages that say why whybot stayed silent."""

from __future__ import annotations

import json
from typing import Any

from bot import unanswered
from bot.pipeline import ANSWERED_UNASKED
from storage import tenant_key
from tests.adapters.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    DM_ALICE,
    GENERAL,
    RigFactory,
    SlackRig,
    eventually,
)
from tests.conftest import settled
from tests.peers.slack import BOT_USER, TEAM, FakeChannel

TENANT = tenant_key("slack", TEAM)
RANDOM = "CRANDOM"
CHANNEL_RULES = "the channel's creator and workspace admins or owners"


def roles(rig: SlackRig) -> None:
    """Alice is a workspace admin, Carol created #general, Bob is neither."""
    rig.fake.add_user(ALICE, "Alice", tz="Europe/Berlin", is_admin=True)
    rig.fake.channels[GENERAL].creator = CAROL
    rig.fake.add_channel(FakeChannel(RANDOM, "random", members=[ALICE, BOB, CAROL, BOT_USER], creator=CAROL))


async def answer_to(rig: SlackRig, hook: str) -> dict[str, Any]:
    """The private answer to a slash command (through its response_url)."""
    await rig.fake.wait_for(lambda: any(r["_path"] == hook for r in rig.fake.responses))
    return [r for r in rig.fake.responses if r["_path"] == hook][-1]


async def command(rig: SlackRig, text: str, *, user: str, channel: str = GENERAL, name: str = "general",
                  hook: str) -> str:
    response = await rig.command(text, user=user, channel=channel, channel_name=name, hook=hook)
    assert response.status == 200
    return json.dumps(await answer_to(rig, hook))


async def say(rig: SlackRig, channel: str, user: str, text: str, *, thread_ts: str | None = None) -> str:
    """A plain message, without waiting for it to be stored (it may not be)."""
    ts = rig.fake.next_ts()
    event: dict[str, Any] = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                             "event_ts": ts, "channel_type": "channel"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    assert (await rig.event(event)).status == 200
    await settled(rig.services)
    return ts


def ephemerals(rig: SlackRig, user: str) -> list[dict[str, Any]]:
    return [c.args for c in rig.fake.called("chat.postEphemeral") if c.args.get("user") == user]


async def test_an_excluded_channel_is_forgotten_never_read_never_cited_and_says_why(rig: SlackRig) -> None:
    roles(rig)
    kiwi = await rig.message(RANDOM, BOB, "The kiwi launch date is March 3 because legal signed off on the contract.")
    await rig.message(GENERAL, CAROL, "The deploy freeze starts Friday.")
    await rig.mention(GENERAL, BOB, "when is the kiwi launch date?")
    [before] = await rig.fake.wait_calls("chat.postMessage")
    assert "March 3" in json.dumps(before.args["blocks"]), "answered from #random while it was read"

    reply = await command(rig, "settings exclude", user=ALICE, channel=RANDOM, name="random", hook="exclude")
    assert "Excluded #random" in reply and "deleted the 1 message" in reply
    assert await rig.services.storage.messages.find(TENANT, RANDOM, kiwi) is None
    assert not await rig.services.storage.messages.channel_messages(TENANT, RANDOM)

    said = await say(rig, RANDOM, BOB, "The kiwi launch moves to April 9, keep it quiet.")
    edit = {"type": "message", "subtype": "message_changed", "channel": RANDOM, "channel_type": "channel",
            "message": {"type": "message", "user": BOB, "text": "April 10 actually", "ts": said,
                        "edited": {"user": BOB, "ts": rig.fake.next_ts()}},
            "previous_message": {"type": "message", "user": BOB, "text": "x", "ts": said}, "event_ts": "1.0"}
    assert (await rig.event(edit)).status == 200
    await settled(rig.services)  # an edit there is dropped at once, not retried as "not stored yet"
    assert await rig.services.storage.messages.find(TENANT, RANDOM, said) is None, "new messages are not stored"

    await rig.mention(GENERAL, BOB, "when is the kiwi launch date?")
    posts = await rig.fake.wait_calls("chat.postMessage", 2)
    elsewhere = json.dumps(posts[-1].args["blocks"])
    assert "March 3" not in elsewhere and "April" not in elsewhere and RANDOM not in elsewhere

    await rig.mention(RANDOM, BOB, "when is the kiwi launch?")
    await settled(rig.services)
    [why_not] = ephemerals(rig, BOB)
    assert why_not["channel"] == RANDOM and "I don't read #random" in why_not["text"]
    assert "settings include" in why_not["text"]
    assert not rig.posted(RANDOM), "nothing is posted in the excluded channel"
    [silence] = await unanswered.recent(rig.services.storage, TENANT, since=rig.services.clock().replace(year=2000))
    assert silence.reason == unanswered.Reason.EXCLUDED and silence.user == BOB and silence.channel == RANDOM

    reply = await command(rig, "settings", user=BOB, channel=RANDOM, name="random", hook="show-excluded")
    assert "This channel is excluded" in reply, "settings still answers there, so it can be included again"
    reply = await command(rig, "settings include", user=ALICE, channel=RANDOM, name="random", hook="include")
    assert "I read #random again" in reply
    await rig.message(RANDOM, BOB, "The kiwi launch is confirmed for April 9.")


async def test_only_the_creator_or_an_admin_changes_a_channels_rules(rig: SlackRig) -> None:
    roles(rig)
    refused = await command(rig, "settings answer questions", user=BOB, hook="bob")
    assert "Only some people can change this" in refused and CHANNEL_RULES in refused
    assert (await rig.services.storage.channel_rules.get(TENANT, GENERAL)) is None, "nothing changed"
    assert "Why?" in refused, "a refusal carries Why? like every reply"

    allowed = await command(rig, "settings answer questions", user=CAROL, hook="carol")
    assert "answering questions" in allowed
    rules = await rig.services.storage.channel_rules.get(TENANT, GENERAL)
    assert rules is not None and rules.answer_mode == "questions" and rules.updated_by == CAROL
    newest, *_ = await rig.services.storage.decisions.by_skill(TENANT, "settings",
                                                               since=rig.services.clock().replace(year=2000))
    decision = newest
    assert decision.rationale["rules"] == ["changing rules here: you created this channel"]

    shown = await command(rig, "settings", user=ALICE, hook="alice")
    assert "questions asked here without a mention" in shown and "(you can)" in shown
    looked_up = len(rig.fake.called("users.info"))
    await command(rig, "settings", user=ALICE, hook="alice-again")
    assert len(rig.fake.called("users.info")) == looked_up, "admin flags are remembered, not asked every time"


async def test_questions_in_the_channel_are_answered_only_where_the_rule_says(rig: SlackRig) -> None:
    roles(rig)
    await rig.message(GENERAL, CAROL, "The deploy freeze starts Friday at 17:00 because of the payment migration.")
    await say(rig, GENERAL, BOB, "When does the deploy freeze start on Friday?")
    assert not rig.posted(), "by default whybot answers only when mentioned"

    await command(rig, "settings answer questions", user=ALICE, hook="set")
    asked = await say(rig, GENERAL, BOB, "When does the deploy freeze start on Friday?")
    [answer] = await rig.fake.wait_calls("chat.postMessage")
    assert answer.args["thread_ts"] == asked and "17:00" in json.dumps(answer.args["blocks"])
    why = [e for b in answer.args["blocks"] if b["type"] == "actions" for e in b["elements"]
           if e["text"]["text"] == "Why?"]
    decision = await rig.services.storage.decisions.get(why[0]["value"])
    assert decision is not None and ANSWERED_UNASKED in decision.rationale["rules"]

    await say(rig, GENERAL, BOB, "The deploy freeze is annoying but fine.")
    root = await say(rig, GENERAL, ALICE, "Planning the offsite agenda today.")
    await say(rig, GENERAL, BOB, "When does the deploy freeze start on Friday?", thread_ts=root)
    await say(rig, GENERAL, BOB, "Is anyone around for lunch?")
    await say(rig, GENERAL, BOB, f"<@{CAROL}> when does the deploy freeze start?")
    assert len(rig.posted()) == 1, "no statement, thread chatter, small talk or question to someone else"


async def test_rate_limits_refuse_with_a_private_note_and_no_reply(make_rig: RigFactory) -> None:
    rig = await make_rig(WHYBOT_RATE_LIMIT_PER_MINUTE=2, WHYBOT_RATE_LIMIT_PER_HOUR=20)
    await rig.message(GENERAL, CAROL, "The deploy freeze starts Friday.")
    for _ in range(2):
        await rig.mention(GENERAL, ALICE, "when does the deploy freeze start?")
    await rig.fake.wait_calls("chat.postMessage", 2)
    await rig.mention(GENERAL, ALICE, "when does the deploy freeze start?")
    await settled(rig.services)
    assert len(rig.posted()) == 2, "the third question is not answered"
    [note] = ephemerals(rig, ALICE)
    assert note["text"].startswith("You've asked me 2 questions in the last minute; try again in ")
    assert note["text"].endswith("seconds.")
    await rig.mention(GENERAL, BOB, "when does the deploy freeze start?")
    await rig.fake.wait_calls("chat.postMessage", 3)  # limits are per person
    assert (await rig.command("help", user=ALICE, hook="help")).status == 200
    await answer_to(rig, "help")  # help is never limited: it is how a person finds out what to do


async def test_digest_without_arguments_uses_the_channels_defaults(rig: SlackRig) -> None:
    roles(rig)
    now = rig.services.clock().timestamp()
    history = rig.fake.channels[GENERAL]
    for i, text in enumerate(["Release 4.2 is blocked on the flaky checkout test.",
                              "Decision: we move the launch to Thursday.",
                              "Incident: payments 5xx since 09:10, rolling back.",
                              "Lunch is pizza."]):
        await rig.message(GENERAL, BOB, text, ts=f"{now - 3 * 86400 - 60 * i:.6f}")
    set_reply = await command(rig, "settings digest top 2 7d daily 8:30", user=CAROL, hook="defaults")
    assert "top 2 threads of the last 7d, daily at 08:30" in set_reply
    assert history.creator == CAROL
    assert (await rig.command("digest", user=BOB, hook="digest")).status == 200
    [post] = await rig.fake.wait_calls("chat.postMessage")
    blocks = json.dumps(post.args["blocks"])
    assert "last 7d" in blocks, "the channel's window, not the global 24 hours"
    decision = await rig.services.storage.decisions.get(post.args["metadata"]["event_payload"]["decision_id"])
    assert decision is not None and len(decision.reply["sections"][0]["items"]) == 2
    await command(rig, "digest on", user=BOB, hook="on")
    sub = await rig.services.storage.subscriptions.for_channel(TENANT, GENERAL)
    assert sub is not None and (sub.cron, sub.top_n, sub.tz) == ("30 8 * * *", 2, "Asia/Tokyo"), \
        "the default schedule, in the time zone of whoever set it"


async def test_malformed_settings_get_their_usage_never_an_error(rig: SlackRig) -> None:
    roles(rig)
    for n, text in enumerate(["settings frobnicate", "settings answer sometimes", "settings digest daily 25:00",
                              "settings digest top 99", "settings digest tz=Mars/Olympus", "settings answer",
                              "settings digest", "settings exclude now please"]):
        reply = await command(rig, text, user=ALICE, hook=f"bad{n}")
        assert "Usage" in reply and "settings answer mentions|questions" in reply, text
    assert (await rig.services.storage.channel_rules.get(TENANT, GENERAL)) is None


async def test_a_file_in_the_dm_and_a_bots_mention_are_not_answered(rig: SlackRig) -> None:
    ts = rig.fake.next_ts()
    upload = {"type": "message", "subtype": "file_share", "channel": DM_ALICE, "channel_type": "im", "user": ALICE,
              "text": "", "ts": ts, "event_ts": ts, "files": [{"id": "F1", "name": "q3.pdf"}]}
    assert (await rig.event(upload)).status == 200
    await settled(rig.services)
    [note] = ephemerals(rig, ALICE)
    assert note["channel"] == DM_ALICE and "only read text" in note["text"]
    ts = rig.fake.next_ts()
    bot = {"type": "app_mention", "channel": GENERAL, "user": "UOTHERBOT", "bot_id": "BOTHER",
           "text": f"<@{BOT_USER}> deploy finished", "ts": ts, "event_ts": ts}
    assert (await rig.event(bot)).status == 200
    await settled(rig.services)
    assert not rig.posted() and len(rig.fake.called("chat.postEphemeral")) == 1, "a bot is not told anything"
    reasons = [s.reason for s in await unanswered.recent(rig.services.storage, TENANT,
                                                         since=rig.services.clock().replace(year=2000))]
    assert sorted(reasons) == [unanswered.Reason.NOT_A_PERSON, unanswered.Reason.UNREADABLE]
    await eventually(lambda: _stored(rig, DM_ALICE, upload["ts"]), True)


async def _stored(rig: SlackRig, channel: str, ts: str) -> bool:
    return await rig.services.storage.messages.find(TENANT, channel, ts) is not None


async def test_joining_an_excluded_channel_reads_none_of_its_history(rig: SlackRig) -> None:
    roles(rig)
    rig.fake.channels[RANDOM].messages.append({"type": "message", "user": BOB, "ts": rig.fake.next_ts(),
                                               "text": "Old news about the kiwi launch."})
    await command(rig, "settings exclude", user=ALICE, channel=RANDOM, name="random", hook="exclude")
    joined = {"type": "member_joined_channel", "user": BOT_USER, "channel": RANDOM, "channel_type": "C",
              "team": TEAM, "event_ts": rig.fake.next_ts()}
    assert (await rig.event(joined)).status == 200
    await settled(rig.services)
    assert not rig.fake.called("conversations.history"), "no history is read from an excluded channel"
    assert not await rig.services.storage.messages.channel_messages(TENANT, RANDOM)
