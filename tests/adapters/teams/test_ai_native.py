"""Teams' own AI surfaces, end to end through botbuilder's CloudAdapter and the loopback connector: the AI
label and citations on answers, the feedback loop (`message/submitAction`), and streamed answers in personal
chats (typing activities with `streaminfo`, then the final message). The connector refuses what Teams
refuses (tests/peers/bot_framework.py), so `connector.refused == []` means Teams would have taken it all."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from adapters.teams.cards import WHY_TITLE
from bot.models import ChatEvent, ConversationKind, Platform, Trigger
from bot.services import Services, build_services
from storage import Storage
from storage.tables import Feedback
from tests.adapters.teams.conftest import seed, serve
from tests.adapters.teams.test_adapter import action, ask_in_channel, card_text, post, posted
from tests.adapters.teams.test_cards import assert_valid_card
from tests.conftest import make_settings, settled
from tests.peers.bot_framework import TENANT, Call, FakeConnector
from tests.peers.fake_openai import FakeOpenAI

pytestmark = pytest.mark.asyncio

PERSONAL = {"id": "a:personal-ann", "conversationType": "personal", "tenantId": TENANT}
FREEZE = "when does the release freeze start?"
MARK = re.compile(r"\[(\d+)\]")


def freeze_answer(body: dict[str, Any]) -> str:
    """What a faithful model writes: the answer, citing the source it was given for the freeze."""
    prompt = body["messages"][-1]["content"]
    for block in prompt.split("<source ")[1:]:
        if "release freeze" in block:
            n = block.split('n="', 1)[1].split('"', 1)[0]
            return (f"The release freeze starts on Friday at 17:00 UTC [{n}], and after that only hotfixes "
                    f"go out until the release is done [{n}].")
    return "NOT_FOUND"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(default=freeze_answer) as fake:
        yield fake


@pytest.fixture
async def llm(fake_openai: FakeOpenAI, sqlite_storage: Storage, sqlite_url: str) -> Services:
    services = await build_services(make_settings(sqlite_url, OPENAI_BASE_URL=fake_openai.base_url,
                                                  OPENAI_API_KEY="sk-test-0123456789abcdefghij",
                                                  WHYBOT_LLM_MODEL="test-model"), storage=sqlite_storage)
    await seed(services)
    return services


@pytest.fixture
async def llm_teams(llm: Services) -> AsyncIterator[TestClient]:
    """The Teams server with an OpenAI-compatible model writing the answers (and streaming them)."""
    client = await serve(llm)
    llm.surfaces[Platform.TEAMS].stream_interval = 0.0  # type: ignore[attr-defined]  # every update, for the test
    yield client
    await client.close()


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


# streaming in personal chats -----------------------------------------------------------------------------

def stream_updates(connector: FakeConnector) -> list[Call]:
    return [t for t in connector.typing if t.stream_info is not None]


async def test_a_personal_chat_answer_is_streamed_then_finished_as_the_card(
        llm_teams: TestClient, connector: FakeConnector, llm: Services, fake_openai: FakeOpenAI) -> None:
    assert (await post(llm_teams, connector.personal(FREEZE)))[0] == 201
    (final,) = await connector.wait_for(1, within=15)
    await settled(llm)
    assert connector.refused == []
    assert fake_openai.received and fake_openai.received[-1].body.get("stream") is True
    # A plain typing indicator first, then the stream.
    assert connector.typing[0].stream_info is None
    updates = stream_updates(connector)
    infos = [u.stream_info for u in updates]
    assert infos and all(i is not None for i in infos)
    kinds = [i["streamType"] for i in infos]  # type: ignore[index]
    informative = kinds.count("informative")
    assert informative >= 1 and kinds == ["informative"] * informative + ["streaming"] * (len(kinds) - informative)
    assert len(kinds) - informative >= 3, "the text arrives in several growing updates"
    assert [i["streamSequence"] for i in infos] == list(range(1, len(infos) + 1))  # type: ignore[index]
    stream_id = connector.streams and next(iter(connector.streams))
    assert "streamId" not in infos[0] and all(i["streamId"] == stream_id for i in infos[1:])  # type: ignore[index]
    assert updates[0].body["text"].startswith("Searching what you can see")
    texts = [u.body["text"] for u in updates if u.stream_info["streamType"] == "streaming"]  # type: ignore[index]
    assert all(b.startswith(a) and len(b) > len(a) for a, b in pairwise(texts))
    assert "release freeze starts on Friday" in texts[-1]
    assert all(u.channel_data.get("streamType") == u.stream_info["streamType"] for u in updates)  # type: ignore[index]
    # The final message: the card, the label, citations and the feedback loop, ending the same stream.
    assert final.order > updates[-1].order and final.body["type"] == "message"
    assert final.stream_info == {"type": "streaminfo", "streamId": stream_id, "streamType": "final"}
    assert final.channel_data == {"feedbackLoopEnabled": True, "streamType": "final", "streamId": stream_id}
    assert final.card is not None
    assert_valid_card(final.card)
    assert "release freeze starts on Friday" in card_text(final.card)
    assert final.message_entity is not None and final.message_entity["additionalType"] == ["AIGeneratedContent"]
    assert [c["position"] for c in final.message_entity["citation"]] == cited_numbers(final.card) != []
    assert connector.streams[stream_id].finished
    # The decision is recorded as that message, so the feedback loop under it reaches it.
    decision = action(final.card, WHY_TITLE)["data"]["decision"]
    assert (await posted(llm, decision)).posted_ref["activity_id"] == stream_id
    assert await post(llm_teams, connector.feedback_invoke(stream_id, "like", "", conversation=PERSONAL)) == (200, None)
    await settled(llm)
    assert await llm.storage.decisions.feedback(decision) == [("29:ann", "", True)]


async def test_stream_updates_are_paced(
        llm_teams: TestClient, connector: FakeConnector, llm: Services, fake_openai: FakeOpenAI) -> None:
    """Teams throttles faster streams: about one update a second, however fast the model writes."""
    llm.surfaces[Platform.TEAMS].stream_interval = 0.5  # type: ignore[attr-defined]
    fake_openai.stream_words, fake_openai.stream_pause_s = 1, 0.05  # ~30 chunks over ~1.5 s
    assert (await post(llm_teams, connector.personal(FREEZE)))[0] == 201
    await connector.wait_for(1, within=20)
    await settled(llm)
    assert connector.refused == []
    updates = stream_updates(connector)
    assert 2 <= len(updates) < 10, "far fewer updates than chunks"
    assert all(b.at - a.at >= 0.45 for a, b in pairwise(updates))


async def test_channels_and_group_chats_get_a_typing_indicator_and_no_stream(
        llm_teams: TestClient, connector: FakeConnector, llm: Services) -> None:
    activity, call = await ask_in_channel(llm_teams, connector, FREEZE)
    assert (await post(llm_teams, connector.group_mention(FREEZE)))[0] == 201
    await connector.wait_for(2, within=15)
    await settled(llm)
    assert connector.refused == [] and connector.streams == {}
    assert connector.typing and all(t.body == {**t.body, "type": "typing"} and t.stream_info is None
                                    and "text" not in t.body for t in connector.typing)
    assert {t.conversation_id for t in connector.typing} == {activity["conversation"]["id"], "19:group-chat@thread.v2"}
    # The answer itself is the usual reply in the thread, with the label and the feedback loop.
    assert call.activity_id == activity["id"] and call.stream_info is None
    assert call.message_entity is not None and call.channel_data == {"feedbackLoopEnabled": True}


async def test_a_stream_the_person_stops_is_not_answered_again(
        llm_teams: TestClient, connector: FakeConnector, llm: Services) -> None:
    connector.stop_after = 2  # Stop pressed once the second update shows
    assert (await post(llm_teams, connector.personal(FREEZE)))[0] == 201
    await settled(llm)
    (stream,) = connector.streams.values()
    assert stream.stopped and not stream.finished
    assert [status for _, status, message in connector.refused] == [403] and "cancel" in connector.refused[0][2]
    assert connector.calls == [], "no second message after Stop"
    decision = await llm.storage.decisions.posted_as(f"teams:{TENANT}", "a:personal-ann", stream.id)
    assert decision is not None, "the answer is stored as the stopped message (its Why? stays reachable)"


async def test_failed_updates_never_fail_the_answer(
        llm_teams: TestClient, connector: FakeConnector, llm: Services) -> None:
    connector.fail_typing = 2  # the typing indicator and the first stream update
    assert (await post(llm_teams, connector.personal(FREEZE)))[0] == 201
    (call,) = await connector.wait_for(1, within=15)
    await settled(llm)
    assert connector.streams == {} and call.stream_info is None
    assert call.card is not None and "release freeze starts on Friday" in card_text(call.card)
    assert call.message_entity is not None and call.channel_data == {"feedbackLoopEnabled": True}


async def test_text_that_starts_over_ends_the_updates_not_the_stream(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    """A retried model call starts its text again; Teams takes only growing text, so updates stop there."""
    event = ChatEvent(platform=Platform.TEAMS, tenant=TENANT, channel="a:personal-ann",
                      conversation_kind=ConversationKind.DM, user="29:ann", trigger=Trigger.MESSAGE, text=FREEZE,
                      reference={"reply_to": {"serviceUrl": connector.url, "channelId": "msteams",
                                              "conversation": PERSONAL, "bot": {"id": "28:whybot-app-id"},
                                              "user": {"id": "29:ann"}}})
    surface = services.surfaces[Platform.TEAMS]
    surface.stream_interval = 0.0  # type: ignore[attr-defined]
    progress = await surface.progress(event, "key")
    assert progress.streams
    await progress.status("Searching…")
    await progress.text("The freeze")
    await progress.text("The freeze starts")
    await progress.text("Freeze: Friday")  # started over
    await progress.text("Freeze: Friday at 17:00")
    assert not progress.streams
    assert [u.body["text"] for u in stream_updates(connector)] == ["Searching…", "The freeze", "The freeze starts"]
    assert connector.refused == []
