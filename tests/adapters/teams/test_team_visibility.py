"""A standard Teams channel is readable by its team, not the whole tenant: answers respect that."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.peers.bot_framework import FakeConnector

TEAM_A, TEAM_B = "19:team-a@thread.tacv2", "19:team-b@thread.tacv2"
CHANNEL_A, CHANNEL_A2, CHANNEL_B = "19:a-general@thread.tacv2", "19:a-random@thread.tacv2", "19:b-general@thread.tacv2"


async def _post(client: TestClient, activity: dict[str, Any]) -> None:
    response = await client.post("/api/messages", data=json.dumps(activity),
                                 headers={"Content-Type": "application/json"})
    assert response.status in (200, 201, 202)


async def _ask(client: TestClient, connector: FakeConnector, text: str, channel: str, team: str) -> str:
    before = len(connector.calls)
    await _post(client, connector.channel_mention(text, channel=channel, team=team))
    calls = await connector.wait_for(before + 1)
    return json.dumps(calls[-1].body)


async def test_another_teams_channel_content_stays_in_its_team(teams: TestClient, connector: FakeConnector) -> None:
    await _post(teams, connector.channel_message("The Quasar launch moves to 14 March, keep it in the team.",
                                                 channel=CHANNEL_A, team=TEAM_A))
    await _post(teams, connector.channel_message("Hello from the other team.", channel=CHANNEL_B, team=TEAM_B))
    answer_elsewhere = await _ask(teams, connector, "when is the Quasar launch?", CHANNEL_B, TEAM_B)
    assert "14 March" not in answer_elsewhere, "a team's channel leaked into another team"
    answer_in_team = await _ask(teams, connector, "when is the Quasar launch?", CHANNEL_A2, TEAM_A)
    assert "14 March" in answer_in_team
