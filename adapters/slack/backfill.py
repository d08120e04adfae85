"""When the bot joins a channel: read its recent history so questions about it work at once.

conversations.history and conversations.replies are paged by slack_sdk (cursor), and rate limits are
waited out by the client's retry handler (Retry-After). Caps keep a join in a huge channel bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.normalize import SPOKEN_SUBTYPES, message_from_api
from bot.ingest import Ingestor
from storage import NewMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillLimits:
    days: int = 30
    max_messages: int = 2000
    max_threads: int = 200
    page_size: int = 200


@dataclass(frozen=True)
class BackfillResult:
    messages: int
    threads: int
    stored: int
    complete: bool
    authors: tuple[str, ...] = ()  # people who wrote what was read, to be named (sync.WorkspaceSync.users)


async def backfill_channel(client: AsyncWebClient, ingest: Ingestor, tenant_id: str, channel: str, *,
                           now: datetime, bot_user_id: str | None = None,
                           limits: BackfillLimits | None = None) -> BackfillResult:
    """Store the channel's recent top-level messages and their thread replies; returns what was read."""
    limits = limits or BackfillLimits()
    oldest = f"{(now - timedelta(days=limits.days)).timestamp():.6f}"
    items: list[NewMessage] = []
    roots: list[str] = []
    complete = True
    try:
        async for page in await client.conversations_history(channel=channel, oldest=oldest,
                                                              limit=limits.page_size):
            for m in page.get("messages") or []:
                if m.get("subtype") not in SPOKEN_SUBTYPES or not m.get("ts"):
                    continue
                items.append(message_from_api(m, channel, bot_user_id=bot_user_id))
                if int(m.get("reply_count") or 0) > 0:
                    roots.append(str(m["ts"]))
            if len(items) >= limits.max_messages:
                complete = not page.get("has_more")
                break
    except SlackApiError as exc:
        log.warning("backfill of %s stopped: conversations.history failed (%s)", channel, exc.response.get("error"))
        complete = False
    threads = 0
    for root in roots[: limits.max_threads]:
        try:
            async for page in await client.conversations_replies(channel=channel, ts=root, limit=limits.page_size):
                for m in page.get("messages") or []:
                    if m.get("ts") == root or m.get("subtype") not in SPOKEN_SUBTYPES:
                        continue
                    items.append(message_from_api(m, channel, bot_user_id=bot_user_id))
            threads += 1
        except SlackApiError as exc:
            log.warning("backfill of thread %s in %s failed: %s", root, channel, exc.response.get("error"))
            complete = False
    if len(roots) > limits.max_threads:
        complete = False
    stored = await ingest.messages(tenant_id, items)
    log.info("backfilled %s: %d messages read, %d threads, %d new", channel, len(items), threads, stored)
    authors = tuple(dict.fromkeys(m.user_external_id for m in items if m.user_external_id and not m.is_bot))
    return BackfillResult(messages=len(items), threads=threads, stored=stored, complete=complete, authors=authors)
