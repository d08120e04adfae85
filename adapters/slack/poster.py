"""Sending replies: new messages (paced per channel), ephemeral ones, response_url answers and updates.

Each send returns where the reply went; the core stores it with the decision, so Why? can update that
same message. Replies too long for one message continue in the thread, linked from the first message.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.client import ChannelPacer, retry_handlers
from adapters.slack.render import MAX_BLOCKS, Rendered, continuation, render_reply
from bot.models import Reply
from storage import Storage, message_id, tenant_key

log = logging.getLogger(__name__)


class ResponseUrlError(RuntimeError):
    """Slack refused a response_url post (expired after 30 minutes, or used more than five times)."""


class Poster:
    def __init__(self, storage: Storage, pacer: ChannelPacer) -> None:
        self.storage = storage
        self.pacer = pacer

    async def with_permalinks(self, client: AsyncWebClient, team_id: str, reply: Reply) -> Reply:
        """Fill in links for cited messages that were stored without one (chat.getPermalink on demand)."""
        ids = [i for c in reply.citations if not c.permalink and (i := message_id(c.source_id)) is not None]
        if not ids:
            return reply
        records = {r.source_id: r for r in await self.storage.messages.get(ids)
                   if r.tenant_id == tenant_key("slack", team_id)}
        citations = []
        for c in reply.citations:
            record = records.get(c.source_id) if not c.permalink else None
            if record is not None:
                try:
                    link = (await client.chat_getPermalink(channel=record.channel_external_id,
                                                           message_ts=record.external_id)).get("permalink")
                    c = c.model_copy(update={"permalink": link})
                except SlackApiError as exc:
                    log.info("chat.getPermalink failed for %s: %s", c.source_id, exc.response.get("error"))
            citations.append(c)
        return reply.model_copy(update={"citations": citations})

    async def post(self, client: AsyncWebClient, *, team_id: str, channel: str, reply: Reply,
                   thread_ts: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """chat.postMessage, paced per channel; returns where it went (ts). Raises SlackApiError."""
        rendered = render_reply(reply)
        ts = await self._post_rendered(client, team_id, channel, rendered, thread_ts=thread_ts, metadata=metadata)
        ref: dict[str, Any] = {"channel": channel, "ts": ts, "team_id": team_id}
        if thread_ts:
            ref["thread_ts"] = thread_ts
        if rendered.overflow:
            more_url = await self._continue(client, team_id, channel, thread_ts or ts, rendered.overflow)
            if more_url:
                ref["more_url"] = more_url
                again = render_reply(reply, more_url=more_url)
                await client.chat_update(channel=channel, ts=ts, blocks=again.blocks, text=again.text)
        return ref

    async def replace(self, client: AsyncWebClient, *, team_id: str, channel: str, ts: str, reply: Reply,
                      thread_ts: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Redraw a message that showed the answer while it was written as the reply itself (chat.update with
        the reply's blocks and `metadata`); returns where it is, like `post`. Raises SlackApiError."""
        rendered = render_reply(reply)
        ref: dict[str, Any] = {"channel": channel, "ts": ts, "team_id": team_id}
        if thread_ts:
            ref["thread_ts"] = thread_ts
        if rendered.overflow:
            more_url = await self._continue(client, team_id, channel, thread_ts or ts, rendered.overflow)
            if more_url:
                ref["more_url"] = more_url
                rendered = render_reply(reply, more_url=more_url)
        async with self.pacer.slot(f"{team_id}:{channel}"):
            await client.chat_update(channel=channel, ts=ts, blocks=rendered.blocks, text=rendered.text,
                                     metadata=metadata)
        return ref

    async def _post_rendered(self, client: AsyncWebClient, team_id: str, channel: str, rendered: Rendered, *,
                             thread_ts: str | None = None, metadata: dict[str, Any] | None = None) -> str:
        async with self.pacer.slot(f"{team_id}:{channel}"):
            response = await client.chat_postMessage(channel=channel, blocks=rendered.blocks, text=rendered.text,
                                                     thread_ts=thread_ts, metadata=metadata,
                                                     unfurl_links=False, unfurl_media=False)
        return str(response["ts"])

    async def _continue(self, client: AsyncWebClient, team_id: str, channel: str, thread_ts: str,
                        overflow: list[str]) -> str | None:
        """Post what did not fit as thread replies; the permalink of the first one, for the 'rest' link."""
        first: str | None = None
        for part, start in enumerate(range(0, len(overflow), MAX_BLOCKS), start=2):
            ts = await self._post_rendered(client, team_id, channel,
                                           continuation(overflow[start:start + MAX_BLOCKS], part),
                                           thread_ts=thread_ts)
            first = first or ts
        if first is None:
            return None
        try:
            return (await client.chat_getPermalink(channel=channel, message_ts=first)).get("permalink")
        except SlackApiError as exc:
            log.info("no permalink for the continuation of a long reply: %s", exc.response.get("error"))
            return None

    async def post_ephemeral(self, client: AsyncWebClient, *, team_id: str, channel: str, user: str, reply: Reply,
                             thread_ts: str | None = None) -> dict[str, Any]:
        rendered = render_reply(reply)
        async with self.pacer.slot(f"{team_id}:{channel}"):
            await client.chat_postEphemeral(channel=channel, user=user, blocks=rendered.blocks, text=rendered.text,
                                            thread_ts=thread_ts)
        return {"channel": channel, "ephemeral": True, "team_id": team_id}

    async def respond(self, response_url: str, rendered: Rendered, *, replace_original: bool = False,
                      in_channel: bool = False) -> None:
        """Answer through a response_url (slash commands, clicks on ephemeral messages)."""
        webhook = AsyncWebhookClient(response_url, retry_handlers=retry_handlers())
        kwargs: dict[str, Any] = {"text": rendered.text, "blocks": rendered.blocks,
                                  "replace_original": replace_original}
        if not replace_original:
            kwargs["response_type"] = "in_channel" if in_channel else "ephemeral"
        response = await webhook.send(**kwargs)
        if response.status_code != 200:
            raise ResponseUrlError(f"response_url answered {response.status_code}: {response.body[:200]}")
        for part, start in enumerate(range(0, len(rendered.overflow), MAX_BLOCKS), start=2):
            more = continuation(rendered.overflow[start:start + MAX_BLOCKS], part)
            await webhook.send(text=more.text, blocks=more.blocks, replace_original=False,
                               response_type="in_channel" if in_channel else "ephemeral")

    async def respond_reply(self, response_url: str, reply: Reply, *, in_channel: bool = False,
                            replace_original: bool = False) -> dict[str, Any]:
        await self.respond(response_url, render_reply(reply), in_channel=in_channel,
                           replace_original=replace_original)
        return {"response_url": True, "ephemeral": not in_channel}

    async def delete_original(self, response_url: str) -> None:
        """Remove the "working on it" note once the answer is posted where everyone sees it."""
        webhook = AsyncWebhookClient(response_url, retry_handlers=retry_handlers())
        response = await webhook.send_dict({"delete_original": True})
        if response.status_code != 200:
            raise ResponseUrlError(f"response_url answered {response.status_code}: {response.body[:200]}")

    async def update(self, client: AsyncWebClient, *, channel: str, ts: str, rendered: Rendered) -> None:
        await client.chat_update(channel=channel, ts=ts, blocks=rendered.blocks, text=rendered.text)
