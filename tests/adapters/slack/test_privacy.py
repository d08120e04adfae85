"""No existence oracle (issue 12.1): nothing a reader of a reply can see says that a hidden source exists.

ALICE and the bot are in #secret-plans (private); BOB is not. Everyone is in #general."""

from __future__ import annotations

import json
from typing import Any

from adapters.slack import render
from bot.models import Reader
from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, BOB, DM_ALICE, GENERAL, SECRET, SlackRig
from tests.conftest import settled
from tests.peers.slack import TEAM

SECRET_FACT = "The acquisition target is Initech, closing in March."
PUBLIC_FACT = "The office wifi password rotates every Monday morning."
WORDS = ("withheld", "hidden", "cannot see", "can't see", "not everyone", "private")


def visible_text(args: dict[str, Any]) -> str:
    return json.dumps(args).lower()


async def ask(rig: SlackRig, user: str, text: str) -> tuple[dict[str, Any], str]:
    ts = rig.fake.next_ts()
    assert (await rig.mention(GENERAL, user, text, ts=ts)).status == 200
    await settled(rig.services)
    [post] = [c.args for c in rig.fake.called("chat.postMessage") if c.args.get("thread_ts") == ts]
    why = [e["value"] for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
           if e["action_id"] == render.WHY]
    return post, str(why[0])


async def seed(rig: SlackRig) -> None:
    await rig.message(SECRET, ALICE, SECRET_FACT, channel_type="group")
    await rig.message(GENERAL, ALICE, PUBLIC_FACT)


async def test_a_non_member_learns_nothing_about_a_private_topic(rig: SlackRig) -> None:
    await seed(rig)
    post, decision_id = await ask(rig, BOB, "what is the acquisition target?")
    assert "initech" not in visible_text(post)
    assert not any(w in visible_text(post) for w in WORDS), post
    reply = await rig.services.router.explain(decision_id, Reader(platform="slack", tenant=TEAM, user=BOB,
                                                                  channel=GENERAL))
    assert reply is not None and reply.rationale.withheld_sources == 0
    assert not any(w in " ".join(reply.rationale.caveats + reply.rationale.left_out).lower() for w in WORDS)
    record = await rig.services.storage.decisions.get(decision_id)
    assert record is not None and record.rationale["withheld_sources"] == 0
    assert not rig.fake.called("chat.postEphemeral"), "a non-member is told nothing, not even privately"


async def test_the_same_question_unrelated_or_secret_looks_the_same_to_a_non_member(rig: SlackRig) -> None:
    """Probing: a secret topic and a made-up one must give declines that differ only in their words."""
    await seed(rig)
    secret, _ = await ask(rig, BOB, "what is the acquisition target?")
    made_up, _ = await ask(rig, BOB, "what is the submarine budget?")
    for post in (secret, made_up):
        body = visible_text(post)
        assert "couldn't find" in body and not any(w in body for w in WORDS)


async def test_the_decline_counts_only_messages_the_asker_can_see(rig: SlackRig) -> None:
    await seed(rig)
    for i in range(4):
        await rig.message(SECRET, ALICE, f"Secret note number {i} about budgets.", channel_type="group")
    post, _ = await ask(rig, BOB, "what is the submarine budget?")
    visible = await rig.services.storage.messages.count(tenant_key("slack", TEAM))
    assert visible == 6
    assert "searched 1 message" in visible_text(post), post  # only #general's one message, not 6


async def test_a_member_asking_in_public_is_told_privately_that_more_exists(rig: SlackRig) -> None:
    await seed(rig)
    post, _ = await ask(rig, ALICE, "what is the acquisition target?")
    assert "initech" not in visible_text(post), "the public answer uses only what everyone here can read"
    assert not any(w in visible_text(post) for w in ("withheld", "hidden"))
    [note] = [c.args for c in rig.fake.called("chat.postEphemeral")]
    assert note["user"] == ALICE and note["channel"] == GENERAL
    assert "1 more message" in visible_text(note) and "ask me in a dm" in visible_text(note)


async def test_a_member_who_left_gets_nothing_from_the_channel_in_their_dm(rig: SlackRig) -> None:
    await seed(rig)
    assert (await rig.event({"type": "member_left_channel", "user": ALICE, "channel": SECRET,
                             "event_ts": "3.0"})).status == 200
    await settled(rig.services)
    ts = rig.fake.next_ts()
    dm = {"type": "message", "channel": DM_ALICE, "channel_type": "im", "user": ALICE,
          "text": "what is the acquisition target?", "ts": ts}
    assert (await rig.event(dm)).status == 200
    await settled(rig.services)
    [post] = [c.args for c in rig.fake.called("chat.postMessage") if c.args.get("channel") == DM_ALICE]
    assert "initech" not in visible_text(post) and not any(w in visible_text(post) for w in WORDS)


async def test_a_group_dm_is_for_its_members_only(rig: SlackRig) -> None:
    """A group DM (mpim) of Alice and Carol: answered inside it for its members, invisible from #general."""
    from tests.adapters.slack.conftest import CAROL
    from tests.peers.slack import BOT_USER, FakeChannel

    rig.fake.add_channel(FakeChannel("GTRIO", "mpdm-alice--carol", is_private=True, is_mpim=True,
                                     members=[ALICE, CAROL, BOT_USER]))
    await rig.message("GTRIO", ALICE, SECRET_FACT, channel_type="mpim")
    await rig.message(GENERAL, ALICE, PUBLIC_FACT)
    outside, _ = await ask(rig, BOB, "what is the acquisition target?")
    assert "initech" not in visible_text(outside) and not any(w in visible_text(outside) for w in WORDS)
    ts = rig.fake.next_ts()
    assert (await rig.mention("GTRIO", CAROL, "what is the acquisition target?", ts=ts)).status == 200
    await settled(rig.services)
    [inside] = [c.args for c in rig.fake.called("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert "initech" in visible_text(inside), "everyone reading the group DM may read its own history"
