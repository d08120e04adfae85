"""Acknowledged questions survive real process deaths, SIGTERM and a database outage, and are answered
exactly once (issue 11). Each test runs `whybot serve` / `whybot worker` as real processes."""

from __future__ import annotations

import asyncio
import random
import signal
import time

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from tests.peers.tcp_proxy import TcpProxy
from tests.processes.harness import FACT, QUESTION, Cluster


async def model_called(cluster: Cluster, within: float = 20.0) -> None:
    """The worker has claimed the question and is waiting on the model: the answer is in flight."""
    deadline = time.monotonic() + within
    while not cluster.openai.received:
        assert time.monotonic() < deadline, f"the worker never started answering\n{cluster.logs()}"
        await asyncio.sleep(0.05)


async def test_kill_9_one_second_after_the_ack_is_answered_once_after_restart(cluster: Cluster) -> None:
    cluster.openai.latency_s = 3.0  # the model is still thinking when the server dies
    proc, base = await cluster.serve()
    await cluster.say(base, FACT)
    ts = cluster.slack.next_ts()
    assert await cluster.mention(base, QUESTION, event_id="EvKill9", ts=ts) == 200
    await asyncio.sleep(1.0)
    await model_called(cluster)
    proc.kill_all()  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)
    assert cluster.answers_in(ts) == [], "killed before it could answer"
    _, base = await cluster.serve()
    await cluster.answered(ts)
    # Slack's own retry of the delivery, after the restart, is acknowledged and not answered again.
    assert await cluster.mention(base, QUESTION, event_id="EvKill9", ts=ts, retry=1) == 200
    await asyncio.sleep(4.0)
    assert len(cluster.answers_in(ts)) == 1, cluster.logs()
    assert "Monday" in str(cluster.answers_in(ts)[0]["blocks"])


async def test_sigterm_mid_answer_finishes_it_then_exits(cluster: Cluster) -> None:
    cluster.openai.latency_s = 2.0
    proc, base = await cluster.serve()
    await cluster.say(base, FACT)
    ts = cluster.slack.next_ts()
    assert await cluster.mention(base, QUESTION, event_id="EvTerm", ts=ts) == 200
    await model_called(cluster)
    started = time.monotonic()
    proc.signal(signal.SIGTERM)  # type: ignore[attr-defined]
    assert await proc.wait(20) == 0, cluster.logs()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 15
    assert len(cluster.answers_in(ts)) == 1, "the answer in flight was finished before exiting"


async def test_sigterm_past_the_grace_hands_the_turn_back_for_the_next_start(cluster: Cluster) -> None:
    cluster.openai.latency_s = 6.0
    proc, base = await cluster.serve(WHYBOT_SHUTDOWN_GRACE="1")
    await cluster.say(base, FACT)
    ts = cluster.slack.next_ts()
    assert await cluster.mention(base, QUESTION, event_id="EvGrace", ts=ts) == 200
    await model_called(cluster)
    proc.signal(signal.SIGTERM)  # type: ignore[attr-defined]
    assert await proc.wait(20) == 0, cluster.logs()  # type: ignore[attr-defined]
    assert cluster.answers_in(ts) == []
    cluster.openai.latency_s = 0.5
    await cluster.serve()
    await cluster.answered(ts)
    await asyncio.sleep(2.0)
    assert len(cluster.answers_in(ts)) == 1, cluster.logs()


@pytest.mark.postgres
async def test_two_web_replicas_and_two_workers_killed_at_random_answer_each_question_once(
        pg_cluster: Cluster) -> None:
    cluster = pg_cluster
    cluster.openai.latency_s = 0.4
    web = [await cluster.serve(WHYBOT_WORKERS="0") for _ in range(2)]
    workers = [await cluster.worker(), await cluster.worker()]
    await cluster.say(web[0][1], FACT)
    rng = random.Random(11)
    questions: list[str] = []
    for i in range(16):
        ts = cluster.slack.next_ts()
        questions.append(ts)
        event_id = f"EvRandom{i}"
        assert await cluster.mention(web[i % 2][1], QUESTION, event_id=event_id, ts=ts) == 200
        if rng.random() < 0.3:  # Slack redelivers some events to the other replica
            assert await cluster.mention(web[(i + 1) % 2][1], QUESTION, event_id=event_id, ts=ts, retry=1) == 200
        if i % 4 == 3:
            victim = rng.randrange(len(workers))
            workers[victim].kill_all()
            workers[victim] = await cluster.worker()
        await asyncio.sleep(0.3)
    for ts in questions:
        await cluster.answered(ts, within=60)
    await asyncio.sleep(3.0)
    counts = {ts: len(cluster.answers_in(ts)) for ts in questions}
    assert set(counts.values()) == {1}, (counts, cluster.logs())


@pytest.mark.postgres
async def test_a_database_outage_refuses_with_5xx_and_loses_nothing(pg_cluster: Cluster) -> None:
    """For 10 s the database is unreachable: every event is refused with a 5xx in time (Slack retries it) or
    was already queued; after recovery each question is answered exactly once."""
    cluster = pg_cluster
    url = make_url(cluster.database_url)
    proxy = await TcpProxy(url.port or 5432).start()
    cluster.database_url = url.set(port=proxy.port).render_as_string(hide_password=False)
    cluster.openai.latency_s = 1.0
    _, base = await cluster.serve(WHYBOT_INBOX_WRITE_TIMEOUT="2")
    await cluster.say(base, FACT)
    queued = cluster.slack.next_ts()
    assert await cluster.mention(base, QUESTION, event_id="EvBefore", ts=queued) == 200
    await proxy.cut()
    refused: dict[str, str] = {}
    started = time.monotonic()
    for i in range(3):
        ts = cluster.slack.next_ts()
        sent = time.monotonic()
        status = await cluster.mention(base, QUESTION, event_id=f"EvDown{i}", ts=ts)
        assert status >= 500 and time.monotonic() - sent < 3.0, status
        refused[f"EvDown{i}"] = ts
    await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - started)))
    await proxy.restore()
    for event_id, ts in refused.items():  # Slack's retries, after the outage
        assert await cluster.mention(base, QUESTION, event_id=event_id, ts=ts, retry=1) == 200
    for ts in [queued, *refused.values()]:
        await cluster.answered(ts, within=60)
    await asyncio.sleep(3.0)
    counts = {ts: len(cluster.answers_in(ts)) for ts in [queued, *refused.values()]}
    assert set(counts.values()) == {1}, (counts, cluster.logs())


async def test_metrics_count_what_the_worker_processes_did(cluster: Cluster) -> None:
    """Answers are counted in a worker process; with PROMETHEUS_MULTIPROC_DIR the server's /metrics adds them."""
    metrics_dir = cluster.tmp / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left by an earlier run")  # cleared at start
    _, base = await cluster.serve(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    await cluster.say(base, FACT)
    ts = cluster.slack.next_ts()
    assert await cluster.mention(base, QUESTION, event_id="EvMetrics", ts=ts) == 200
    await cluster.answered(ts)
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        text = await response.text()
    assert response.status == 200
    assert 'whybot_replies_total{platform="slack",skill="ask"} 1.0' in text, text
    assert 'whybot_queue_depth{state="pending"}' in text
