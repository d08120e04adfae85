"""Keeps our copy of who is in which channel, and each person's time zone, in step with Slack.

The core's visibility rules need to know which channels are private and who their members are;
digests need each person's time zone. We learn both from the Web API the first time we meet a
channel or a person, and from member_joined_channel / member_left_channel afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from storage import ChannelRecord, Storage

log = logging.getLogger(__name__)

MAX_MEMBERS = 5000
LIST_ABOVE = 20  # more unknown people than this: one paged users.list pass instead of a users.info each


def channel_kind(info: dict[str, Any]) -> tuple[str, bool]:
    """(kind, is_private) from a conversations.info `channel` object."""
    if info.get("is_im"):
        return "dm", True
    if info.get("is_mpim"):
        return "group", True
    return "channel", bool(info.get("is_private") or info.get("is_group"))


class WorkspaceSync:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def channel(self, client: AsyncWebClient, tenant_id: str, channel_id: str, *,
                      refresh: bool = False, hint: str | None = None) -> ChannelRecord:
        """The stored channel, fetched from Slack (info + members) the first time we meet it.

        `hint` is the event's channel_type. When Slack will not tell us (channel_not_found for a private
        channel the bot is not in), the channel is stored as private: safer to under-share.
        """
        known = await self.storage.workspace.channel(tenant_id, channel_id)
        if known is not None and not refresh and known.name != known.external_id:
            return known
        try:
            info = (await client.conversations_info(channel=channel_id)).get("channel") or {}
        except SlackApiError as exc:
            log.info("conversations.info %s failed (%s); storing it as private", channel_id,
                     exc.response.get("error"))
            kind = "dm" if hint == "im" or channel_id.startswith("D") else ("group" if hint == "mpim" else "channel")
            is_private = hint != "channel"
            await self.storage.workspace.ensure_channel(tenant_id, channel_id, kind=kind, is_private=is_private)
            found = await self.storage.workspace.channel(tenant_id, channel_id)
            assert found is not None
            return found
        kind, is_private = channel_kind(info)
        name = info.get("name") or (f"dm-{info.get('user')}" if kind == "dm" else channel_id)
        topic = (info.get("topic") or {}).get("value") or ""
        await self.storage.workspace.upsert_channel(tenant_id, channel_id, name=name, kind=kind,
                                                    is_private=is_private, topic=topic)
        if is_private or kind != "channel":
            await self.storage.workspace.set_members(tenant_id, channel_id, await self.members(client, channel_id))
        found = await self.storage.workspace.channel(tenant_id, channel_id)
        assert found is not None
        return found

    async def members(self, client: AsyncWebClient, channel_id: str) -> list[str]:
        """All members, page by page (slack_sdk follows the cursor; its retry handler waits out 429s)."""
        members: list[str] = []
        try:
            async for page in await client.conversations_members(channel=channel_id, limit=200):
                members += [str(m) for m in page.get("members") or []]
                if len(members) >= MAX_MEMBERS:
                    log.warning("channel %s has more than %d members; stopped listing", channel_id, MAX_MEMBERS)
                    break
        except SlackApiError as exc:
            log.info("conversations.members %s failed: %s", channel_id, exc.response.get("error"))
        return members

    async def user(self, client: AsyncWebClient, tenant_id: str, user_id: str, *, refresh: bool = False) -> None:
        """Name, display name, bot flag and time zone (digests are scheduled in it), once per person."""
        if not user_id:
            return
        known = await self.storage.workspace.get_user(tenant_id, user_id)
        if known is not None and known.name and not refresh:
            return
        try:
            info = (await client.users_info(user=user_id)).get("user") or {}
        except SlackApiError as exc:
            log.info("users.info %s failed: %s", user_id, exc.response.get("error"))
            await self.storage.workspace.ensure_user(tenant_id, user_id)
            return
        await self._store(tenant_id, user_id, info)

    async def _store(self, tenant_id: str, user_id: str, info: dict[str, Any]) -> None:
        profile = info.get("profile") or {}
        await self.storage.workspace.upsert_user(
            tenant_id, user_id, name=info.get("real_name") or info.get("name") or user_id,
            display_name=profile.get("display_name") or profile.get("real_name") or None,
            tz=info.get("tz") or None, is_bot=bool(info.get("is_bot")))

    async def users(self, client: AsyncWebClient, tenant_id: str, user_ids: Iterable[str]) -> int:
        """Names for everyone in `user_ids` we hold none for (authors met only in backfilled history).

        A few are looked up one by one (users.info); many at once take one users.list pass, paged by
        slack_sdk, which stops as soon as all of them were seen. Returns how many were named."""
        missing = await self.storage.workspace.users_without_names(tenant_id, user_ids)
        if len(missing) <= LIST_ABOVE:
            for user_id in missing:
                await self.user(client, tenant_id, user_id)
        else:
            wanted = set(missing)
            try:
                async for page in await client.users_list(limit=200):
                    for info in page.get("members") or []:
                        user_id = str(info.get("id") or "")
                        if user_id in wanted:
                            await self._store(tenant_id, user_id, info)
                            wanted.discard(user_id)
                    if not wanted:
                        break
            except SlackApiError as exc:
                log.info("users.list failed: %s", exc.response.get("error"))
        return len(missing) - len(await self.storage.workspace.users_without_names(tenant_id, missing))
