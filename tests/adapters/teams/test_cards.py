"""Card rendering: valid Adaptive Card 1.5 structure, the Why? action, the size budget.

Cards are validated twice: against the official Adaptive Card 1.5 JSON schema (copied into
tests/adapters/teams/schemas from ../shared/schemas, with its licence), and against a strict subset of it
written here: only the elements, actions and property values we use, with no unknown properties allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from adapters.teams.cards import (
    HIDE_TITLE,
    MAX_CARD_BYTES,
    WHY_TITLE,
    card_bytes,
    notice_card,
    parse_action,
    reply_card,
    to_teams_markdown,
    walk,
)
from bot.models import (
    Citation,
    EvidenceItem,
    FollowUp,
    Inputs,
    Rationale,
    Reply,
    ReplyItem,
    ReplySection,
    Route,
    RouteKind,
)

TEAMS_MESSAGE_LIMIT = 28 * 1024
SPACING = {"enum": ["None", "Small", "Default", "Medium", "Large", "ExtraLarge", "Padding"]}
_ACTION_DATA = {"type": "object"}
MODE = {"enum": ["primary", "secondary"]}

AC15_SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "TextBlock": {"type": "object", "additionalProperties": False, "required": ["type", "text"], "properties": {
            "type": {"const": "TextBlock"}, "text": {"type": "string"}, "wrap": {"type": "boolean"},
            "weight": {"enum": ["Default", "Lighter", "Bolder"]},
            "size": {"enum": ["Default", "Small", "Medium", "Large", "ExtraLarge"]},
            "isSubtle": {"type": "boolean"}, "spacing": SPACING, "id": {"type": "string"}}},
        "Container": {"type": "object", "additionalProperties": False, "required": ["type", "items"], "properties": {
            "type": {"const": "Container"}, "id": {"type": "string"}, "isVisible": {"type": "boolean"},
            "style": {"enum": ["default", "emphasis", "good", "attention", "warning", "accent"]},
            "spacing": SPACING, "items": {"type": "array", "items": {"$ref": "#/$defs/Element"}}}},
        "ActionSet": {"type": "object", "additionalProperties": False, "required": ["type", "actions"],
                      "properties": {"type": {"const": "ActionSet"}, "spacing": SPACING,
                                     "actions": {"type": "array", "items": {"$ref": "#/$defs/Action"}}}},
        "Column": {"type": "object", "additionalProperties": False, "required": ["type", "width", "items"],
                   "properties": {"type": {"const": "Column"}, "width": {"enum": ["auto", "stretch"]},
                                  "verticalContentAlignment": {"enum": ["Top", "Center", "Bottom"]},
                                  "items": {"type": "array", "items": {"$ref": "#/$defs/Element"}}}},
        "ColumnSet": {"type": "object", "additionalProperties": False, "required": ["type", "columns"],
                      "properties": {"type": {"const": "ColumnSet"}, "spacing": SPACING,
                                     "columns": {"type": "array", "items": {"$ref": "#/$defs/Column"}}}},
        "Element": {"oneOf": [{"$ref": "#/$defs/TextBlock"}, {"$ref": "#/$defs/Container"},
                              {"$ref": "#/$defs/ActionSet"}, {"$ref": "#/$defs/ColumnSet"}]},
        "Action.Submit": {"type": "object", "additionalProperties": False, "required": ["type", "title"],
                          "properties": {"type": {"const": "Action.Submit"}, "title": {"type": "string"},
                                         "mode": MODE, "data": _ACTION_DATA}},
        "Action.Execute": {"type": "object", "additionalProperties": False, "required": ["type", "title"],
                           "properties": {"type": {"const": "Action.Execute"}, "title": {"type": "string"},
                                          "verb": {"type": "string"}, "data": _ACTION_DATA,
                                          "fallback": {"oneOf": [{"$ref": "#/$defs/Action.Submit"},
                                                                 {"const": "drop"}]}}},
        "Action.ToggleVisibility": {
            "type": "object", "additionalProperties": False, "required": ["type", "title", "targetElements"],
            "properties": {"type": {"const": "Action.ToggleVisibility"}, "title": {"type": "string"},
                           "mode": MODE, "targetElements": {"type": "array", "items": {"type": "string"}}}},
        "Action": {"oneOf": [{"$ref": "#/$defs/Action.Submit"}, {"$ref": "#/$defs/Action.Execute"},
                             {"$ref": "#/$defs/Action.ToggleVisibility"}]},
    },
    "type": "object", "additionalProperties": False, "required": ["type", "version", "body"],
    "properties": {
        "type": {"const": "AdaptiveCard"}, "$schema": {"type": "string"},
        "version": {"enum": ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]},
        "body": {"type": "array", "items": {"$ref": "#/$defs/Element"}},
        "actions": {"type": "array", "items": {"$ref": "#/$defs/Action"}, "maxItems": 6},
    },
}


OFFICIAL_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "adaptive-card-1.5.schema.json").read_text())


def assert_valid_card(card: dict[str, Any]) -> None:
    """Official schema, strict subset, unique element ids (ToggleVisibility targets them), size."""
    jsonschema.validate(card, OFFICIAL_SCHEMA)
    jsonschema.validate(card, AC15_SUBSET)
    ids = [e["id"] for e in walk(card["body"]) if "id" in e]
    assert len(ids) == len(set(ids)), ids
    assert card_bytes(card) <= MAX_CARD_BYTES < TEAMS_MESSAGE_LIMIT


def make_reply(*, body: str = "The freeze starts **Friday** [1].", items: int = 2, citations: int = 1,
               text_size: int = 0) -> Reply:
    filler = " lorem ipsum" * (text_size // 12)
    rationale = Rationale(
        decision_id="d_test", skill="ask",
        route=Route(kind=RouteKind.CLASSIFIER, skill="ask", reason="question words", scores={"ask": 0.9}),
        inputs=Inputs(query="freeze", query_terms=["freeze"], channels=["general"], messages_considered=40),
        evidence=[EvidenceItem(rank=1, source_id="message:1", title="Bob", channel="C1", score=3.2,
                               matched_terms=["freeze"])],
        caveats=["a caveat" + filler], timings_ms={"total": 12.0})
    return Reply(
        title="About “freeze”", body=body + filler,
        sections=[ReplySection(title="Threads", items=[
            ReplyItem(text=f"thread {n}{filler}", link=f"https://teams.example/{n}", why=["score 0.9", "replies +0.3"])
            for n in range(items)])],
        citations=[Citation(number=n + 1, source_id=f"message:{n}", title=f"Bob in #general {n}",
                            permalink=f"https://teams.example/m/{n}", snippet="freeze starts Friday" + filler)
                   for n in range(citations)],
        follow_ups=[FollowUp(label="Digest", command="digest now"), FollowUp(label="Help", command="help")],
        rationale=rationale)


def test_reply_card_is_valid_with_a_why_action() -> None:
    card = reply_card(make_reply())
    assert_valid_card(card)
    assert card["version"] == "1.5"
    why = [a for a in card["actions"] if a["title"] == WHY_TITLE]
    assert len(why) == 1 and why[0]["type"] == "Action.Execute"
    assert why[0]["data"] == {"whybot": "why", "decision": "d_test"}
    assert why[0]["fallback"]["data"] == why[0]["data"]
    assert not any(e.get("id") == "rationale" for e in card["body"])
    follow = [a for a in card["actions"] if a["type"] == "Action.Submit"]
    assert [a["data"] for a in follow] == [{"whybot": "command", "command": "digest now"},
                                           {"whybot": "command", "command": "help"}]
    assert [a["title"] for a in card["actions"]] == [WHY_TITLE, "👍", "👎", "Digest", "Help"]
    # Only Why?, 👍 and 👎 are buttons (they fit a Teams bubble); follow-ups sit in the overflow menu.
    assert [a.get("mode", "primary") for a in card["actions"]] == ["primary"] * 3 + ["secondary"] * 2


def test_expanded_card_shows_the_compact_rationale_and_a_hide_action() -> None:
    card = reply_card(make_reply(), expanded=True)
    assert_valid_card(card)
    (container,) = [e for e in card["body"] if e.get("id") == "rationale"]
    texts = [e["text"] for e in container["items"]]
    assert texts[0] == "**Why this answer**"
    assert any(t.startswith("**Where I looked:** 40 messages in #general") for t in texts)
    assert len(texts) <= 7  # heading + at most six plain lines
    people = " ".join(texts)
    assert "d_test" not in people and "0.9" not in people and "classifier" not in people
    (admin,) = [e for e in card["body"] if e.get("id") == "admin-details"]
    assert admin["isVisible"] is False and any("d_test" in e["text"] for e in admin["items"])
    titles = [a["title"] for a in card["actions"]]
    assert HIDE_TITLE in titles and WHY_TITLE not in titles
    toggle = [a for a in card["actions"] if a["type"] == "Action.ToggleVisibility"]
    assert toggle and toggle[0]["targetElements"] == ["admin-details"] and toggle[0]["mode"] == "secondary"


def test_items_are_numbered_without_markdown_lists() -> None:
    """A hanging indent from columns: "1. " in a TextBlock is a markdown list, which the official renderer
    widens past the bubble. Expanded, each item's reasons sit beside its own 👍/👎."""
    reply = make_reply(body="Two threads.")
    for n, item in enumerate(reply.sections[0].items):
        item.item_id = f"thread:{n}"
    card = reply_card(reply, expanded=True)
    rows = [e for e in card["body"] if e["type"] == "ColumnSet"]
    assert [r["columns"][0]["items"][0]["text"] for r in rows] == ["**1.**", "**2.**"]
    assert not any(e.get("text", "").lstrip().startswith(("1.", "2.")) for e in walk(card["body"]))
    beside = rows[0]["columns"][1]["items"][1]
    assert beside["columns"][0]["items"][0]["text"] == "score 0.9, replies +0.3"
    (feedback,) = beside["columns"][1]["items"]
    assert [(a["title"], a["data"]["item"]) for a in feedback["actions"]] == [("👍", "thread:0"), ("👎", "thread:0")]


def test_huge_replies_are_trimmed_under_the_budget() -> None:
    for reply in (make_reply(items=200, citations=200, text_size=2000), make_reply(body="x" * 200_000),
                  make_reply(items=3000, citations=0, text_size=50)):
        for expanded in (False, True):
            card = reply_card(reply, expanded=expanded)
            assert_valid_card(card)
            assert any(a["title"] in (WHY_TITLE, HIDE_TITLE) for a in card["actions"])


def test_card_without_decision_has_no_why_and_notice_is_valid() -> None:
    reply = make_reply().model_copy(update={"rationale": make_reply().rationale.model_copy(
        update={"decision_id": ""})})
    assert WHY_TITLE not in [a["title"] for a in reply_card(reply)["actions"]]
    assert_valid_card(notice_card("not available"))


def test_markdown_subset_for_teams() -> None:
    assert to_teams_markdown("run `whybot help` now\n> quoted\n**bold** [x](https://e.x)") == \
        "run whybot help now\n\n_quoted_\n\n**bold** x ([https://e.x](https://e.x))"


def test_links_and_mentions_stay_honest_in_cards() -> None:
    """A masked link from a source shows where it goes; <, >, & and broadcasts are defused (issue 12.4)."""
    reply = make_reply(body="See [the SSO page](https://evil.example/login) <at>Bob</at> & tell @channel [1]")
    text = " ".join(e.get("text", "") for e in reply_card(reply)["body"])
    assert "the SSO page ([https://evil.example/login](https://evil.example/login))" in text
    assert "<at>" not in text and "&lt;at&gt;Bob&lt;/at&gt; &amp; tell" in text
    assert "@channel" not in text


def test_action_payloads_are_checked() -> None:
    assert parse_action({"whybot": "why", "decision": "d_1"}) is not None
    assert parse_action({"whybot": "explode"}) is None
    assert parse_action({"decision": "d_1"}) is None
    assert parse_action("why") is None
    assert parse_action({"whybot": "feedback", "decision": "d", "helpful": "maybe"}) is None
    json.dumps(reply_card(make_reply()))  # serializable as is
