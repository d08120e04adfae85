"""Channel rules and "why didn't you answer?" on Teams, through botbuilder and the loopback connector: a
team's members may change a channel's rules and its guests may not (roster `userRole`), a question asked
in the channel without a mention is answered where the rule says so, and a mention in an excluded channel
is explained in a personal chat (POST /v3/conversations), never in the channel."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from bot.services import Services
from storage import tenant_key
from tests.conftest import settled
from tests.peers.bot_framework import TENANT, Call, FakeConnector

TEAMS_TENANT = tenant_key("teams", TENANT)
TEAM = "19:team-eng@thread.tacv2"  # the team's id is its General channel's id
ANN, BOB, GUS = "29:ann", "29:bob", "29:gus"
FACT = "The release freeze starts Friday at 17:00 UTC because of the payment migration."


async def _post(client: TestClient, activity: dict[str, Any]) -> None:
    response = await client.post("/api/messages", data=json.dumps(activity),
                                 headers={"Content-Type": "application/json"})
    assert response.status in (200, 201, 202), await response.text()


async def _team(teams: TestClient, connector: FakeConnector, services: Services) -> None:
    """whybot added to a team where Gus is a guest."""
    connector.add_team(TEAM, {TEAM: None}, [(ANN, "Ann Lee"), (BOB, "Bob Kim"), (GUS, "Gus Guest")],
                       guests=frozenset({GUS}))
    await _post(teams, connector.bot_added(
        {"id": TEAM, "conversationType": "channel", "isGroup": True, "tenantId": TENANT},
        channel_data={"tenant": {"id": TENANT}, "team": {"id": TEAM, "name": "Eng"}, "channel": {"id": TEAM},
                      "eventType": "teamMemberAdded"}))
    await settled(services)


async def _say(teams: TestClient, connector: FakeConnector, services: Services, text: str, *, user: str = BOB,
               mention: bool = False, thread: str | None = None) -> list[Call]:
    """A message in the team's General channel; returns what whybot sent because of it."""
    before = len(connector.calls)
    make = connector.channel_mention if mention else connector.channel_message
    await _post(teams, make(text, user=user, user_name=user, channel=TEAM, team=TEAM, thread=thread))
    await settled(services)
    return connector.calls[before:]


def _text(calls: list[Call]) -> str:
    return json.dumps([c.body for c in calls])


async def test_a_teams_members_change_rules_and_its_guests_may_not(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    await _team(teams, connector, services)
    refused = _text(await _say(teams, connector, services, "settings answer questions", user=GUS, mention=True))
    assert "Only some people can change this" in refused and "the team's members (not guests)" in refused
    assert await services.storage.channel_rules.get(TEAMS_TENANT, TEAM) is None
    assert any(path.endswith(f"/members/{GUS}") for path, _ in connector.reads), "the roster says who Gus is"

    allowed = _text(await _say(teams, connector, services, "settings answer questions", user=ANN, mention=True))
    assert "answering questions" in allowed
    rules = await services.storage.channel_rules.get(TEAMS_TENANT, TEAM)
    assert rules is not None and rules.answer_mode == "questions" and rules.updated_by == ANN


async def test_questions_in_a_channel_are_answered_in_their_thread_only_where_the_rule_says(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    await _team(teams, connector, services)
    await _say(teams, connector, services, FACT, user=ANN)
    assert not await _say(teams, connector, services, "When does the release freeze start this week?"), \
        "by default only mentions are answered"
    await _say(teams, connector, services, "settings answer questions", user=ANN, mention=True)

    [answer] = await _say(teams, connector, services, "When does the release freeze start this week?")
    assert answer.activity_id, "a reply to the question's own post: in its thread"
    assert "17:00" in json.dumps(answer.body)
    assert not await _say(teams, connector, services, "The release freeze is fine by me.")
    assert not await _say(teams, connector, services, "When does the release freeze start this week?",
                          thread="1700000000001"), "a reply in someone's thread is their conversation"


async def test_a_mention_in_an_excluded_channel_is_explained_in_a_personal_chat(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    await _team(teams, connector, services)
    await _say(teams, connector, services, FACT, user=ANN)
    excluded = _text(await _say(teams, connector, services, "settings exclude", user=ANN, mention=True))
    assert "Excluded #General" in excluded and "deleted the 1 message" in excluded, "the fact; the command is not kept"
    assert not await services.storage.messages.channel_messages(TEAMS_TENANT, TEAM)

    sent = await _say(teams, connector, services, "when does the release freeze start?", mention=True)
    create, note = sent
    assert create.method == "CREATE" and [m["id"] for m in create.body["members"]] == [BOB]
    assert create.body["isGroup"] is False and create.body["channelData"] == {"tenant": {"id": TENANT}}
    assert note.conversation_id == f"a:personal-{BOB}" and "I don't read #General" in note.body["text"]
    assert not await services.storage.messages.channel_messages(TEAMS_TENANT, TEAM), "nothing new is kept"

    connector.unreachable.add(GUS)
    sent = await _say(teams, connector, services, "when does the release freeze start?", user=GUS, mention=True)
    assert [c.method for c in sent] == ["CREATE"], "no personal chat: the note is dropped, never posted in public"
