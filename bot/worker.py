"""Workers: claim turns from the inbox and run them through the pipeline, off the loop that acks.

`whybot serve` starts worker processes (bot/supervisor.py) so CPU-heavy retrieval never delays an
acknowledgement; `whybot worker` is one such process, for scale-out on other hosts. Each process runs
`concurrency` turns at a time on its own event loop. A claimed turn holds a lease that is renewed
while it runs; a worker that dies stops renewing and the turn is claimed again after the lease.
On SIGTERM the worker stops claiming, lets running turns finish within the grace period, and hands
back the rest so another worker takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, stop_after_delay, wait_exponential

from bot.adapter import PlatformUnsure
from bot.pipeline import NoSurface, NotReady, TurnPipeline
from bot.services import Services
from bot.turns import load
from storage import InboxRecord

log = logging.getLogger(__name__)

RECORD_PATIENCE = 0.8  # share of the lease spent retrying the record of a sent reply


def _log_record_retry(state: RetryCallState) -> None:
    log.warning("could not record a sent reply (%s); retrying so it is not sent twice",
                state.outcome.exception() if state.outcome else "?")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=60)
    idle_poll_s: float = 0.25
    grace_s: float = 10.0
    max_attempts: int = 5
    not_ready_attempts: int = 3
    retry_base: timedelta = timedelta(seconds=1)
    retry_cap: timedelta = timedelta(minutes=5)


@dataclass
class _Claimed:
    """The pipeline's handle on the inbox row it is running (see bot.pipeline.TurnRecord)."""

    worker: Worker
    item: InboxRecord
    decision_id: str | None = None
    posted_ref: dict[str, Any] | None = None
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = self.item.key
        self.decision_id = self.item.decision_id
        self.posted_ref = self.item.posted_ref

    async def record_decision(self, decision_id: str) -> None:
        self.decision_id = decision_id
        await self.worker.services.storage.inbox.record_decision(self.item.id, self.worker.id, decision_id)

    async def record_posted(self, posted_ref: dict[str, Any]) -> None:
        """Keep trying while the lease lasts: the platform already has the reply, and where it cannot be
        asked (Teams has no history lookup) a lost record would mean a second copy on the retry."""
        self.posted_ref = posted_ref
        inbox = self.worker.services.storage.inbox
        patience = self.worker.config.lease.total_seconds() * RECORD_PATIENCE
        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5.0),
                                           stop=stop_after_delay(patience), reraise=True,
                                           before_sleep=_log_record_retry):
            with attempt:
                await inbox.record_posted(self.item.id, posted_ref)


class Worker:
    def __init__(self, services: Services, pipeline: TurnPipeline, *, config: WorkerConfig | None = None,
                 wake: asyncio.Event | None = None, name: str | None = None) -> None:
        self.services = services
        self.pipeline = pipeline
        self.config = config or WorkerConfig()
        self.wake = wake or asyncio.Event()
        self.id = name or worker_id()
        self.running: dict[int, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then finish or hand back what is running."""
        log.info("worker %s: %d turn(s) at a time, lease %ss", self.id, self.config.concurrency,
                 self.config.lease.total_seconds())
        loops = [asyncio.create_task(self._loop(stop), name=f"worker-slot-{i}")
                 for i in range(self.config.concurrency)]
        await stop.wait()
        self.wake.set()
        _, late = await asyncio.wait(loops, timeout=self.config.grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        log.info("worker %s stopped (%d turn(s) handed back)", self.id, len(late))

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                item = await self.services.storage.inbox.claim(self.id, self.services.clock(), self.config.lease)
            except Exception as exc:  # the database is down: keep trying, the turns are safe in it
                log.warning("worker %s could not claim a turn (%s); retrying", self.id, exc)
                await self._idle(stop, 1.0)
                continue
            if item is None:
                await self._idle(stop, self.config.idle_poll_s)
                continue
            await self._process(item)

    async def _idle(self, stop: asyncio.Event, seconds: float) -> None:
        self.wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _process(self, item: InboxRecord) -> None:
        inbox = self.services.storage.inbox
        renewing = asyncio.create_task(self._renew(item.id))
        try:
            note = await self._run(item)
        except asyncio.CancelledError:  # shutdown past the grace period: give it to another worker now
            with contextlib.suppress(Exception):
                await asyncio.shield(inbox.hand_back(item.id, self.id, self.services.clock()))
            raise
        except PlatformUnsure as exc:
            await self._retry(item, f"the platform could not say ({exc}); retrying")
        except NotReady as exc:
            if item.attempts >= self.config.not_ready_attempts:  # it was never stored: nothing to change
                await self._quietly(inbox.finish(item.id, self.id, self.services.clock(), note=f"skipped: {exc}"))
            else:
                await self._retry(item, str(exc))
        except Exception as exc:
            log.exception("turn %s (%s) failed, attempt %d", item.key, item.kind, item.attempts)
            self.services.metrics.errors.labels("worker").inc()
            if item.attempts >= self.config.max_attempts:
                await self._quietly(inbox.finish(item.id, self.id, self.services.clock(), failed=True,
                                                 note=f"gave up after {item.attempts} attempts: {exc!r}"))
            else:
                await self._retry(item, f"attempt {item.attempts} failed: {exc!r}")
        else:
            await self._quietly(inbox.finish(item.id, self.id, self.services.clock(), note=note))
        finally:
            renewing.cancel()

    async def _run(self, item: InboxRecord) -> str:
        try:
            turn = load(item.payload)
        except ValidationError as exc:  # written by an older or newer version: never retry it
            log.error("turn %s has a payload this version cannot read: %s", item.key, exc)
            return "skipped: unreadable payload"
        try:
            return await self.pipeline.run(turn, _Claimed(self, item))
        except NoSurface as exc:
            log.error("turn %s: %s", item.key, exc)
            return f"skipped: {exc}"

    async def _retry(self, item: InboxRecord, note: str) -> None:
        delay = min(self.config.retry_cap, self.config.retry_base * (2 ** max(0, item.attempts - 1)))
        log.warning("turn %s: %s (again in %ss)", item.key, note, delay.total_seconds())
        await self._quietly(self.services.storage.inbox.retry_later(item.id, self.id,
                                                                    self.services.clock() + delay, note))

    async def _renew(self, item_id: int) -> None:
        interval = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.services.storage.inbox.renew(item_id, self.id,
                                                               self.services.clock() + self.config.lease):
                    log.warning("worker %s lost the lease on turn %s", self.id, item_id)
                    return
            except Exception as exc:
                log.warning("could not renew the lease on turn %s: %s", item_id, exc)

    @staticmethod
    async def _quietly(step: Any) -> None:
        """Record an outcome; if the database is down, the lease runs out and the turn is retried."""
        try:
            await step
        except Exception as exc:
            log.warning("could not record a turn's outcome (%s); it will be retried after its lease", exc)
