"""A private reader (a DM) may read a team's standard channels only when they are on its stored roster."""

from __future__ import annotations

import pytest

from bot.models import Platform, Reader
from bot.visibility import Visibility
from storage import ChannelRecord

T = "teams:tenant"
TEAM_A = frozenset({"29:ann", "29:bob"})
CHANNELS = [
    ChannelRecord(1, T, "A_GENERAL", "General", "channel", False, audience_scope="team-a", audience_members=TEAM_A),
    ChannelRecord(2, T, "A_INCIDENTS", "Incidents", "channel", False, audience_scope="team-a",
                  audience_members=TEAM_A),
    ChannelRecord(3, T, "A_PRIVATE", "Plans", "channel", True, frozenset({"29:ann"}), audience_scope="team-a",
                  audience_members=TEAM_A),
    ChannelRecord(4, T, "B_GENERAL", "General", "channel", False, audience_scope="team-b"),  # roster unknown
    ChannelRecord(5, T, "a:personal-ann", "a:personal-ann", "dm", True, frozenset({"29:ann"})),
    ChannelRecord(6, T, "a:personal-cat", "a:personal-cat", "dm", True, frozenset({"29:cat"})),
    ChannelRecord(7, T, "GROUP", "group", "group", True, frozenset({"29:ann", "29:cat"})),
]


def allowed(user: str, channel: str | None, private: bool) -> set[str]:
    reader = Reader(platform=Platform.TEAMS, tenant="tenant", user=user, channel=channel, private=private)
    visibility = Visibility(reader, T, CHANNELS)
    return {c.external_id for c in CHANNELS if visibility.may_see_channel(c.external_id)}


@pytest.mark.parametrize(("user", "channel", "private", "expected"), [
    # Ann in her DM: her team's standard channels, her private channel, her chats; not team B (roster unknown).
    ("29:ann", "a:personal-ann", True, {"A_GENERAL", "A_INCIDENTS", "A_PRIVATE", "a:personal-ann", "GROUP"}),
    # Cat is not on team A's roster: nothing of team A, not even its standard channels.
    ("29:cat", "a:personal-cat", True, {"a:personal-cat", "GROUP"}),
    # A group chat of Ann and Cat is not private to Ann: team A stays out even though Ann is a member.
    ("29:ann", "GROUP", False, {"GROUP"}),
    # Inside team A's channel: the team's standard channels, as before.
    ("29:cat", "A_GENERAL", False, {"A_GENERAL", "A_INCIDENTS"}),
])
def test_a_dm_reads_the_teams_the_person_belongs_to(user: str, channel: str, private: bool,
                                                    expected: set[str]) -> None:
    assert allowed(user, channel, private) == expected
