"""The digest scheduler: turns subscriptions into delivered digests, each slot exactly once.

Every tick, each replica (1) plans: inserts a run row for every slot that has come due since the
subscription's schedule took effect (the unique (subscription, slot) key makes that idempotent
across replicas), then (2) claims due runs one at a time under a lease and executes them: build the
digest through the router like any other request (trigger=schedule), post it through the
platform's Delivery, record the message id, mark the run done.

Exactly once, also across crashes:
- a replica killed mid-run keeps its lease only until `lease_until`; another replica then claims
  the run again (at most one can, see storage.digest_runs);
- before posting, the worker renews its lease (and gives up if it lost it) and asks the platform
  whether a message was already posted under the run's key (`find_posted`); the message id is
  recorded the moment `post` returns, so a retry never sends a second message.
A slot missed while nothing was running is sent once, late and marked so, within the grace window
(`WHYBOT_DIGEST_GRACE_HOURS`); beyond it the run is skipped with a note, as is an older slot
superseded by a newer one that is also due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.adapter import DeliveryTarget
from bot.models import ChatEvent, ConversationKind, DigestRequest, Platform, Reply, Trigger
from bot.schedule import ScheduleError, previous_run, slots_between
from bot.services import Services
from storage import DigestRunRecord, SubscriptionRecord
from storage.digest_runs import DONE, FAILED, SKIPPED

log = logging.getLogger(__name__)

SPAN_BY_DEFAULT = timedelta(hours=24)


def run_key(subscription_id: int, scheduled_for: datetime) -> str:
    """The idempotency key a run posts under; stable across retries and replicas."""
    return f"digest:{subscription_id}:{scheduled_for:%Y%m%dT%H%M%SZ}"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: int
    subscription_id: int
    scheduled_for: datetime
    status: str
    note: str
    message_id: str | None = None
    late: bool = False
    platform: str = ""


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    lease: timedelta = timedelta(minutes=5)
    poll: timedelta = timedelta(seconds=30)
    lookback: timedelta = timedelta(days=7)
    on_time: timedelta = timedelta(minutes=10)  # later than this after its slot, a run is marked late
    max_attempts: int = 3
    retry_after: timedelta = timedelta(minutes=2)


class DigestScheduler:
    def __init__(self, services: Services, *, worker_id: str | None = None,
                 config: SchedulerConfig | None = None) -> None:
        self.services = services
        self.worker_id = worker_id or default_worker_id()
        self.config = config or SchedulerConfig()
        self.grace = timedelta(hours=services.settings.digest_grace_hours)

    # the loop ----------------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Plan and deliver every `poll` (`whybot digest run`), until `stop` is set or the task is cancelled."""
        await self._every_poll(self.tick, stop or asyncio.Event())

    async def _every_poll(self, step: Callable[[], Awaitable[object]], stop: asyncio.Event) -> None:
        """Run `step` every `poll`; a failing tick is logged, not fatal."""
        log.info("digest scheduler %s started (poll %ss, lease %ss, grace %s)", self.worker_id,
                 self.config.poll.total_seconds(), self.config.lease.total_seconds(), self.grace)
        while not stop.is_set():
            try:
                await step()
            except Exception:
                log.exception("digest scheduler tick failed; retrying in %ss", self.config.poll.total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.poll.total_seconds())

    async def tick(self) -> list[RunOutcome]:
        """Plan and run what is due in this process (`whybot digest run`, for cron)."""
        await self.plan()
        return await self.run_due()

    async def enqueue_due(self) -> int:
        """Plan, then put each due run in the inbox for a worker (`whybot serve`): one item per attempt, so a
        run given back for a retry is queued again, and a replica's duplicate put is a no-op."""
        await self.plan()
        now = self.services.clock()
        queued = 0
        for run in await self.services.storage.digest_runs.due(now):
            queued += await self.services.storage.inbox.put(
                f"digest:{run.id}:{run.attempts}", "digest", {"type": "digest", "run_id": run.id},
                priority=5, now=now)
        return queued

    async def run_forever_queueing(self, stop: asyncio.Event) -> None:
        """The scheduler inside `whybot serve`: only plans and queues; workers deliver."""
        await self._every_poll(self.enqueue_due, stop)

    async def run_one(self, run_id: int) -> str:
        """Execute one queued run if it is still claimable; exactly-once is the digest run's own lease."""
        store = self.services.storage.digest_runs
        run = await store.claim_id(run_id, self.worker_id, self.services.clock(), self.config.lease)
        if run is None:
            current = await store.get(run_id)
            return f"not claimable ({current.status if current else 'gone'})"
        outcome = await self.execute(run)
        self.services.metrics.digest_runs.labels(platform=outcome.platform, status=outcome.status,
                                                 late=str(outcome.late).lower()).inc()
        log.info("digest run %s (subscription %s, slot %s): %s %s", run.id, run.subscription_id,
                 run.scheduled_for.isoformat(), outcome.status, outcome.note)
        return f"{outcome.status}: {outcome.note}"

    async def plan(self) -> int:
        """Insert a pending run for every slot that has come due; returns how many were new."""
        now = self.services.clock()
        store = self.services.storage.digest_runs
        added = 0
        for sub in await self.services.storage.subscriptions.active():
            latest = await store.latest_slot(sub.id)
            start = max(sub.since, now - self.config.lookback)
            if latest is not None:
                start = max(start, latest)
            try:
                slots = slots_between(sub.cron, sub.tz, start, now, limit=64)
            except (ScheduleError, ValueError, KeyError):
                log.exception("subscription %s has an unusable schedule %r in %s", sub.id, sub.cron, sub.tz)
                continue
            added += await store.add_slots(sub.id, slots)
        return added

    async def run_due(self) -> list[RunOutcome]:
        """Claim and execute due runs until none is left for this replica."""
        outcomes: list[RunOutcome] = []
        store = self.services.storage.digest_runs
        while (run := await store.claim(self.worker_id, self.services.clock(), self.config.lease)) is not None:
            outcome = await self.execute(run)
            self.services.metrics.digest_runs.labels(platform=outcome.platform, status=outcome.status,
                                                     late=str(outcome.late).lower()).inc()
            log.info("digest run %s (subscription %s, slot %s): %s %s", run.id, run.subscription_id,
                     run.scheduled_for.isoformat(), outcome.status, outcome.note)
            outcomes.append(outcome)
        return outcomes

    # one run -----------------------------------------------------------------------------------

    async def execute(self, run: DigestRunRecord) -> RunOutcome:
        """Carry one claimed run to an end state (or back to pending after a failure)."""
        sub = await self.services.storage.subscriptions.get(run.subscription_id)
        outcome = await self._execute(run, sub)
        return replace(outcome, platform=sub.platform if sub else "")

    async def _execute(self, run: DigestRunRecord, sub: SubscriptionRecord | None) -> RunOutcome:
        now = self.services.clock()
        if sub is None or not sub.active:
            return await self._finish(run, SKIPPED, "the subscription was turned off before this run")
        if run.posted_message_id:
            return await self._finish(run, DONE, "already posted before a restart; finished without reposting",
                                      run.posted_message_id)
        lateness = now - run.scheduled_for
        if lateness > self.grace:
            return await self._finish(run, SKIPPED, f"missed by {_span(lateness)}, beyond the {_span(self.grace)} "
                                                    "grace window: skipped rather than sent stale")
        newer = await self.services.storage.digest_runs.newer_due(sub.id, run.scheduled_for, now)
        if newer is not None:
            return await self._finish(run, SKIPPED, f"superseded by the run for {newer:%Y-%m-%d %H:%M} UTC")
        late = lateness > self.config.on_time
        if late:
            await self.services.storage.digest_runs.mark_late(run.id, self.worker_id,
                                                              f"sent {_span(lateness)} after its slot")
        try:
            return await self._deliver(run, sub, late)
        except Exception as exc:
            log.exception("digest run %s failed (attempt %s)", run.id, run.attempts)
            note = f"attempt {run.attempts} failed: {type(exc).__name__}: {exc}"
            if run.attempts >= self.config.max_attempts:
                return await self._finish(run, FAILED, note)
            await self.services.storage.digest_runs.retry_later(
                run.id, self.worker_id, note, self.services.clock() + self.config.retry_after * run.attempts)
            return RunOutcome(run.id, run.subscription_id, run.scheduled_for, "pending", note, late=late)

    async def _deliver(self, run: DigestRunRecord, sub: SubscriptionRecord, late: bool) -> RunOutcome:
        store = self.services.storage.digest_runs
        try:
            platform = Platform(sub.platform)
        except ValueError:
            return await self._finish(run, FAILED, f"unknown platform {sub.platform!r}")
        delivery = self.services.surfaces.get(platform)
        if delivery is None:
            return await self._finish(run, FAILED, f"no {platform.value} delivery is configured on this server")
        reference = await self.services.storage.subscriptions.reference(sub.tenant_id, sub.channel_external_id)
        target = DeliveryTarget(platform=platform, tenant=sub.tenant_id.partition(":")[2],
                                channel=sub.channel_external_id, reference=reference or sub.reference)
        key = run_key(sub.id, run.scheduled_for)
        existing = await delivery.find_posted(target, key)
        if existing:
            await store.record_posted(run.id, self.worker_id, existing, None)
            return await self._finish(run, DONE, "found already posted on the platform; not sent again", existing,
                                      late)
        reply = await self.services.router.handle(self._event(run, sub, target, key, late))
        if reply.rationale.inputs.messages_considered == 0 and not self.services.settings.digest_quiet_note:
            return await self._finish(run, DONE, "quiet window: nothing posted (quiet notes are off)", late=late)
        if not await store.renew(run.id, self.worker_id, self.services.clock() + self.config.lease):
            return RunOutcome(run.id, run.subscription_id, run.scheduled_for, "lost",
                              "lease taken over by another replica before posting; not posted here", late=late)
        message_id = await delivery.post(target, reply, key=key)
        await store.record_posted(run.id, self.worker_id, message_id, reply.decision_id)
        await self.services.storage.decisions.set_posted_ref(reply.decision_id, {
            "platform": platform.value, "channel": target.channel, "ts": message_id, "activity_id": message_id,
            "key": key, **({"team_id": target.tenant} if platform == Platform.SLACK else {})})
        return await self._finish(run, DONE, _posted_note(reply, late), message_id, late)

    def _event(self, run: DigestRunRecord, sub: SubscriptionRecord, target: DeliveryTarget, key: str,
               late: bool) -> ChatEvent:
        """The digest request the subscription stands for: since the previous slot, up to now."""
        now = self.services.clock()
        try:
            since = previous_run(sub.cron, sub.tz, run.scheduled_for)
        except (ScheduleError, ValueError, KeyError):
            since = run.scheduled_for - SPAN_BY_DEFAULT
        hours = max(1, math.ceil((now - since).total_seconds() / 3600))
        request = DigestRequest(hours=min(hours, 999), top_n=sub.top_n, slot=run.scheduled_for, late=late)
        return ChatEvent(platform=target.platform, tenant=target.tenant, channel=sub.channel_external_id,
                         conversation_kind=ConversationKind.CHANNEL, user=sub.created_by or "whybot-scheduler",
                         trigger=Trigger.SCHEDULE, command="digest", digest=request, event_id=key,
                         reference=dict(target.reference))

    async def _finish(self, run: DigestRunRecord, status: str, note: str, message_id: str | None = None,
                      late: bool = False) -> RunOutcome:
        finished = await self.services.storage.digest_runs.finish(run.id, self.worker_id, status, note,
                                                                  self.services.clock())
        if not finished:
            note = f"{note} (the lease had passed to another replica before this was recorded)"
        return RunOutcome(run.id, run.subscription_id, run.scheduled_for, status, note, message_id, late)


def _posted_note(reply: Reply, late: bool) -> str:
    return ("posted late" if late else "posted") + f" (decision {reply.decision_id})"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days"
