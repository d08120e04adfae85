"""The adapters' one way into the core: commit a turn before acknowledging the platform.

`put` raises when the write is not durable (database down, disk full, or slower than the platform will
wait); the adapter then answers 5xx so the platform retries, instead of acknowledging work that could be
lost. Concurrent puts are committed together (group commit): under a burst, one transaction carries many
turns instead of each ack queueing for the database's write lock on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.metrics import Metrics
from bot.turns import Priority, Turn, dump
from storage import NewTurn, Storage

MAX_BATCH = 200


class InboxUnavailable(RuntimeError):
    """The turn could not be committed: the adapter must not acknowledge (answer 5xx, let the platform retry)."""


@dataclass(slots=True)
class _Waiting:
    turn: NewTurn
    done: asyncio.Future[bool]


class Inbox:
    def __init__(self, storage: Storage, clock: Callable[[], datetime], metrics: Metrics, *,
                 write_timeout_s: float = 2.0) -> None:
        self.storage = storage
        self.clock = clock
        self.metrics = metrics
        self.write_timeout_s = write_timeout_s  # Slack waits 3 s: past this, a 5xx (and its retry) beats silence
        self.wake = asyncio.Event()  # in-process workers sleep on this between polls
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def put(self, key: str, turn: Turn, priority: Priority) -> bool:
        """True if queued; False if `key` was queued before (a retry or duplicate delivery)."""
        waiting = _Waiting(NewTurn(key, turn.type, dump(turn), int(priority)),
                           asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="inbox-writer")
        done, _ = await asyncio.wait({waiting.done}, timeout=self.write_timeout_s)
        if not done:
            # A blocked driver thread cannot be interrupted: the write finishes (or fails) on its own. If it
            # lands, the platform's retry finds the key and nothing is queued twice.
            self.metrics.errors.labels("inbox").inc()
            raise InboxUnavailable(f"could not queue {key} within {self.write_timeout_s}s")
        try:
            queued = waiting.done.result()
        except Exception as exc:
            self.metrics.errors.labels("inbox").inc()
            raise InboxUnavailable(f"could not queue {key}: {exc}") from exc
        if not queued:
            platform = getattr(turn, "platform", None)
            self.metrics.duplicates.labels(platform.value if platform is not None else "scheduler").inc()
        return queued

    async def _write(self) -> None:
        """Commit whatever is waiting, a batch at a time, until nothing is."""
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                results = await self.storage.inbox.put_many([w.turn for w in batch], now=self.clock())
            except Exception as exc:
                for w in batch:
                    if not w.done.done():
                        w.done.set_exception(exc)
                continue
            for w, queued in zip(batch, results, strict=True):
                if not w.done.done():
                    w.done.set_result(queued)
            if any(results):
                self.wake.set()
