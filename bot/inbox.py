"""The adapters' one way into the core: commit a turn before acknowledging the platform.

`put` raises when the write is not durable (database down, disk full); the adapter then answers 5xx so
the platform retries, instead of acknowledging work that could be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from bot.metrics import Metrics
from bot.turns import Priority, Turn, dump
from storage import Storage


class InboxUnavailable(RuntimeError):
    """The turn could not be committed: the adapter must not acknowledge (answer 5xx, let the platform retry)."""


class Inbox:
    def __init__(self, storage: Storage, clock: Callable[[], datetime], metrics: Metrics, *,
                 write_timeout_s: float = 2.0) -> None:
        self.storage = storage
        self.write_timeout_s = write_timeout_s  # Slack waits 3 s: past this, a 5xx (and its retry) beats silence
        self.clock = clock
        self.metrics = metrics
        self.wake = asyncio.Event()  # in-process workers sleep on this between polls
        self._late: set[asyncio.Future[bool]] = set()

    async def put(self, key: str, turn: Turn, priority: Priority) -> bool:
        """True if queued; False if `key` was queued before (a retry or duplicate delivery)."""
        write = asyncio.ensure_future(
            self.storage.inbox.put(key, turn.type, dump(turn), priority=int(priority), now=self.clock()))
        done, _ = await asyncio.wait({write}, timeout=self.write_timeout_s)
        if not done:
            # A blocked driver thread cannot be interrupted: let the write finish (or fail) on its own. If
            # it lands, the platform's retry finds the key and nothing is queued twice.
            self._late.add(write)
            write.add_done_callback(self._forget_late)
            self.metrics.errors.labels("inbox").inc()
            raise InboxUnavailable(f"could not queue {key} within {self.write_timeout_s}s")
        try:
            queued = write.result()
        except Exception as exc:
            self.metrics.errors.labels("inbox").inc()
            raise InboxUnavailable(f"could not queue {key}: {exc}") from exc
        if queued:
            self.wake.set()
        else:
            platform = getattr(turn, "platform", None)
            self.metrics.duplicates.labels(platform.value if platform is not None else "scheduler").inc()
        return queued

    def _forget_late(self, write: asyncio.Future[bool]) -> None:
        self._late.discard(write)
        if not write.cancelled() and write.exception() is None and write.result():
            self.wake.set()
