"""Teams names and team membership, from the connector's channel list and paged roster, cached.

The connector endpoints are the loopback peer's (tests/peers/bot_framework.py), in the wire format of
learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context and botbuilder-python's TeamsInfo.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from bot.services import Services
from storage import tenant_key
from tests.conftest import settled
from tests.peers.bot_framework import TENANT, FakeConnector

TEAMS_TENANT = tenant_key("teams", TENANT)
TEAM = "19:team-eng@thread.tacv2"  # a team's id is its General channel's id
INCIDENTS = "19:incidents@thread.tacv2"
CROWD = [(f"29:person-{i}", f"Person {i}") for i in range(250)]  # two pages of 200


async def _post(client: TestClient, activity: dict[str, Any]) -> None:
    response = await client.post("/api/messages", data=json.dumps(activity),
                                 headers={"Content-Type": "application/json"})
    assert response.status in (200, 201, 202)


def _in_team(activity: dict[str, Any], channel: str) -> dict[str, Any]:
    activity["channelData"]["channel"] = {"id": channel}  # message payloads carry the channel id, not its name
    return activity


async def _add_to_team(teams: TestClient, connector: FakeConnector) -> None:
    connector.add_team(TEAM, {TEAM: None, INCIDENTS: "Incidents"},
                       [("29:ann", "Ann Lee"), ("29:bob", "Bob Kim"), *CROWD])
    await _post(teams, connector.bot_added(
        {"id": TEAM, "conversationType": "channel", "isGroup": True, "tenantId": TENANT},
        channel_data={"tenant": {"id": TENANT}, "team": {"id": TEAM, "name": "Eng"}, "channel": {"id": TEAM},
                      "eventType": "teamMemberAdded"}))


async def _dm(teams: TestClient, connector: FakeConnector, user: str, name: str, text: str) -> str:
    before = len(connector.calls)
    await _post(teams, connector.personal(text, user=user, user_name=name, conversation=f"a:personal-{name}"))
    calls = await connector.wait_for(before + 1, within=10)
    return json.dumps([calls[-1].card, calls[-1].body.get("summary"), calls[-1].body.get("text")])


async def test_added_to_a_team_learns_channel_names_and_the_paged_roster(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    await _add_to_team(teams, connector)
    await settled(services)
    workspace = services.storage.workspace
    assert (await workspace.get_user(TEAMS_TENANT, "29:bob")).label == "Bob Kim"  # type: ignore[union-attr]
    assert len(await workspace.team_member_ids(TEAMS_TENANT, TEAM)) == 252
    pages = [query for path, query in connector.reads if path.endswith("/pagedmembers")]
    assert len(pages) == 2 and pages[1].get("continuationToken"), "the roster is read page by page"
    general, incidents = await workspace.channel(TEAMS_TENANT, TEAM), await workspace.channel(TEAMS_TENANT, INCIDENTS)
    assert general is not None and general.name == "General"
    assert incidents is not None and incidents.name == "Incidents" and incidents.audience_scope == TEAM

    # Hearing from the team again within the cache time reads nothing more.
    reads = len(connector.reads)
    await _post(teams, _in_team(connector.channel_message("Deploys resume tomorrow.", channel=INCIDENTS,
                                                          team=TEAM), INCIDENTS))
    await settled(services)
    assert len(connector.reads) == reads


async def test_personal_chat_answers_from_the_persons_teams_channels_by_name(
        teams: TestClient, connector: FakeConnector, services: Services) -> None:
    await _add_to_team(teams, connector)
    await _post(teams, _in_team(connector.channel_message(
        "The checkout outage was caused by an expired TLS certificate on the payments gateway.",
        user="29:bob", user_name="Bob Kim", channel=INCIDENTS, team=TEAM), INCIDENTS))
    await settled(services)

    member = await _dm(teams, connector, "29:ann", "ann", "what caused the checkout outage?")
    assert "expired TLS certificate" in member
    assert "#Incidents" in member and "Bob Kim" in member
    assert "19:" not in member and "@thread" not in member and "a:personal" not in member

    outsider = await _dm(teams, connector, "29:zed", "zed", "what caused the checkout outage?")
    assert "TLS certificate" not in outsider and "Incidents" not in outsider
    assert "withheld" not in outsider and "not everyone" not in outsider, "not even a count of what exists"
