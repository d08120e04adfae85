"""A playground turn's progress, kept on its inbox row: the page polls for it while the turn runs.

The worker may be another process (WHYBOT_WORKER_MODE=process), so the database is the only channel to
the page. The turn never waits for these writes: `status` and `text` note what to show and wake a writer
task that saves the latest state at most every `interval` seconds (a model streams a token at a time;
the database needs only what the page can show). Progress is best-effort: a failed write is logged and
the turn carries on. `finish` returns None: the reply card is stored as usual and replaces the progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from bot.models import Reply

log = logging.getLogger(__name__)

INTERVAL_S = 0.25  # at most four writes a second per turn
FINISH_WAIT_S = 1.0


class ProgressStore(Protocol):
    async def record_progress(self, key: str, progress: dict[str, Any]) -> bool: ...


class PlaygroundProgress:
    def __init__(self, store: ProgressStore, key: str, *, interval: float = INTERVAL_S) -> None:
        self.store = store
        self.key = key
        self.interval = interval
        self.writes = 0
        self._state: dict[str, Any] = {"status": None, "text": None}
        self._dirty = False
        self._closed = False
        self._last = -interval
        self._stop = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    @property
    def streams(self) -> bool:
        return True

    async def status(self, text: str) -> None:
        self._show(status=text)

    async def text(self, so_far: str) -> None:
        self._show(text=so_far)

    async def finish(self, reply: Reply, *, key: str) -> dict[str, Any] | None:
        """Stop writing; the pipeline sends the reply the usual way. A write under way may complete, but
        the reply waits for it only briefly (a slow database delays no answer)."""
        self._closed = True
        self._stop.set()
        if self._writer is not None and not self._writer.done():
            await asyncio.wait({self._writer}, timeout=FINISH_WAIT_S)
        return None

    def _show(self, **changes: str) -> None:
        if self._closed:
            return
        self._state.update(changes)
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_dirty(), name=f"progress {self.key}")

    async def _write_while_dirty(self) -> None:
        while self._dirty and not self._closed:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:  # changes meanwhile only update what the next write saves
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=wait)
                continue
            self._dirty = False
            self._last = time.monotonic()
            try:
                await self.store.record_progress(self.key, dict(self._state))
                self.writes += 1
            except Exception:  # best-effort: the answer matters, its progress does not
                log.warning("could not record the progress of turn %s", self.key, exc_info=True)
