"""What one durable commit costs on this machine, with nothing of whybot around it.

    python -m bench commit-floor [--count 2000] [--database-url postgresql://…]

An acknowledged turn must be committed before the 200 leaves (issue 11), so no ack can be faster than one
INSERT … RETURNING and its COMMIT: on PostgreSQL with the server's fsync on, on SQLite in WAL mode with
`synchronous=NORMAL` (whybot's settings). This measures exactly that, one row at a time with a 5 ms pause
between rows (a 200 events/s pace), through the same drivers (asyncpg, sqlite3), so the ack benchmark's
ratio against a bare Bolt app that commits nothing can be read against the floor the durability itself sets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
PAUSE_S = 0.005


def _summary(name: str, latencies_ms: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    return {"database": name, "count": len(ordered), "p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 3), "max_ms": round(ordered[-1], 3)}


async def postgres(url: str, count: int) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    table = f"commit_floor_{int(time.time())}"
    await connection.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, key text UNIQUE, payload jsonb)")
    latencies: list[float] = []
    try:
        for i in range(count):
            started = time.perf_counter()
            async with connection.transaction():
                await connection.fetch(f"INSERT INTO {table} (key, payload) VALUES ($1, $2) "
                                       "ON CONFLICT DO NOTHING RETURNING key", f"k{i}", '{"turn": 1}')
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(PAUSE_S)
        fsync = await connection.fetchval("SHOW fsync")
        sync_commit = await connection.fetchval("SHOW synchronous_commit")
    finally:
        await connection.execute(f"DROP TABLE {table}")
        await connection.close()
    return {**_summary("PostgreSQL", latencies), "settings": f"fsync={fsync}, synchronous_commit={sync_commit}"}


def sqlite(folder: Path, count: int) -> dict[str, Any]:
    connection = sqlite3.connect(str(folder / "floor.db"), isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, key TEXT UNIQUE, payload TEXT)")
    latencies: list[float] = []
    for i in range(count):
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.execute("INSERT INTO t (key, payload) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING key",
                           (f"k{i}", '{"turn": 1}')).fetchall()
        connection.execute("COMMIT")
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(PAUSE_S)
    connection.close()
    return {**_summary("SQLite", latencies), "settings": "WAL, synchronous=NORMAL"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench commit-floor", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--database-url", default=DEFAULT_PG, help="a PostgreSQL server to measure (asyncpg URL)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="whybot-floor-") as tmp:
        rows = [sqlite(Path(tmp), args.count), asyncio.run(postgres(args.database_url, args.count))]
    print("| database | settings | commits | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['database']} | {r['settings']} | {r['count']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "commit_floor.json").write_text(json.dumps(rows, indent=2))
    return 0
