"""Digests posted without a request to answer. The idempotency key travels in the message's metadata,
so after a crash between posting and recording, `find_posted` can see the message is already there."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import build_client
from adapters.slack.oauth import TokenSource
from adapters.slack.poster import Poster
from bot.adapter import DeliveryTarget
from bot.models import Platform, Reply

log = logging.getLogger(__name__)

METADATA_EVENT = "whybot_delivery"
LOOKBACK_MESSAGES = 100


class NotInstalled(RuntimeError):
    """No bot token for the workspace (uninstalled, or never installed)."""


class SlackDelivery:
    platform = Platform.SLACK

    def __init__(self, api_url: str, poster: Poster, tokens: TokenSource) -> None:
        self.api_url = api_url
        self.poster = poster
        self.tokens = tokens

    async def _client(self, team_id: str) -> AsyncWebClient:
        token = await self.tokens.for_team(team_id)
        if not token:
            raise NotInstalled(f"whybot has no bot token for Slack workspace {team_id}")
        return build_client(self.api_url, token)

    async def post(self, target: DeliveryTarget, reply: Reply, *, key: str) -> str:
        client = await self._client(target.tenant)
        reply = await self.poster.with_permalinks(client, target.tenant, reply)
        thread = target.reference.get("thread_ts") if target.reference.get("reply_in_thread") else None
        return await self.poster.post(
            client, team_id=target.tenant, channel=target.channel, reply=reply,
            thread_ts=str(thread) if thread else None,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key, "decision_id": reply.decision_id}})

    async def find_posted(self, target: DeliveryTarget, key: str) -> str | None:
        """The ts of a recent message of ours carrying `key` in its metadata, if there is one."""
        client = await self._client(target.tenant)
        try:
            response = await client.conversations_history(channel=target.channel, limit=LOOKBACK_MESSAGES,
                                                           include_all_metadata=True)
        except SlackApiError as exc:
            log.warning("could not check %s for an earlier delivery of %s: %s", target.channel, key,
                        exc.response.get("error"))
            return None
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == METADATA_EVENT and (metadata.get("event_payload") or {}).get("key") == key:
                return str(message.get("ts"))
        return None
