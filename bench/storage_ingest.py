"""Messages stored per second in SQLite and PostgreSQL: the bulk path (imports, backfills) and the
one-at-a-time path live events take (upsert with thread bookkeeping).

    python -m bench storage [--messages 50000] [--live 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import make_url

from bench.data import batches, make_corpus
from storage import NewMessage, Storage
from storage.tables import Message

DEFAULT_PG = os.environ.get("WHYBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def measure(url: str, label: str, messages: int, live: int) -> dict[str, Any]:
    corpus = make_corpus(messages + live, queries=1)
    storage = await Storage.open(url, auto_upgrade=True)
    tenant = await storage.workspace.ensure_tenant("slack", "TBENCH")
    for c in range(corpus.channel_count):
        await storage.workspace.upsert_channel(tenant, f"C{c}", name=f"channel-{c}")
    items = [NewMessage(f"C{corpus.channels[i]}", f"{i}.000", corpus.texts[i], corpus.created[i],
                        f"U{corpus.users[i]}") for i in range(messages + live)]
    started = time.perf_counter()
    for chunk in batches(corpus, 5000):
        if chunk.start >= messages:
            break
        await storage.messages.bulk_insert(tenant, items[chunk.start:min(chunk.stop, messages)])
    bulk_s = time.perf_counter() - started
    started = time.perf_counter()
    for item in items[messages:]:
        await storage.messages.upsert(tenant, item)
    live_s = time.perf_counter() - started
    catch_up = await _catch_up_ms(storage, tenant)
    await storage.close()
    return {"database": label, "bulk_messages": messages, "bulk_msgs_per_s": round(messages / bulk_s),
            "live_messages": live, "live_msgs_per_s": round(live / live_s)} | catch_up


async def _catch_up_ms(storage: Storage, tenant: str, runs: int = 20) -> dict[str, float]:
    """p50 ms of the in-process index's catch-up read when nothing changed (what every process runs every
    2 s per tenant), beside the single `id > a OR edited_at >= b` statement it replaced (the peer)."""
    async with storage.db.session() as s:
        last = int(await s.scalar(select(func.max(Message.id)).where(Message.tenant_id == tenant)) or 0)
        if storage.db.dialect == "postgresql":  # as autovacuum leaves it: fresh from a bulk load, the planner has
            await s.execute(text("ANALYZE messages"))  # no statistics and scans the tenant for either form
    since = datetime.now(UTC)
    peer = (select(Message.id, Message.channel_id, Message.text, Message.deleted, Message.decision_id,
                   Message.user_id, Message.created_at)
            .where(Message.tenant_id == tenant, or_(Message.id > last, Message.edited_at >= since))
            .order_by(Message.id).limit(5000))
    ours: list[float] = []
    single: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        await storage.messages.changes(tenant, after_id=last, edited_since=since)
        ours.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        async with storage.db.session() as s:
            (await s.execute(peer)).all()
        single.append((time.perf_counter() - started) * 1000)
    return {"catch_up_p50_ms": round(statistics.median(ours), 2),
            "catch_up_single_or_p50_ms": round(statistics.median(single), 2)}


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(await measure(f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}", "SQLite (file, WAL)",
                                     args.messages, args.live))
    name = f"whybot_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.postgres).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL skipped: {exc!r}")
        return results
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        results.append(await measure(url, "PostgreSQL 127.0.0.1", args.messages, args.live))
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench storage")
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--live", type=int, default=2_000)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, default=Path("bench/results/storage.json"))
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("| database | bulk insert msgs/s | live upsert msgs/s | catch-up read p50 ms | single-OR peer p50 ms |\n"
          "|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['database']} | {r['bulk_msgs_per_s']:,} | {r['live_msgs_per_s']:,} | {r['catch_up_p50_ms']} | "
              f"{r['catch_up_single_or_p50_ms']} |")
    return 0
