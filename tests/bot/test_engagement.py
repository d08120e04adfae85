"""Engagement and knowledge gaps in the core: which decisions are questions and how they ended, topics found
in question texts, and counts and topic names made only of what the viewer may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.engagement import Access, classify, engagement
from bot.gaps import Gap, group_questions, knowledge_gaps, topics
from bot.models import ChatEvent, Platform, Reader
from bot.services import Services
from bot.visibility import Visibility
from storage import tenant_key

DEMO = tenant_key("playground", "demo")


def event(text: str, **kwargs: object) -> ChatEvent:
    return ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel="random", user="erin", text=text,
                     **kwargs)  # type: ignore[arg-type]


async def test_questions_and_their_outcomes(demo: Services) -> None:
    cases = {
        "what caused the checkout 502s?": ("what caused the checkout 502s?", "answered"),
        "what is the parking garage door code?": ("what is the parking garage door code?", "declined"),
        "help": (None, None),  # asked for help: not a question
        "digest daily 09:00": (None, None),  # a command
        "flurble wibble zork": ("flurble wibble zork", "declined"),  # nothing understood it: help stood in
    }
    for text, expected in cases.items():
        e = event(text)
        reply = await demo.router.answer(e, DEMO)
        assert classify(reply, e) == expected, (text, reply.rationale.skill, reply.rationale.caveats)
    e = event("", command="ask", args="")
    failed = await demo.router.answer(e, DEMO)
    assert classify(failed, event("", command="ask", args="   ")) == ("", "failed")


def test_topics_are_named_by_the_words_their_questions_share() -> None:
    questions = ["how do I reset my VPN?", "the vpn drops every hour", "when is the release freeze?",
                 "who owns the release freeze calendar?", "?!", "<@U123> <https://example.com|link>"]
    grouped = {" ".join(words): sorted(questions[i] for i in members) for words, members in group_questions(questions)}
    assert grouped["freeze release"] == ["when is the release freeze?", "who owns the release freeze calendar?"]
    assert grouped["vpn"] == ["how do I reset my VPN?", "the vpn drops every hour"]
    assert grouped[""] == ["<@U123> <https://example.com|link>", "?!"], "no topical word: one unnamed group"
    assert group_questions([]) == [] and group_questions(["??"]) == [([], [0])]


async def test_gaps_and_counts_leave_out_what_the_viewer_may_not_see(demo: Services) -> None:
    for channel, user, text in [("leadership", "alice", "what is the kiwi acquisition budget?"),
                                ("leadership", "carol", "is the kiwi acquisition signed?"),
                                ("random", "erin", "what is the parking garage door code?")]:
        await demo.router.handle(ChatEvent(platform=Platform.PLAYGROUND, tenant="demo", channel=channel, user=user,
                                           text=text))
    now = demo.clock()
    channels = await demo.storage.workspace.channels(DEMO)

    def viewer(user: str) -> Access:
        reader = Reader(platform=Platform.PLAYGROUND, tenant="demo", user=user, private=True)
        return Access(reader, Visibility(reader, DEMO, channels))

    outsider = await knowledge_gaps(demo.storage, DEMO, now - timedelta(days=7), now + timedelta(seconds=1),
                                    may_see=viewer("frank"))
    assert [g.question for t in outsider.topics for g in t.gaps] == ["what is the parking garage door code?"]
    assert not any("kiwi" in t.label or "acquisition" in t.label for t in outsider.topics)
    lead = await knowledge_gaps(demo.storage, DEMO, now - timedelta(days=7), now + timedelta(seconds=1),
                                may_see=viewer("alice"))
    first = lead.topics[0]
    assert (first.label, len(first.gaps), first.gaps[0].channel_name) == ("acquisition · kiwi", 2, "#leadership")
    assert [g.question for t in lead.topics for g in t.gaps][2:] == ["what is the parking garage door code?"]
    assert [w.asked for w in (await engagement(demo.storage, DEMO, now, weeks=1, may_see=viewer("frank"))).weeks] \
        == [1]
    assert [w.asked for w in (await engagement(demo.storage, DEMO, now, weeks=1)).weeks] == [3]


def test_topics_keep_the_newest_first_order_within_a_topic() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    gaps = [Gap(decision_id=f"d{i}", question=q, asked_at=at - timedelta(hours=i), channel_name="#x",
                reasons=["declined"]) for i, q in enumerate(["vpn down again", "lunch menu?", "vpn reset"])]
    [vpn, lunch] = topics(gaps)
    assert [g.decision_id for g in vpn.gaps] == ["d0", "d2"] and lunch.label == "lunch · menu"
