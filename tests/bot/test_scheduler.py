"""The digest scheduler against real databases (SQLite and PostgreSQL): exactly one message per slot,
also with two replicas, a crash between claim and post, a crash between post and record, and misfires."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.models import ChatEvent, Platform, Trigger
from bot.scheduler import DigestScheduler, SchedulerConfig, run_key
from bot.services import Services, build_services
from storage import DigestRunRecord, NewMessage, Storage
from tests.conftest import make_settings
from tests.peers.delivery import RecordingDelivery

# Daily 09:00 Europe/Berlin; 2026-12-01 is winter time, so the slot is 08:00 UTC.
SUBSCRIBED = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
SLOT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CONFIG = SchedulerConfig(lease=timedelta(minutes=5), retry_after=timedelta(minutes=2))


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def replica(db_url: str, clock: Clock, delivery: RecordingDelivery, name: str,
                  **settings: object) -> AsyncIterator[tuple[Services, DigestScheduler]]:
    """One server process: its own engine and pool on the shared database, posting to the shared platform."""
    storage = await Storage.open(db_url, auto_upgrade=True)
    services = await build_services(make_settings(db_url, **settings), storage=storage, clock=clock)
    services.surfaces[delivery.platform] = delivery
    try:
        yield services, DigestScheduler(services, worker_id=name, config=CONFIG)
    finally:
        await services.close()


async def seed(services: Services, channel: str = "C1") -> None:
    tenant = await services.ingest.tenant("slack", "T1", "Acme")
    await services.storage.workspace.upsert_channel(tenant, channel, name=f"eng-{channel.lower()}")
    t0 = SLOT - timedelta(hours=20)
    await services.ingest.messages(tenant, [
        NewMessage(channel, "1.0", "Incident: checkout is down, 502s everywhere. Rolling back now.", t0, "U1",
                   reaction_count=4),
        NewMessage(channel, "1.1", "Rolled back, error rate is normal again.", t0 + timedelta(minutes=9), "U2",
                   thread_external_id="1.0"),
        NewMessage(channel, "2.0", "We decided to go with Postgres for the ledger, final call.",
                   t0 + timedelta(hours=2), "U3"),
        NewMessage(channel, "3.0", "lol my cat walked over the keyboard", t0 + timedelta(hours=3), "U2"),
    ])


async def subscribe(services: Services, channel: str = "C1", schedule: str = "daily 09:00 tz=Europe/Berlin") -> str:
    reply = await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel=channel, user="U1",
                                                   trigger=Trigger.COMMAND, command="digest", args=schedule))
    assert reply.title == "Digest scheduled", reply.body
    return reply.body


async def runs(services: Services, channel: str = "C1") -> list[DigestRunRecord]:
    sub = await services.storage.subscriptions.for_channel("slack:T1", channel)
    assert sub is not None
    return await services.storage.digest_runs.for_subscription(sub.id)


async def test_a_due_slot_is_posted_once_with_its_ranked_digest(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "a") as (services, scheduler):
        await seed(services)
        assert "Next one: Tue 01 Dec 09:00 Europe/Berlin" in await subscribe(services)
        clock.now = SLOT - timedelta(seconds=1)
        assert await scheduler.tick() == []  # not due yet
        clock.now = SLOT + timedelta(seconds=20)
        outcomes = await scheduler.tick()
        assert [o.status for o in outcomes] == ["done"] and not outcomes[0].late
        assert len(delivery.posts) == 1
        posted = delivery.posts[0]
        assert posted.target.channel == "C1" and posted.target.tenant == "T1"
        assert posted.key == run_key(outcomes[0].subscription_id, SLOT)
        items = posted.reply.sections[0].items
        # Ranked by the shipped model: the incident and the decision above the chit-chat, explained in words.
        reasons = " ".join(i for item in items[:2] for i in item.why)
        assert {i.item_id for i in items[:2]} == {"thread:1.0", "thread:2.0"}
        assert "an incident" in reasons and "a decision" in reasons
        assert "(late)" not in posted.reply.title
        assert posted.reply.rationale.caveats[0] == "scheduled digest for Tue 01 Dec 09:00 Europe/Berlin"
        # The digest covers the day since the previous slot.
        assert posted.reply.rationale.inputs.messages_considered == 4
        # Another tick, the same minute or later that day, sends nothing more.
        clock.now = SLOT + timedelta(hours=3)
        assert await scheduler.tick() == []
        (run,) = await runs(services)
        assert run.status == "done" and run.posted_message_id == "m1" and run.decision_id == posted.reply.decision_id
        metrics = services.metrics.render().decode()
        assert 'whybot_digest_runs_total{late="false",platform="slack",status="done"} 1.0' in metrics
        # The next day's slot is its own run.
        clock.now = SLOT + timedelta(days=1, minutes=1)
        assert [o.status for o in await scheduler.tick()] == ["done"]
        assert len(delivery.posts) == 2


async def test_two_replicas_ticking_together_post_each_slot_once(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    channels = [f"C{i}" for i in range(6)]
    async with replica(db_url, clock, delivery, "a") as (one, first), \
            replica(db_url, clock, delivery, "b") as (two, second):
        for channel in channels:
            await seed(one, channel)
            await subscribe(one, channel)
        clock.now = SLOT + timedelta(seconds=5)
        for _ in range(3):
            results = await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
            assert all(o.status == "done" for batch in results for o in batch)
        assert sorted(p.target.channel for p in delivery.posts) == channels
        assert len(set(delivery.keys())) == len(delivery.keys()) == 6
        for channel in channels:
            (run,) = await runs(two, channel)
            assert run.status == "done" and run.attempts == 1 and run.claimed_by in ("a", "b")


async def test_concurrent_claims_hand_one_run_to_one_replica(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "a") as (one, _), replica(db_url, clock, delivery, "b") as (two, _):
        await seed(one)
        await subscribe(one)
        sub = await one.storage.subscriptions.for_channel("slack:T1", "C1")
        assert sub is not None
        assert await one.storage.digest_runs.add_slots(sub.id, [SLOT]) == 1
        assert await two.storage.digest_runs.add_slots(sub.id, [SLOT]) == 0  # the other replica planned it too
        now = SLOT + timedelta(seconds=1)
        claims = await asyncio.gather(*(store.digest_runs.claim(f"w{i}", now, CONFIG.lease)
                                        for i, store in enumerate([one.storage, two.storage] * 6)))
        won = [c for c in claims if c is not None]
        assert len(won) == 1 and won[0].status == "running" and won[0].attempts == 1


async def test_a_replica_killed_after_claiming_loses_nothing(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "dead") as (one, dead), \
            replica(db_url, clock, delivery, "alive") as (_, alive):
        await seed(one)
        await subscribe(one)
        clock.now = SLOT + timedelta(seconds=2)
        await dead.plan()
        claimed = await one.storage.digest_runs.claim("dead", clock.now, CONFIG.lease)
        assert claimed is not None  # ... and then the process is killed before it posts.
        clock.now += timedelta(minutes=4)
        assert await alive.tick() == []  # the lease still holds: nobody else touches it
        clock.now += timedelta(minutes=2)  # lease expired
        outcomes = await alive.tick()
        assert [o.status for o in outcomes] == ["done"]
        assert len(delivery.posts) == 1
        (run,) = await runs(one)
        assert run.claimed_by == "alive" and run.attempts == 2 and run.posted_message_id == "m1"


async def test_a_replica_killed_after_posting_is_not_repeated(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "dead") as (one, dead), \
            replica(db_url, clock, delivery, "alive") as (_, alive):
        await seed(one)
        await subscribe(one)
        clock.now = SLOT + timedelta(seconds=2)
        delivery.stall_after_post = True
        task = asyncio.create_task(dead.tick())
        await asyncio.wait_for(delivery.posted_event.wait(), 30)
        task.cancel()  # killed between the platform accepting the post and the id being recorded
        await asyncio.gather(task, return_exceptions=True)
        delivery.stall_after_post = False
        (run,) = await runs(one)
        assert run.status == "running" and run.posted_message_id is None
        clock.now += CONFIG.lease + timedelta(seconds=1)
        outcomes = await alive.tick()
        assert [o.status for o in outcomes] == ["done"] and "not sent again" in outcomes[0].note
        assert len(delivery.posts) == 1
        (run,) = await runs(one)
        assert run.status == "done" and run.posted_message_id == "m1"


async def test_a_failed_post_is_retried_and_sent_once(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery(fail_next=1)
    async with replica(db_url, clock, delivery, "a") as (services, scheduler):
        await seed(services)
        await subscribe(services)
        clock.now = SLOT + timedelta(seconds=2)
        outcomes = await scheduler.tick()
        assert [o.status for o in outcomes] == ["pending"] and "ConnectionError" in outcomes[0].note
        assert await scheduler.tick() == []  # backing off
        clock.now += CONFIG.retry_after
        assert [o.status for o in await scheduler.tick()] == ["done"]
        assert len(delivery.posts) == 1 and delivery.lookups == 2


async def test_a_missed_slot_is_sent_late_once_within_grace(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "a") as (services, scheduler):
        await seed(services)
        await subscribe(services)
        clock.now = SLOT + timedelta(hours=3, minutes=15)  # everything was down at 09:00
        outcomes = await scheduler.tick()
        assert [(o.status, o.late) for o in outcomes] == [("done", True)]
        reply = delivery.posts[0].reply
        assert reply.title.endswith("(late)")
        assert reply.rationale.caveats[0].startswith("sent late: scheduled for Tue 01 Dec 09:00 Europe/Berlin, "
                                                     "delivered 3 h 15 min later")
        assert "Sent late" in reply.body
        assert await scheduler.tick() == []
        (run,) = await runs(services)
        assert run.late and run.status == "done"


async def test_a_slot_missed_beyond_grace_is_skipped_and_noted(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "a") as (services, scheduler):
        await seed(services)
        await subscribe(services)
        clock.now = SLOT + timedelta(hours=7)
        outcomes = await scheduler.tick()
        assert [o.status for o in outcomes] == ["skipped"]
        assert "beyond the 6 h 00 min grace window" in outcomes[0].note
        assert delivery.posts == []
        (run,) = await runs(services)
        assert run.status == "skipped" and "grace" in run.note
        status = await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C1",
                                                        user="U1", trigger=Trigger.COMMAND, command="digest",
                                                        args="status"))
        assert "Next: Wed 02 Dec 09:00 Europe/Berlin. Last: Tue 01 Dec 09:00, skipped (missed by 7 h 00 min" \
            in status.body


async def test_after_a_long_outage_only_the_newest_slot_is_sent(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "a", WHYBOT_DIGEST_GRACE_HOURS="72") as (services, scheduler):
        await seed(services)
        await subscribe(services)
        clock.now = SLOT + timedelta(days=2, hours=1)
        outcomes = await scheduler.tick()
        assert [o.status for o in outcomes] == ["skipped", "skipped", "done"]
        assert all("superseded" in o.note for o in outcomes[:2])
        assert delivery.keys() == [run_key(outcomes[2].subscription_id, SLOT + timedelta(days=2))]


async def test_quiet_windows_post_a_note_or_nothing(db_url: str) -> None:
    for quiet_note, expected_posts in ((True, 1), (False, 0)):
        clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
        async with replica(db_url, clock, delivery, f"q{quiet_note}",
                           WHYBOT_DIGEST_QUIET_NOTE=str(quiet_note).lower()) as (services, scheduler):
            await subscribe(services, channel=f"Q{quiet_note}")
            clock.now = SLOT + timedelta(minutes=1)
            outcomes = await scheduler.tick()
            assert [o.status for o in outcomes] == ["done"]
            assert len(delivery.posts) == expected_posts
            if expected_posts:
                assert "quiet day" in delivery.posts[0].reply.title
            else:
                assert "quiet" in outcomes[0].note


async def test_turning_a_digest_off_skips_its_pending_slot(db_url: str) -> None:
    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    async with replica(db_url, clock, delivery, "a") as (services, scheduler):
        await seed(services)
        await subscribe(services)
        clock.now = SLOT + timedelta(seconds=1)
        await scheduler.plan()
        off = await services.router.handle(ChatEvent(platform=Platform.SLACK, tenant="T1", channel="C1", user="U1",
                                                     trigger=Trigger.COMMAND, command="digest", args="off"))
        assert off.title == "Digest off"
        outcomes = await scheduler.run_due()
        assert [o.status for o in outcomes] == ["skipped"] and delivery.posts == []


async def test_the_app_queues_due_digests_for_its_worker_and_stops(sqlite_url: str) -> None:
    """Inside the server the scheduler only plans and queues; a worker claims the turn and delivers it."""
    from aiohttp.test_utils import TestServer

    from bot.app import STOP, create_app

    clock, delivery = Clock(SUBSCRIBED), RecordingDelivery()
    storage = await Storage.open(sqlite_url, auto_upgrade=True)
    services = await build_services(make_settings(sqlite_url), storage=storage, clock=clock)
    services.surfaces[delivery.platform] = delivery
    await seed(services)
    await subscribe(services)
    clock.now = SLOT + timedelta(seconds=3)
    app = create_app(services, factories={})
    async with TestServer(app):
        await asyncio.wait_for(delivery.posted_event.wait(), 30)
        [turn] = [k for k in await _inbox_keys(services) if k.startswith("digest:")]
        assert turn.endswith(":0"), "queued once, for its first attempt"
    assert app[STOP].is_set() and len(delivery.posts) == 1



async def _inbox_keys(services: Services) -> list[str]:
    stats = await services.storage.inbox.stats(services.clock())
    assert stats.pending == 0
    keys = []
    for item_id in range(1, 50):
        item = await services.storage.inbox.get(item_id)
        if item is not None:
            keys.append(item.key)
    return keys
