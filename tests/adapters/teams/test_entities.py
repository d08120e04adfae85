"""The message an answer goes out as in Teams: the AI label and citation entity, the feedback loop flag,
the card without our 👍/👎, all inside Teams' message size, serialized by botbuilder as it is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botbuilder.schema import Activity
from botframework.connector import models
from msrest import Serializer

from adapters.teams.cards import WHY_TITLE, walk
from adapters.teams.delivery import answer_activity
from adapters.teams.entities import ai_generated
from bot.models import Generator
from tests.adapters.teams.test_cards import TEAMS_MESSAGE_LIMIT, assert_valid_card, make_reply
from tests.peers.bot_framework import check_entities

WIRE = Serializer({k: v for k, v in models.__dict__.items() if isinstance(v, type)})


def wire(activity: Activity) -> dict[str, Any]:
    """The JSON botframework-connector sends for `activity`."""
    body: dict[str, Any] = WIRE.body(activity, "Activity")
    return body


@pytest.mark.parametrize("skill, generator, labelled", [
    ("ask", "extractive", True), ("ask", "llm", True), ("summarize", "extractive", True),
    ("people", "extractive", True), ("digest", "extractive", False), ("digest", "llm", True),
    ("help", "extractive", False),
])
def test_the_ai_label_goes_where_text_was_generated(skill: str, generator: str, labelled: bool) -> None:
    reply = make_reply()
    reply = reply.model_copy(update={"rationale": reply.rationale.model_copy(
        update={"skill": skill, "generator": Generator(kind=generator)})})
    assert ai_generated(reply) is labelled
    entity = wire(answer_activity(reply, native=True))["entities"][0]
    assert ("additionalType" in entity) is labelled


def test_a_huge_answer_fits_teams_message_limit_with_twenty_citations() -> None:
    reply = make_reply(items=200, citations=200, text_size=2000)
    body = wire(answer_activity(reply, native=True))
    check_entities(body)  # what Teams refuses: more than 20 citations, long names or abstracts, ...
    (entity,) = body["entities"]
    assert [c["position"] for c in entity["citation"]] == list(range(1, 21))
    assert len(json.dumps(body, ensure_ascii=False).encode()) < TEAMS_MESSAGE_LIMIT
    assert_valid_card(body["attachments"][0]["content"])


def test_native_feedback_replaces_the_cards_buttons_but_not_per_item_ones() -> None:
    reply = make_reply()
    for n, item in enumerate(reply.sections[0].items):
        item.item_id = f"thread:{n}"
    native = wire(answer_activity(reply, native=True))
    assert native["channelData"] == {"feedbackLoopEnabled": True}
    card = native["attachments"][0]["content"]
    assert [a["title"] for a in card["actions"] if a.get("mode") != "secondary"] == [WHY_TITLE]
    expanded = wire(answer_activity(reply, native=True, expanded=True))["attachments"][0]["content"]
    per_item = [a["title"] for e in walk(expanded["body"]) if e.get("type") == "ActionSet" for a in e["actions"]]
    assert per_item == ["👍", "👎"] * 2
    # The Emulator and Web Chat have no feedback loop: the card keeps its buttons and no flag is sent.
    emulator = wire(answer_activity(reply, native=False))
    assert "channelData" not in emulator and emulator["entities"][0]["additionalType"] == ["AIGeneratedContent"]
    assert [a["title"] for a in emulator["attachments"][0]["content"]["actions"]][:3] == [WHY_TITLE, "👍", "👎"]
