"""Tenants, channels, users and channel membership."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select

from storage.db import Database
from storage.records import RESTRICTED_KINDS, ChannelRecord, UserRecord, is_restricted, tenant_key
from storage.tables import Channel, ChannelMember, ChannelRule, Team, TeamMember, Tenant, User
from storage.upsert import upsert


def _user(row: User) -> UserRecord:
    return UserRecord(row.id, row.tenant_id, row.external_id, row.name, row.display_name, row.tz, row.is_bot)


class WorkspaceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ensure_tenant(self, platform: str, external_id: str, name: str = "") -> str:
        key = tenant_key(platform, external_id)
        async with self.db.read() as c:  # every turn asks; most find their tenant as it is
            known = (await c.execute(select(Tenant.name).where(Tenant.id == key))).one_or_none()
        if known is not None and (not name or known.name == name):
            return key
        async with self.db.session() as s:
            await upsert(
                s, Tenant,
                {"id": key, "platform": platform, "external_id": external_id, "name": name},
                conflict=["id"], update=["name"] if name else [],
            )
        return key

    async def tenant_exists(self, tenant_id: str) -> bool:
        async with self.db.session() as s:
            return (await s.get(Tenant, tenant_id)) is not None

    async def list_tenants(self) -> list[str]:
        async with self.db.session() as s:
            return list((await s.scalars(select(Tenant.id).order_by(Tenant.id))).all())

    async def delete_tenant(self, tenant_id: str) -> None:
        """Remove everything we hold for a tenant (uninstall, data deletion request)."""
        async with self.db.session() as s:
            await s.execute(delete(Tenant).where(Tenant.id == tenant_id))

    async def _keyed(self, model: type[Channel] | type[User], values: dict[str, Any], update: list[str]) -> int:
        """Insert or update one tenant-scoped row by its platform id and return our key for it."""
        async with self.db.session() as s:
            await upsert(s, model, values, conflict=["tenant_id", "external_id"], update=update)
            key = await s.scalar(select(model.id).where(model.tenant_id == values["tenant_id"],
                                                        model.external_id == values["external_id"]))
        assert key is not None
        return key

    async def upsert_channel(
        self,
        tenant_id: str,
        external_id: str,
        *,
        name: str | None = None,
        kind: str = "channel",
        is_private: bool = False,
        topic: str = "",
        audience_scope: str | None = None,
    ) -> int:
        values = {"tenant_id": tenant_id, "external_id": external_id, "name": name or external_id,
                  "kind": kind, "is_private": is_private, "topic": topic, "audience_scope": audience_scope}
        return await self._keyed(Channel, values, ["kind", "is_private", "topic", "audience_scope"]
                                 + (["name"] if name else []))

    async def ensure_channel(self, tenant_id: str, external_id: str, *, kind: str = "channel",
                             is_private: bool = False, audience_scope: str | None = None) -> int:
        """The channel's id, creating a minimal row (never overwriting a known one) if it is new."""
        return await self._keyed(Channel, {"tenant_id": tenant_id, "external_id": external_id, "name": external_id,
                                           "kind": kind, "is_private": is_private, "topic": "",
                                           "audience_scope": audience_scope}, [])

    async def upsert_user(
        self,
        tenant_id: str,
        external_id: str,
        *,
        name: str | None = None,
        display_name: str | None = None,
        tz: str | None = None,
        is_bot: bool = False,
    ) -> int:
        values = {"tenant_id": tenant_id, "external_id": external_id, "name": name or "",
                  "display_name": display_name or "", "tz": tz, "is_bot": is_bot}
        return await self._keyed(User, values, [k for k in ("name", "display_name", "tz") if values[k]] + ["is_bot"])

    async def ensure_user(self, tenant_id: str, external_id: str) -> int:
        """The person's id, creating a minimal row (never overwriting a known one) if they are new."""
        return await self._keyed(User, {"tenant_id": tenant_id, "external_id": external_id, "name": "",
                                        "display_name": "", "tz": None, "is_bot": False}, [])

    async def get_user(self, tenant_id: str, external_id: str) -> UserRecord | None:
        async with self.db.session() as s:
            row = await s.scalar(
                select(User).where(User.tenant_id == tenant_id, User.external_id == external_id)
            )
            return _user(row) if row else None

    async def list_users(self, tenant_id: str) -> list[UserRecord]:
        async with self.db.session() as s:
            rows = await s.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.name))
            return [_user(r) for r in rows]

    async def set_members(self, tenant_id: str, channel_external_id: str, user_external_ids: Iterable[str]) -> None:
        """Replace a channel's membership with exactly these users."""
        wanted = list(dict.fromkeys(user_external_ids))
        async with self.db.session() as s:  # one read for what we know; a write only for what is new
            channel_id = await s.scalar(select(Channel.id).where(Channel.tenant_id == tenant_id,
                                                                 Channel.external_id == channel_external_id))
            known = dict((await s.execute(select(User.external_id, User.id).where(
                User.tenant_id == tenant_id, User.external_id.in_(wanted)))).tuples().all())
        if channel_id is None:
            channel_id = await self.ensure_channel(tenant_id, channel_external_id)
        user_ids = [known.get(uid) or await self.ensure_user(tenant_id, uid) for uid in wanted]
        async with self.db.session() as s:
            await s.execute(delete(ChannelMember).where(ChannelMember.channel_id == channel_id))
            for uid in user_ids:
                s.add(ChannelMember(channel_id=channel_id, user_id=uid))

    async def add_member(self, tenant_id: str, channel_external_id: str, user_external_id: str) -> None:
        channel_id = await self.ensure_channel(tenant_id, channel_external_id)
        user_id = await self.ensure_user(tenant_id, user_external_id)
        async with self.db.session() as s:
            await upsert(s, ChannelMember, {"channel_id": channel_id, "user_id": user_id},
                         conflict=["channel_id", "user_id"], update=[])

    async def remove_member(self, tenant_id: str, channel_external_id: str, user_external_id: str) -> None:
        async with self.db.session() as s:
            channel_id = await s.scalar(select(Channel.id).where(
                Channel.tenant_id == tenant_id, Channel.external_id == channel_external_id))
            user_id = await s.scalar(select(User.id).where(
                User.tenant_id == tenant_id, User.external_id == user_external_id))
            if channel_id is not None and user_id is not None:
                await s.execute(delete(ChannelMember).where(
                    ChannelMember.channel_id == channel_id, ChannelMember.user_id == user_id))

    async def users_without_names(self, tenant_id: str, external_ids: Iterable[str]) -> list[str]:
        """The ones among `external_ids` we hold no name for (never met, or met only as an id)."""
        wanted = list(dict.fromkeys(i for i in external_ids if i))
        if not wanted:
            return []
        async with self.db.session() as s:
            named = set((await s.scalars(select(User.external_id).where(
                User.tenant_id == tenant_id, User.external_id.in_(wanted), User.name != ""))).all())
        return [i for i in wanted if i not in named]

    async def rename_channel(self, tenant_id: str, external_id: str, name: str) -> bool:
        """Give a known channel its name, touching nothing else (its privacy stays what we learned)."""
        async with self.db.session() as s:
            row = await s.scalar(select(Channel).where(Channel.tenant_id == tenant_id,
                                                       Channel.external_id == external_id))
            if row is None:
                return False
            row.name = name
            return True

    # teams: groups whose members may read their standard channels ------------------------------

    async def team_refreshed_at(self, tenant_id: str, team_external_id: str) -> datetime | None:
        async with self.db.session() as s:
            refreshed: datetime | None = await s.scalar(select(Team.roster_refreshed_at).where(
                Team.tenant_id == tenant_id, Team.external_id == team_external_id))
            return refreshed

    async def stale_teams(self, tenant_id: str, before: datetime) -> list[str]:
        """Teams we know of whose roster was never read, or last read before `before`."""
        async with self.db.session() as s:
            rows = await s.scalars(select(Team.external_id).where(
                Team.tenant_id == tenant_id,
                (Team.roster_refreshed_at.is_(None)) | (Team.roster_refreshed_at < before)).order_by(Team.id))
            return list(rows.all())

    async def ensure_team(self, tenant_id: str, team_external_id: str, name: str = "") -> None:
        async with self.db.session() as s:
            await upsert(s, Team, {"tenant_id": tenant_id, "external_id": team_external_id, "name": name},
                         conflict=["tenant_id", "external_id"], update=["name"] if name else [])

    async def set_team_members(self, tenant_id: str, team_external_id: str, user_external_ids: Iterable[str],
                               *, refreshed_at: datetime) -> None:
        """Replace a team's roster with exactly these people and remember when it was read."""
        await self.ensure_team(tenant_id, team_external_id)
        user_ids = [await self.ensure_user(tenant_id, uid) for uid in dict.fromkeys(user_external_ids)]
        async with self.db.session() as s:
            team = await s.scalar(select(Team).where(Team.tenant_id == tenant_id,
                                                     Team.external_id == team_external_id))
            assert team is not None
            await s.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
            for uid in user_ids:
                s.add(TeamMember(team_id=team.id, user_id=uid))
            team.roster_refreshed_at = refreshed_at

    async def team_member_ids(self, tenant_id: str, team_external_id: str) -> frozenset[str]:
        async with self.db.session() as s:
            rows = await s.scalars(select(User.external_id).join(TeamMember, TeamMember.user_id == User.id)
                                   .join(Team, Team.id == TeamMember.team_id)
                                   .where(Team.tenant_id == tenant_id, Team.external_id == team_external_id))
            return frozenset(rows.all())

    async def channels(self, tenant_id: str, external_ids: Iterable[str] | None = None) -> list[ChannelRecord]:
        """Channels of a tenant with their member lists (all of them, or the ones named).

        Selects plain columns: building ORM objects cost ~5x more in a workspace of 500 channels."""
        return await self._channels(tenant_id, external_ids)

    async def channels_seen_by(self, tenant_id: str, user_external_id: str, here: str | None = None
                               ) -> list[ChannelRecord]:
        """What deciding one person's visibility needs (bot.visibility), read for every question: the
        channels open to the tenant, the restricted ones (private, group, DM) they are a member of, and
        `here`, where they ask. Member lists come only with the restricted ones (the readers of an answer in
        a restricted `here` are its members); an open channel's record has none, and a team's roster
        (`audience_members`) holds them alone, if they are on it. A restricted channel they
        are not in can never be shown to them, and reading every channel's members made each question cost as
        much as the workspace's memberships (bench/visibility.py: 130-150 ms at 5,000 people)."""
        return await self._channels(tenant_id, None, seen_by=user_external_id, here=here)

    async def _channels(self, tenant_id: str, external_ids: Iterable[str] | None, *, seen_by: str | None = None,
                        here: str | None = None) -> list[ChannelRecord]:
        restricted = or_(Channel.is_private.is_(True), Channel.kind.in_(RESTRICTED_KINDS))
        async with self.db.read() as s:
            query = (select(Channel.id, Channel.tenant_id, Channel.external_id, Channel.name, Channel.kind,
                            Channel.is_private, Channel.audience_scope, ChannelRule.excluded)
                     .outerjoin(ChannelRule, and_(ChannelRule.tenant_id == Channel.tenant_id,
                                                  ChannelRule.channel_external_id == Channel.external_id))
                     .where(Channel.tenant_id == tenant_id))
            if external_ids is not None:
                query = query.where(Channel.external_id.in_(list(external_ids)))
            if seen_by is not None:
                theirs = (select(ChannelMember.channel_id).join(User, User.id == ChannelMember.user_id)
                          .where(User.tenant_id == tenant_id, User.external_id == seen_by))
                here_too = [Channel.external_id == here] if here else []
                query = query.where(or_(~restricted, Channel.id.in_(theirs), *here_too))
            rows = (await s.execute(query.order_by(Channel.name))).all()
            members: dict[int, set[str]] = defaultdict(set)
            if rows:
                member_query = (select(ChannelMember.channel_id, User.external_id)
                                .join(User, User.id == ChannelMember.user_id))
                if seen_by is not None:
                    member_query = member_query.where(ChannelMember.channel_id.in_(
                        [r[0] for r in rows if is_restricted(r[5], r[4])]))
                elif external_ids is None:
                    member_query = member_query.join(Channel, Channel.id == ChannelMember.channel_id).where(
                        Channel.tenant_id == tenant_id)
                else:
                    member_query = member_query.where(ChannelMember.channel_id.in_([r[0] for r in rows]))
                for channel_id, user_external in await s.execute(member_query):
                    members[channel_id].add(user_external)
            scopes = {r[6] for r in rows if r[6]}
            teams: dict[str, frozenset[str]] = {}
            if scopes:
                team_query = (select(Team.external_id, User.external_id)
                              .join(TeamMember, TeamMember.team_id == Team.id)
                              .join(User, User.id == TeamMember.user_id)
                              .where(Team.tenant_id == tenant_id, Team.external_id.in_(list(scopes))))
                if seen_by is not None:  # visibility asks only whether they are on the roster
                    team_query = team_query.where(User.external_id == seen_by)
                grouped: dict[str, set[str]] = defaultdict(set)
                for team, user_external in await s.execute(team_query):
                    grouped[team].add(user_external)
                teams = {team: frozenset(users) for team, users in grouped.items()}
        empty: frozenset[str] = frozenset()
        return [ChannelRecord(cid, tenant, external, name, kind, bool(private),
                              frozenset(members[cid]) if cid in members else empty, scope,
                              teams.get(scope, empty) if scope else empty, bool(excluded))
                for cid, tenant, external, name, kind, private, scope, excluded in rows]

    async def channel(self, tenant_id: str, external_id: str) -> ChannelRecord | None:
        found = await self.channels(tenant_id, [external_id])
        return found[0] if found else None

    async def channel_by_name(self, tenant_id: str, name: str) -> ChannelRecord | None:
        async with self.db.session() as s:
            external = await s.scalar(select(Channel.external_id).where(
                Channel.tenant_id == tenant_id, Channel.name == name.lstrip("#")))
        return await self.channel(tenant_id, external) if external else None
