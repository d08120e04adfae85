"""Team rosters: stored per tenant, replaced on refresh, attached to the team's channels for visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import Storage


async def test_team_roster_is_replaced_and_reaches_its_channels(storage: Storage) -> None:
    workspace = storage.workspace
    tenant = await workspace.ensure_tenant("teams", "tenant-1")
    other = await workspace.ensure_tenant("teams", "tenant-2")
    await workspace.upsert_channel(tenant, "19:general", name="General", audience_scope="19:team-a")
    await workspace.upsert_channel(tenant, "19:lonely", name="Lonely", audience_scope="19:team-b")
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    assert await workspace.team_refreshed_at(tenant, "19:team-a") is None
    await workspace.set_team_members(tenant, "19:team-a", ["29:ann", "29:bob"], refreshed_at=now)
    await workspace.set_team_members(other, "19:team-a", ["29:eve"], refreshed_at=now)  # same id, other tenant
    await workspace.set_team_members(tenant, "19:team-a", ["29:ann", "29:cat"], refreshed_at=now + timedelta(hours=1))
    general = await workspace.channel(tenant, "19:general")
    assert general is not None and general.audience_members == {"29:ann", "29:cat"}
    lonely = await workspace.channel(tenant, "19:lonely")
    assert lonely is not None and lonely.audience_members == frozenset()
    assert await workspace.team_member_ids(tenant, "19:team-a") == {"29:ann", "29:cat"}
    # What one person's visibility reads: of each roster, only whether they are on it.
    seen = {c.external_id: c.audience_members for c in await workspace.channels_seen_by(tenant, "29:cat")}
    assert seen == {"19:general": {"29:cat"}, "19:lonely": frozenset()}
    seen = {c.external_id: c.audience_members for c in await workspace.channels_seen_by(tenant, "29:bob")}
    assert seen == {"19:general": frozenset(), "19:lonely": frozenset()}
    assert await workspace.team_refreshed_at(tenant, "19:team-a") == now + timedelta(hours=1)
    assert await workspace.stale_teams(tenant, now + timedelta(hours=2)) == ["19:team-a"]
    assert await workspace.stale_teams(tenant, now) == []


async def test_names_are_filled_in_without_touching_privacy(storage: Storage) -> None:
    workspace = storage.workspace
    tenant = await workspace.ensure_tenant("slack", "T1")
    await workspace.upsert_user(tenant, "UANN", name="ann")
    await workspace.ensure_user(tenant, "UBOB")
    assert await workspace.users_without_names(tenant, ["UANN", "UBOB", "UCAROL", "UBOB", ""]) == ["UBOB", "UCAROL"]
    await workspace.upsert_channel(tenant, "19:x", kind="channel", is_private=True)
    assert await workspace.rename_channel(tenant, "19:x", "Plans")
    assert not await workspace.rename_channel(tenant, "19:unknown", "Nope")
    renamed = await workspace.channel(tenant, "19:x")
    assert renamed is not None and renamed.name == "Plans" and renamed.is_private
