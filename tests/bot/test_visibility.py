"""The one rule every shown source passes: who may read content from which channel."""

from __future__ import annotations

import pytest

from bot.models import Platform, Reader
from bot.visibility import Visibility
from storage import ChannelRecord

T = "slack:T1"
CHANNELS = [
    ChannelRecord(1, T, "PUB", "general", "channel", False),
    ChannelRecord(2, T, "SEC", "secret", "channel", True, frozenset({"ann", "bob"})),
    ChannelRecord(3, T, "INNER", "inner", "channel", True, frozenset({"ann"})),
    ChannelRecord(4, T, "DM_ANN", "dm", "dm", False, frozenset({"ann"})),
    ChannelRecord(5, T, "GRP", "group", "group", False, frozenset({"ann", "bob"})),
    ChannelRecord(6, T, "TEAM_A1", "a1", "channel", False, audience_scope="team-a"),
    ChannelRecord(7, T, "TEAM_A2", "a2", "channel", False, audience_scope="team-a"),
    ChannelRecord(8, T, "TEAM_B1", "b1", "channel", False, audience_scope="team-b"),
    ChannelRecord(9, "slack:T2", "FOREIGN", "foreign", "channel", False),
]


def allowed(user: str, channel: str | None, private: bool = False) -> set[str]:
    reader = Reader(platform=Platform.SLACK, tenant="T1", user=user, channel=channel, private=private)
    v = Visibility(reader, T, CHANNELS)
    return {c.external_id for c in CHANNELS if v.may_see_channel(c.external_id)}


@pytest.mark.parametrize(("user", "channel", "private", "expected"), [
    # In a public channel: public content only, never private, never another tenant or team.
    ("ann", "PUB", False, {"PUB"}),
    # Privately to Ann: everything Ann is a member of.
    ("ann", "PUB", True, {"PUB", "SEC", "INNER", "DM_ANN", "GRP"}),
    # Privately to Cat, who is in nothing private.
    ("cat", None, True, {"PUB"}),
    # In #secret (Ann, Bob): channels both are in, not Ann's own #inner.
    ("ann", "SEC", False, {"PUB", "SEC", "GRP"}),
    # In a group DM of Ann and Bob: the same.
    ("bob", "GRP", False, {"PUB", "SEC", "GRP"}),
    # In a Teams team channel: that team's channels, not the other team's.
    ("ann", "TEAM_A1", False, {"PUB", "TEAM_A1", "TEAM_A2"}),
    ("ann", "TEAM_B1", False, {"PUB", "TEAM_B1"}),
])
def test_visibility_rule(user: str, channel: str | None, private: bool, expected: set[str]) -> None:
    assert allowed(user, channel, private) == expected


def test_tenant_wide_documents_are_visible_and_ids_match() -> None:
    reader = Reader(platform=Platform.SLACK, tenant="T1", user="ann", channel="SEC")
    v = Visibility(reader, T, CHANNELS)
    assert v.may_see_channel(None)
    assert v.allowed_channel_ids == {1, 2, 5}


@pytest.mark.parametrize(("user", "viewing", "expected"), [
    ("ann", "PUB", "PUB"),  # a public channel in view scopes her private answer
    ("ann", "SEC", "SEC"),  # a private one she is in, too
    ("cat", "SEC", None),  # one she is not in never does, whatever the platform said she looks at
    ("ann", "DM_ANN", None),  # a DM is no scope
    ("ann", "FOREIGN", None),  # nor another workspace's channel
    ("ann", "NOPE", None),  # nor one nobody told us about
    ("ann", None, None),
])
def test_the_channel_in_view_scopes_only_where_the_reader_may_look(user: str, viewing: str | None,
                                                                    expected: str | None) -> None:
    reader = Reader(platform=Platform.SLACK, tenant="T1", user=user, channel="DM_ANN", private=True)
    found = Visibility(reader, T, CHANNELS).in_view(viewing)
    assert (found.external_id if found else None) == expected


def test_an_excluded_channel_stays_known_to_those_who_could_see_it_but_shows_nothing() -> None:
    """App Home lists an excluded channel's rules (so it can be included again) to its readers only."""
    channels = [ChannelRecord(1, T, "PUB", "general", "channel", False, excluded=True),
                ChannelRecord(2, T, "SEC", "secret", "channel", True, frozenset({"ann"}), excluded=True)]
    ann = Visibility(Reader(platform=Platform.SLACK, tenant="T1", user="ann", private=True), T, channels)
    cat = Visibility(Reader(platform=Platform.SLACK, tenant="T1", user="cat", private=True), T, channels)
    assert [ann.may_know_channel(c) for c in ("PUB", "SEC", "NOWHERE")] == [True, True, False]
    assert [cat.may_know_channel(c) for c in ("PUB", "SEC")] == [True, False]
    assert not ann.may_see_channel("PUB") and not ann.may_see_channel("SEC"), "but none of their content"
