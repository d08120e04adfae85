"""Block Kit rendering: every reply fits Slack's limits, however long, and always has `Why?`."""

from __future__ import annotations

import json

from adapters.slack.render import (
    MAX_SECTION_TEXT,
    NOT_AVAILABLE,
    decode_value,
    encode_value,
    notice,
    render_reply,
    split_mrkdwn,
)
from bot.models import (
    Citation,
    EvidenceItem,
    FollowUp,
    Rationale,
    Reply,
    ReplyItem,
    ReplySection,
    Route,
    RouteKind,
)
from tests.peers.slack import block_kit_problems


def rationale(**extra: object) -> Rationale:
    return Rationale(decision_id="d_0123456789abcdef0123", skill="ask",
                     route=Route(kind=RouteKind.EXPLICIT, skill="ask", reason="explicit command `ask`"), **extra)


def huge_reply() -> Reply:
    link = "https://example.com/" + "a" * 80
    body = ("word " * 50 + f"[a link]({link}) & <tag> **bold**\n") * 120  # ~40k characters
    sections = [ReplySection(title="T" * 400, text="x" * 5000,
                             items=[ReplyItem(text=f"item {i} " + "y" * 900, link=link, why=["score 0.9"] * 30)
                                    for i in range(8)]) for _ in range(40)]
    citations = [Citation(number=i, source_id=f"message:{i}", title="t" * 300, permalink=link, channel="C1")
                 for i in range(1, 200)]
    follow = [FollowUp(label="L" * 200, command="c" * 5000) for _ in range(10)]
    evidence = [EvidenceItem(rank=i, source_id=f"message:{i}", title="e" * 500, score=1.0) for i in range(50)]
    return Reply(title="H" * 1000, body=body, sections=sections, citations=citations, follow_ups=follow,
                 rationale=rationale(evidence=evidence, caveats=["c" * 4000] * 5, left_out=["l" * 4000] * 5))


def test_a_huge_reply_fits_block_kit_both_collapsed_and_expanded() -> None:
    reply = huge_reply()
    for expanded in (False, True):
        rendered = render_reply(reply, expanded=expanded, more_url="https://fake.slack.test/archives/C1/p1")
        assert block_kit_problems(rendered.blocks) == [], expanded
        assert len(rendered.text) <= 3000
        labels = [e["text"]["text"] for b in rendered.blocks if b["type"] == "actions" for e in b["elements"]]
        assert ("Hide why" if expanded else "Why?") in labels
        assert rendered.overflow, "what did not fit is handed back for continuation messages"
        note = json.dumps([b for b in rendered.blocks if b["type"] == "context"])
        assert "read the rest" in note and "https://fake.slack.test/archives/C1/p1" in note
        assert all(len(c) <= MAX_SECTION_TEXT for c in rendered.overflow)


def test_every_reply_has_exactly_one_why_button() -> None:
    reply = Reply(body="short", rationale=rationale())
    rendered = render_reply(reply)
    whys = [e for b in rendered.blocks if b["type"] == "actions" for e in b["elements"]
            if e["text"]["text"] == "Why?"]
    assert len(whys) == 1 and whys[0]["value"] == "d_0123456789abcdef0123"
    assert not rendered.overflow and block_kit_problems(rendered.blocks) == []


def test_splitting_never_cuts_inside_a_link_or_entity() -> None:
    text = ("see <https://example.com/" + "p" * 60 + "|the page> &amp; more ") * 200
    chunks = split_mrkdwn(text, 500)
    assert all(len(c) <= 500 for c in chunks)
    for c in chunks:
        assert c.count("<") == c.count(">"), c
        assert not c.rstrip().endswith("&amp") and not c.endswith("&")
    assert "".join(chunks).replace(" ", "") == text.strip().replace(" ", "")


def test_unbroken_text_is_still_split() -> None:
    chunks = split_mrkdwn("z" * 7001, 3000)
    assert [len(c) for c in chunks] == [3000, 3000, 1001]


def test_values_round_trip_and_respect_the_limit() -> None:
    value = encode_value("d_1", c="x" * 10_000)
    assert len(value) <= 2000 and decode_value(value)["d"] == "d_1"
    assert decode_value("garbage") == {} and decode_value('{"d": 5}') == {} and decode_value(None) == {}


def test_notice_is_escaped_mrkdwn() -> None:
    rendered = notice("<!channel> & co")
    assert rendered.blocks[0]["text"]["text"] == "&lt;!channel&gt; &amp; co"
    assert "not available" in NOT_AVAILABLE
