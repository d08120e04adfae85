"""Teams' own AI surfaces, end to end through botbuilder's CloudAdapter and the loopback connector: the AI
label and citations on answers, and the feedback loop (`message/submitAction`). The connector refuses what Teams
refuses (tests/peers/bot_framework.py), so `connector.refused == []` means Teams would have taken it all."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from adapters.teams.cards import WHY_TITLE
from bot.services import Services
from storage.tables import Feedback
from tests.adapters.teams.test_adapter import action, ask_in_channel, card_text, post, posted
from tests.adapters.teams.test_cards import assert_valid_card
from tests.conftest import settled
from tests.peers.bot_framework import TENANT, FakeConnector

pytestmark = pytest.mark.asyncio

PERSONAL = {"id": "a:personal-ann", "conversationType": "personal", "tenantId": TENANT}
FREEZE = "when does the release freeze start?"
MARK = re.compile(r"\[(\d+)\]")


def cited_numbers(card: dict[str, Any]) -> list[int]:
    """The [n] of each line of the card's Sources list, in order."""
    return [int(MARK.match(line).group(1))  # type: ignore[union-attr]
            for line in card_text(card).split("\n") if MARK.match(line)]


async def comments(services: Services, decision_id: str) -> list[str]:
    async with services.storage.db.session() as s:
        return list(await s.scalars(select(Feedback.comment).where(Feedback.decision_id == decision_id)))


# the AI label and citations ---------------------------------------------------------------------------

async def test_an_answer_carries_the_ai_label_citations_matching_its_card_and_the_feedback_loop(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    said = connector.channel_message("The staging cluster moves to eu-west-2 on Monday, says the infra team.")
    assert (await post(teams, said))[0] == 201
    await settled(services)
    _, call = await ask_in_channel(teams, connector, "where does the staging cluster move?")
    assert connector.refused == []
    card = call.card
    assert card is not None
    assert_valid_card(card)
    entity = call.message_entity
    assert entity is not None
    assert {k: entity[k] for k in ("type", "@type", "@context", "@id", "additionalType")} == {
        "type": "https://schema.org/Message", "@type": "Message", "@context": "https://schema.org", "@id": "",
        "additionalType": ["AIGeneratedContent"]}
    claims = entity["citation"]
    assert [c["position"] for c in claims] == cited_numbers(card) != []
    assert all(f"[{c['position']}]" in card_text(card) for c in claims)
    staging = [c["appearance"] for c in claims if "eu-west-2" in c["appearance"]["abstract"]]
    assert staging, "the message the answer leans on is cited"
    appearance = staging[0]
    assert appearance["@type"] == "DigitalDocument" and appearance["name"] == "Bob in #General"
    assert appearance["url"].startswith("https://teams.microsoft.com/l/message/") and f"/{said['id']}?" in \
        appearance["url"], "the citation opens the message in Teams"
    assert all(len(c["appearance"]["abstract"]) <= 160 and len(c["appearance"]["name"]) <= 80 for c in claims)
    # Teams' own 👍/👎 (the legacy flag alone: the service refuses it together with `feedbackLoop`).
    assert call.channel_data.get("feedbackLoopEnabled") is True and "feedbackLoop" not in call.channel_data
    assert [a["title"] for a in card["actions"] if a.get("mode") != "secondary"] == [WHY_TITLE]


async def test_long_snippets_are_cut_to_teams_limits(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    long = "The release freeze starts Friday at 17:00 UTC. " + "Every team must finish merging before then. " * 12
    assert (await post(teams, connector.channel_message(long)))[0] == 201
    await settled(services)
    _, call = await ask_in_channel(teams, connector, FREEZE)
    assert connector.refused == []
    assert call.message_entity is not None
    abstracts = [c["appearance"]["abstract"] for c in call.message_entity["citation"]]
    assert any(a.endswith("…") and len(a) <= 160 for a in abstracts)


async def test_help_is_neither_labelled_nor_rated(teams: TestClient, connector: FakeConnector) -> None:
    """Help is text whybot's authors wrote: no AI label, and (as before) no 👍/👎."""
    assert (await post(teams, connector.personal("help")))[0] == 201
    (call,) = await connector.wait_for(1)
    assert call.message_entity is None
    assert "feedbackLoopEnabled" not in call.channel_data
    assert call.card is not None
    assert [a["title"] for a in call.card["actions"] if a.get("mode") != "secondary"] == [WHY_TITLE]


async def test_an_extractive_digest_cites_its_sources_without_the_ai_label(
        teams: TestClient, connector: FakeConnector) -> None:
    """A digest without a model shows people's own messages picked by a scorer: nothing was generated."""
    _, call = await ask_in_channel(teams, connector, "digest now")
    assert connector.refused == []
    entity = call.message_entity
    assert entity is not None and "additionalType" not in entity
    assert call.card is not None
    assert [c["position"] for c in entity["citation"]] == cited_numbers(call.card) != []
    assert call.channel_data.get("feedbackLoopEnabled") is True


# the feedback loop -------------------------------------------------------------------------------------

async def test_feedback_loop_is_stored_on_the_answer_it_was_given_on(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    question, call = await ask_in_channel(teams, connector, FREEZE)
    assert call.card is not None
    decision = action(call.card, WHY_TITLE)["data"]["decision"]
    record = await posted(services, decision)
    message_id = record.posted_ref["activity_id"]
    invoke = connector.feedback_invoke(message_id, "dislike", "It is Thursday now", conversation=question[
        "conversation"], user="29:bob", channel_data=question["channelData"])
    status, body = await post(teams, invoke)
    assert (status, body) == (200, None), "Teams wants 200 and an empty body"
    await settled(services)
    assert await services.storage.decisions.feedback(decision) == [("29:bob", "", False)]
    assert await comments(services, decision) == ["It is Thursday now"]
    # Bot Framework's redelivery of the same invoke counts once; a changed mind replaces the vote.
    assert await post(teams, invoke) == (200, None)
    status, _ = await post(teams, connector.feedback_invoke(message_id, "like", None, conversation=question[
        "conversation"], user="29:bob", channel_data=question["channelData"]))
    assert status == 200
    await settled(services)
    assert await services.storage.decisions.feedback(decision) == [("29:bob", "", True)]
    assert len(connector.calls) == 1, "Teams thanks the person itself: nothing is posted"


async def test_feedback_on_an_unknown_or_someone_elses_message_stores_and_says_nothing(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    assert (await post(teams, connector.personal(f"ask {FREEZE}")))[0] == 201
    (call,) = await connector.wait_for(1)
    assert call.card is not None
    decision = action(call.card, WHY_TITLE)["data"]["decision"]
    ann_message = (await posted(services, decision)).posted_ref["activity_id"]
    # Bob names Ann's private answer from her chat's id, and a message that never existed.
    for message_id, conversation in ((ann_message, PERSONAL), ("bot-activity-999", PERSONAL),
                                     (ann_message, {"id": "a:personal-bob", "conversationType": "personal"})):
        status, body = await post(teams, connector.feedback_invoke(message_id, "dislike", "leak?", user="29:bob",
                                                                   conversation=conversation))
        assert (status, body) == (200, None)
    await settled(services)
    assert await services.storage.decisions.feedback(decision) == []
    assert len(connector.calls) == 1, "nothing is said about it"


@pytest.mark.parametrize("value, reply_to, expected", [
    (None, "bot-activity-1", 400),
    ("feedback", "bot-activity-1", 400),
    ({"actionValue": {"reaction": "like"}}, "bot-activity-1", 400),
    ({"actionName": "feedback", "actionValue": {"reaction": "meh"}}, "bot-activity-1", 400),
    ({"actionName": "feedback", "actionValue": "like"}, "bot-activity-1", 400),
    ({"actionName": "feedback", "actionValue": {"reaction": "like"}}, None, 400),
    ({"actionName": "feedback", "actionValue": {"reaction": "like", "feedback": 7}}, "bot-activity-1", 400),
    ({"actionName": "somethingElse", "actionValue": {}}, "bot-activity-1", 200),
    ({"actionName": "feedback", "actionValue": {"reaction": "like", "feedback": "{not json"}}, "bot-activity-1",
     200),
])
async def test_malformed_feedback_is_a_4xx_or_a_harmless_200(
        teams: TestClient, connector: FakeConnector, services: Services, value: Any, reply_to: str | None,
        expected: int) -> None:
    question, call = await ask_in_channel(teams, connector, FREEZE)
    assert call.card is not None
    decision = action(call.card, WHY_TITLE)["data"]["decision"]
    await posted(services, decision)
    invoke = connector.feedback_invoke(reply_to, conversation=question["conversation"], user="29:bob",
                                       channel_data=question["channelData"])
    invoke["value"] = value
    status, body = await post(teams, invoke)
    assert status == expected
    if expected == 200:
        assert body is None
    else:
        assert body["statusCode"] == 400 and "malformed" in body["value"]["message"]
    await settled(services)
    counted = isinstance(value, dict) and value.get("actionName") == "feedback" and expected == 200
    assert await services.storage.decisions.feedback(decision) == ([("29:bob", "", True)] if counted else [])
    if counted:
        assert await comments(services, decision) == ["{not json"], "a comment that is not the form's JSON is kept"
