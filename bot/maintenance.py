"""Housekeeping that keeps the database from growing without bound: old delivery ids (Slack retries
come within minutes, so a week is plenty), decisions past their retention (their Why? then says
"not available", as for an unknown id) and counted requests older than any rate-limit window."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot import ratelimit
from bot.services import Services

log = logging.getLogger(__name__)

EVENT_ID_RETENTION = timedelta(days=7)


async def purge_once(services: Services) -> tuple[int, int]:
    now = services.clock()
    events = await services.storage.inbox.purge_finished_before(now - EVENT_ID_RETENTION)
    decisions = await services.storage.decisions.purge_older_than(
        now - timedelta(days=services.settings.decision_retention_days))
    await services.storage.rate_limits.purge_before(now - ratelimit.RETENTION)
    if events or decisions:
        log.info("purged %d old delivery ids and %d expired decisions", events, decisions)
    return events, decisions


async def run_forever(services: Services, interval_s: float = 3600.0) -> None:
    while True:
        try:
            await purge_once(services)
        except Exception:  # a failed purge is retried next hour; it must not stop the server
            log.exception("housekeeping failed")
        await asyncio.sleep(interval_s)
