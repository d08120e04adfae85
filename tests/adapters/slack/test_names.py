"""People known only from backfilled history are named (users.info, or one users.list pass), once."""

from __future__ import annotations

import json

from storage import tenant_key
from tests.adapters.slack.conftest import ALICE, SlackRig, eventually
from tests.peers.slack import BOT_USER, TEAM, FakeChannel

TENANT = tenant_key("slack", TEAM)


async def _join(rig: SlackRig, channel: str) -> None:
    joined = {"type": "member_joined_channel", "user": BOT_USER, "channel": channel, "channel_type": "C",
              "team": TEAM, "event_ts": rig.fake.next_ts()}
    assert (await rig.event(joined)).status == 200


async def _names(rig: SlackRig) -> dict[str, str]:
    return {u.external_id: u.label for u in await rig.services.storage.workspace.list_users(TENANT)}


async def test_backfilled_authors_are_named_in_answers_and_looked_up_once(rig: SlackRig) -> None:
    rig.fake.add_user("UDARIA", "Daria Novak")
    rig.fake.add_user("UEMEKA", "Emeka Obi")
    history = rig.fake.add_channel(FakeChannel("CPLAT", "platform", members=[ALICE, BOT_USER]))
    now = rig.services.clock().timestamp()
    history.messages += [
        {"type": "message", "user": "UDARIA", "ts": f"{now - 600:.6f}",
         "text": "The kiwi migration is blocked on the schema review, which Emeka owns."},
        {"type": "message", "user": "UEMEKA", "ts": f"{now - 500:.6f}",
         "text": "Schema review for kiwi is done by Thursday; then the kiwi migration can start."},
    ]
    await _join(rig, "CPLAT")
    await eventually(lambda: _names(rig), {**(await _names(rig)), "UDARIA": "Daria Novak", "UEMEKA": "Emeka Obi"},
                     within=10)
    assert sorted(c.args["user"] for c in rig.fake.called("users.info")) == ["UDARIA", "UEMEKA"]
    assert not rig.fake.called("users.list"), "two people are two users.info calls, not a directory pass"

    await rig.mention("CPLAT", ALICE, "when can the kiwi migration start?")
    [posted] = await rig.fake.wait_calls("chat.postMessage")
    decision = await rig.services.storage.decisions.get(
        next(e["value"] for b in posted.args["blocks"] if b["type"] == "actions" for e in b["elements"]
             if e["text"]["text"] == "Why?"))
    assert decision is not None
    reply = json.dumps(decision.reply)
    assert "Emeka Obi" in reply or "Daria Novak" in reply, reply
    assert "UEMEKA" not in json.dumps(posted.args.get("text")) and "UDARIA" not in json.dumps(posted.args.get("text"))

    await _join(rig, "CPLAT")  # joined again: everyone is known, nobody is looked up twice
    await eventually(lambda: _count(rig, "conversations.history"), 2, within=10)
    looked_up = [c.args["user"] for c in rig.fake.called("users.info")]
    assert looked_up.count("UDARIA") == 1 and looked_up.count("UEMEKA") == 1


async def _count(rig: SlackRig, method: str) -> int:
    return len(rig.fake.called(method))


async def test_a_large_backfill_names_people_in_one_paged_directory_pass(rig: SlackRig) -> None:
    authors = [f"UPERSON{i:03d}" for i in range(30)]
    for i, user in enumerate(authors):
        rig.fake.add_user(user, f"Person {i}")
    for i in range(250):  # a directory larger than one page of 200
        rig.fake.add_user(f"UOTHER{i:03d}", f"Other {i}")
    crowd = rig.fake.add_channel(FakeChannel("CCROWD", "crowd", members=[BOT_USER, *authors]))
    now = rig.services.clock().timestamp()
    crowd.messages += [{"type": "message", "user": user, "ts": f"{now - 900 + i:.6f}", "text": f"note {i}"}
                       for i, user in enumerate(authors)]
    await _join(rig, "CCROWD")

    async def named() -> int:
        names = await _names(rig)
        return sum(names.get(u) == f"Person {i}" for i, u in enumerate(authors))

    await eventually(named, 30, within=10)
    assert not rig.fake.called("users.info")
    assert len(rig.fake.called("users.list")) >= 1
