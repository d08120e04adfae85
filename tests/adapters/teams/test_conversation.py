"""Follow-ups on Teams, end to end: a channel question answered in its reply chain, then a mention in that
same chain continues the conversation; botbuilder's CloudAdapter against the loopback connector."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from adapters.teams.cards import CARD_CONTENT_TYPE, WHY_TITLE
from bot.services import Services
from tests.adapters.teams.test_adapter import action, card_text, post, posted
from tests.adapters.teams.test_cards import assert_valid_card
from tests.peers.bot_framework import TEAM_CHANNEL, FakeConnector

FIRST = "when does the release freeze start?"


async def test_a_mention_in_the_reply_chain_continues_the_conversation(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    question = connector.channel_mention(FIRST)
    status, _ = await post(teams, question)
    assert status == 201
    (first,) = await connector.wait_for(1)
    assert first.card is not None and "Friday at 17:00" in card_text(first.card)
    first_record = await posted(services, action(first.card, WHY_TITLE)["data"]["decision"])
    root = question["id"]
    assert first_record.reply["thread_id"] == root

    # Bob answers in the same reply chain, mentioning whybot: Teams sends the chain's root in the conversation id.
    follow = connector.channel_mention("and who said that?", user="29:bob", user_name="Bob", thread=root)
    assert follow["conversation"]["id"] == f"{TEAM_CHANNEL};messageid={root}"
    status, _ = await post(teams, follow)
    assert status == 201
    _, second = await connector.wait_for(2)
    assert second.method == "POST" and second.body["replyToId"] == follow["id"]
    assert second.conversation_id == follow["conversation"]["id"], "answered in the same reply chain"
    card = second.card
    assert card is not None
    assert_valid_card(card)
    assert "Friday at 17:00" in card_text(card), "answered from the message the first answer cited"
    data = action(card, WHY_TITLE)["data"]
    record = await posted(services, data["decision"])
    assert record.skill == "ask" and record.reply["thread_id"] == root
    note = record.rationale["conversation"]
    assert note["continues"] == FIRST and note["searched_as"].startswith("and who said that?")
    assert "release freeze" in note["searched_as"]
    first_cited = {c["source_id"] for c in first_record.reply["citations"]}
    assert first_cited & {c["source_id"] for c in record.reply["citations"]}

    # Why? (Action.Execute) expands the card in place and says what it continues.
    invoke = connector.card_invoke(data, conversation=follow["conversation"], user="29:bob",
                                   reply_to="bot-activity-2", channel_data=follow["channelData"])
    status, body = await post(teams, invoke)
    assert status == 200 and body["type"] == CARD_CONTENT_TYPE
    expanded = body["value"]
    assert_valid_card(expanded)
    why = card_text({"body": [e for e in expanded["body"] if e.get("id") == "rationale"]})
    assert f"Continues: {FIRST} → searched as: and who said that?" in why.replace("**", "")
    assert "preferring the thread my earlier answer cited" in why


async def test_a_mention_in_another_reply_chain_is_a_new_question(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    status, _ = await post(teams, connector.channel_mention(FIRST))
    assert status == 201
    await connector.wait_for(1)
    other = connector.channel_mention("and who said that?", user="29:bob", user_name="Bob")  # a new chain
    status, _ = await post(teams, other)
    assert status == 201
    _, second = await connector.wait_for(2)
    assert second.card is not None
    record = await posted(services, action(second.card, WHY_TITLE)["data"]["decision"])
    assert record.rationale["conversation"] is None
