"""The demo workspace `whybot demo` seeds: big and busy enough to show every feature, private where it
should be, the same every time, and seeded once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.demo import BOT_USER, CHANNELS, EXAMPLES, PEOPLE, seed_demo
from bot.demo_script import DEPLOY_BOT, ScriptError, deploys, parse, script
from bot.services import Services

TENANT = "playground:demo"


async def test_hundreds_of_messages_across_public_and_private_channels(demo: Services) -> None:
    storage = demo.storage
    assert await storage.messages.count(TENANT) >= 300
    channels = {c.external_id: c for c in await storage.workspace.channels(TENANT)}
    public = {name for name, c in channels.items() if not c.is_private}
    assert {"engineering", "incidents", "product", "support", "announcements", "random", "deploys"} <= public
    people = {u.external_id: u for u in await storage.workspace.list_users(TENANT)}
    assert {p: people[p].display_name for p in PEOPLE} == {p: person.name for p, person in PEOPLE.items()}
    assert people[BOT_USER].is_bot and people[DEPLOY_BOT].is_bot
    per_channel = Counter({name: len(await storage.messages.channel_messages(TENANT, name, limit=1000))
                           for name in channels})
    assert all(per_channel[name] >= 8 for name in public), per_channel
    roots = [m for name in channels for m in await storage.messages.channel_messages(TENANT, name, limit=1000)
             if m.reply_count >= 2]
    assert len(roots) >= 20, "threads with real discussions"
    assert len(await storage.messages.documents(TENANT)) >= 5


async def test_private_channels_and_dms_hold_only_their_members(demo: Services) -> None:
    channels = {c.external_id: c for c in await demo.storage.workspace.channels(TENANT)}
    assert channels["leadership"].is_private and channels["leadership"].member_ids == {"alice", "carol", "grace",
                                                                                      BOT_USER}
    assert channels["hiring"].is_private and "frank" not in channels["hiring"].member_ids
    assert channels["hiring"].member_ids < set(PEOPLE) | {BOT_USER}
    dms = [c for c in channels.values() if c.kind == "dm"]
    assert len(dms) >= len(PEOPLE) and all(c.is_private for c in dms)
    # Every person has a DM with whybot, with no one else in it.
    for person in PEOPLE:
        assert any(c.member_ids == {person, BOT_USER} for c in dms), person
    assert any(len(c.member_ids - {BOT_USER}) == 2 for c in dms), "people talk to each other too"
    private_text = [m.text for name in ("leadership", "hiring")
                    for m in await demo.storage.messages.channel_messages(TENANT, name)]
    assert any("reorg" in t for t in private_text) and any("Salary band" in t for t in private_text)


async def test_the_last_day_is_busy_enough_for_a_digest(demo: Services) -> None:
    now = demo.clock()
    day = await demo.storage.messages.window(TENANT, list(CHANNELS), now - timedelta(hours=24), now,
                                             include_bots=False)
    by_channel = Counter(m.channel_external_id for m in day)
    assert len(day) >= 50 and len(by_channel) >= 6, by_channel
    assert by_channel["engineering"] >= 15
    # Old enough history too: three weeks, so "last 7d" and "last 24h" differ.
    oldest = min(m.created_at for m in await demo.storage.messages.channel_messages(TENANT, "engineering"))
    assert now - oldest > timedelta(days=14)
    # Nothing in #random in the last 30 minutes (a test asks for an empty window there).
    assert not await demo.storage.messages.window(TENANT, ["random"], now - timedelta(minutes=30), now)


async def test_seeding_twice_changes_nothing(demo: Services) -> None:
    before = await demo.storage.messages.count(TENANT)
    channels = len(await demo.storage.workspace.channels(TENANT))
    assert not await seed_demo(demo.ingest, demo.storage, clock=demo.clock)
    assert await demo.storage.messages.count(TENANT) == before
    assert len(await demo.storage.workspace.channels(TENANT)) == channels


def test_the_script_is_the_same_every_time() -> None:
    assert deploys() == deploys() and deploys(7) != deploys()
    versions: dict[str, tuple[int, ...]] = {}
    for line in sorted(deploys(), key=lambda x: -x.age):  # oldest first: a service's version only goes up
        service, version = line.text.split()[1:3]
        if version.startswith("v") and "deployed" in line.text:
            current = tuple(int(x) for x in version[1:].split("."))
            assert current > versions.get(service, ()), line.text
            versions[service] = current
    lines = script().lines
    assert len(lines) < 1000
    assert all(lines[line.reply_to].age > line.age for line in lines if line.reply_to is not None)
    assert {line.channel for line in lines} <= set(CHANNELS)
    assert {line.user for line in lines} <= set(PEOPLE) | {DEPLOY_BOT}
    assert {e.channel for e in EXAMPLES} <= set(CHANNELS) and {e.user for e in EXAMPLES} <= set(PEOPLE) | {None}


@pytest.mark.parametrize(("text", "error"), [
    ("alice 3h | no channel yet", ":1: a message before any `== channel` line"),
    ("== channel x\nalice 3h | root\n  bob 4h | older than its root", ":3: a reply older than"),
    ("== channel x\n  bob 4h | a reply to nothing", ":2: a reply with no message above it"),
    ("== channel x\nalice yesterday | when?", ":2: not an age"),
    ("== chanel x", ":1: unknown section"),
    ("== doc docs/a.md | A\n", ": a document needs"),
])
def test_a_broken_script_says_where(text: str, error: str) -> None:
    with pytest.raises(ScriptError, match=error.replace("?", r"\?")):
        parse(text)
