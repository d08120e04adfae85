"""Replies people can read (issue 16) and links and mentions that stay honest (issue 12.4), on the
renderers every adapter shares and on the Slack blocks built from them."""

from __future__ import annotations

import json

from adapters.slack import render as slack
from adapters.teams.cards import card_summary
from bot.citing import numbered
from bot.markup import to_plain
from bot.models import (
    Citation,
    EvidenceItem,
    FollowUp,
    Generator,
    Inputs,
    Rationale,
    Reply,
    ReplyItem,
    ReplySection,
    Route,
    RouteKind,
)
from bot.render import admin_lines, notification_text, why_lines


def _cite(n: int, source: str, **kw: object) -> Citation:
    base: dict[str, object] = {"channel": "C0ENG", "channel_name": "engineering", "author": "Carol Diaz",
                               "author_id": "UCAROL", "permalink": f"https://acme.slack.com/archives/C0ENG/p{n}",
                               "snippet": f"source {n} says the freeze starts Thursday"}
    return Citation(number=n, source_id=source, **{**base, **kw})  # type: ignore[arg-type]


def answer(**update: object) -> Reply:
    rationale = Rationale(
        decision_id="d_1", skill="ask",
        route=Route(kind=RouteKind.CLASSIFIER, skill="ask", reason="rules", scores={"ask": 0.97, "help": 0.02}),
        inputs=Inputs(channels=["engineering", "19:abc@thread.tacv2"], messages_considered=31),
        evidence=[EvidenceItem(rank=1, source_id="message:1", score=2.47, channel="C0ENG", channel_name="engineering",
                               author="Carol Diaz", author_id="UCAROL", matched_terms=["freeze"]),
                  EvidenceItem(rank=2, source_id="message:2", score=1.1, used=False),
                  EvidenceItem(rank=3, source_id="message:3", score=2.22, channel="C0ENG", channel_name="engineering",
                               author="UBOB", author_id="UBOB")],
        generator=Generator(kind="extractive", reason="no LLM is configured (OPENAI_API_KEY / OPENAI_BASE_URL unset)"),
        withheld_sources=2, caveats=["2 source(s) hidden: you cannot see where they came from"],
        timings_ms={"total": 40.0})
    reply = Reply(title="About “when is the freeze? <!channel>”",
                  body="> The freeze starts Thursday.\n— Carol [1]\n> Merge before it. [3]",
                  citations=[_cite(1, "message:1"), _cite(3, "message:3", author="UBOB", author_id="UBOB")],
                  follow_ups=[FollowUp(label="Summarize this channel", command="summarize"),
                              FollowUp(label="Help", command="help")], rationale=rationale)
    return reply.model_copy(update=update)


def test_citations_are_numbered_in_the_order_shown_and_why_uses_the_same_numbers() -> None:
    reply = numbered(answer())
    assert [c.number for c in reply.citations] == [1, 2]
    assert "[1]" in reply.body and "[2]" in reply.body and "[3]" not in reply.body
    found = next(line for line in why_lines(answer()) if line.startswith("**What I found:**"))
    assert "[1]" in found and "[2]" in found and "[3]" not in found


def test_digest_items_and_their_sources_share_numbers() -> None:
    items = [ReplyItem(text=f"thread {n}", citation_numbers=[old]) for n, old in enumerate((1, 4, 5, 6, 9), 1)]
    reply = answer(body="", sections=[ReplySection(items=items)],
                   citations=[_cite(n, f"message:{n}") for n in (1, 4, 5, 6, 9)])
    shown = numbered(reply)
    assert [i.citation_numbers for i in shown.sections[0].items] == [[1], [2], [3], [4], [5]]
    assert [c.number for c in shown.citations] == [1, 2, 3, 4, 5]


def test_why_is_plain_words_without_scores_ids_or_settings() -> None:
    lines = why_lines(answer())
    text = " ".join(to_plain(line) for line in lines)  # as Teams and the playground show it
    assert 4 <= len(lines) <= 6
    for operator_detail in ("0.97", "2.47", "OPENAI", "d_1", "classifier", "19:abc", "UBOB", "withheld", "hidden"):
        assert operator_detail not in text, operator_detail
    assert "31 messages" in text and "this chat" in text and "quoted word for word" in text
    admin = " ".join(admin_lines(answer()))
    assert "0.97" in admin and "d_1" in admin and "withheld" not in admin and "hidden" not in admin


def test_slack_shows_names_numbers_and_honest_links() -> None:
    reply = answer(body="Log in on [the SSO page](https://evil.example/login) [1] <!here> @channel & more")
    rendered = slack.render_reply(reply)
    text = json.dumps(rendered.blocks)
    assert "<https://evil.example/login|" not in text and "the SSO page (<https://evil.example/login>)" in text
    assert "<!here>" not in text and "&lt;!here&gt;" in text and "@channel" not in text and "&amp; more" in text
    # names written out, not <@U…> mentions that would notify everyone a reply cites
    assert "Carol Diaz in <#C0ENG>" in text and "UCAROL" not in text
    assert "<@UBOB> in <#C0ENG>" in text  # a name never learnt: Slack shows it from the mention
    assert "score" not in text and "0.97" not in text


def test_slack_buttons_are_few_and_the_notification_is_the_answer() -> None:
    reply = answer()
    rendered = slack.render_reply(reply)
    (actions,) = [b for b in rendered.blocks if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == ["Why?", "👍", "👎", "Summarize this channel"]
    assert rendered.text == "The freeze starts Thursday." == notification_text(reply) == card_summary(reply)
    help_reply = answer(rationale=reply.rationale.model_copy(update={"skill": "help"}))
    (actions,) = [b for b in slack.render_reply(help_reply).blocks if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == ["Why?", "Summarize this channel"]
    expanded = slack.render_reply(reply, expanded=True)
    assert slack.ADMIN in json.dumps(expanded.blocks) and "d_1`" not in json.dumps(expanded.blocks)
    admin = json.dumps(slack.render_reply(reply, expanded=True, admin=True).blocks)
    assert "0.97" in admin and slack.ADMIN not in admin


def test_a_question_with_a_broadcast_is_not_echoed_raw_in_the_notification() -> None:
    reply = answer(body="")
    assert "<!channel>" not in slack.render_reply(reply).text


def test_sources_do_not_repeat_the_quote_and_snippets_keep_urls_whole() -> None:
    quoted = answer(body="> source 1 says the freeze starts Thursday [1]")
    assert "source 1 says" not in json.dumps([b for b in slack.render_reply(quoted).blocks
                                             if "Sources" in json.dumps(b)])
    from bot.text import snippet
    cut = snippet("Read https://wiki.example.com/runbooks/checkout/502-errors-and-what-to-do before paging anyone",
                  40)
    assert "https://wiki.example.com/runbooks/checkout/502-errors-and-what-to-do" in cut
