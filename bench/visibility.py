"""The channel read behind every question's visibility, in a company-sized workspace: every channel with every
member list (what each question read before) against the channels one asker can see (`channels_seen_by`).

    python -m bench visibility [--people 5000] [--open 300] [--private 200] [--postgres URL]

The workspace: `--people` people, all in #general, each open channel with 2% of them, each private channel with
20, and one DM with whybot per person (as an assistant app gets). Both reads must give the same allowed
channels for every asker, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.search_pg import DEFAULT_PG, scratch_database
from bot.models import Platform, Reader
from bot.visibility import Visibility
from storage import Storage

BOT = "UBOT"


async def _workspace(storage: Storage, people: int, open_channels: int, private: int, seed: int) -> str:
    rng = random.Random(seed)
    tenant = await storage.workspace.ensure_tenant("slack", "TVIS")
    users = [f"U{i}" for i in range(people)]
    await storage.workspace.upsert_channel(tenant, "C0", name="general")
    await storage.workspace.set_members(tenant, "C0", users)
    for c in range(1, open_channels):
        await storage.workspace.upsert_channel(tenant, f"C{c}", name=f"open-{c}")
        await storage.workspace.set_members(tenant, f"C{c}", rng.sample(users, max(2, people // 50)))
    for g in range(private):
        await storage.workspace.upsert_channel(tenant, f"G{g}", name=f"private-{g}", is_private=True)
        await storage.workspace.set_members(tenant, f"G{g}", rng.sample(users, 20))
    for u in users:
        await storage.workspace.upsert_channel(tenant, f"D{u}", name=f"dm-{u}", kind="dm")
        await storage.workspace.set_members(tenant, f"D{u}", [u, BOT])
    return tenant


async def measure(url: str, label: str, args: argparse.Namespace) -> dict[str, Any]:
    storage = await Storage.open(url, auto_upgrade=True)
    try:
        started = time.perf_counter()
        tenant = await _workspace(storage, args.people, args.open, args.private, args.seed)
        setup_s = time.perf_counter() - started
        if storage.db.dialect == "postgresql":  # statistics, as autovacuum would leave them after a bulk load
            async with storage.db.autocommit() as s:
                await s.execute(text("ANALYZE"))
        askers = random.Random(args.seed + 1).sample(range(args.people), args.askers)
        every: list[float] = []
        theirs: list[float] = []
        for i in askers:
            reader = Reader(platform=Platform.SLACK, tenant="TVIS", user=f"U{i}", channel="C0")
            t0 = time.perf_counter()
            all_channels = await storage.workspace.channels(tenant)
            t1 = time.perf_counter()
            seen = await storage.workspace.channels_seen_by(tenant, reader.user, reader.channel)
            t2 = time.perf_counter()
            every.append((t1 - t0) * 1000)
            theirs.append((t2 - t1) * 1000)
            for private_reader in (reader, reader.model_copy(update={"private": True, "channel": f"DU{i}"})):
                before = Visibility(private_reader, tenant, all_channels).allowed_channels
                now = Visibility(private_reader, tenant, seen).allowed_channels
                if before != now:
                    raise SystemExit(f"{label}: U{i} would see {sorted(before ^ now)[:5]} differently")
        full, mine = statistics.median(every), statistics.median(theirs)
        return {"database": label, "people": args.people, "channels": len(all_channels),
                "memberships_read_before": sum(len(c.member_ids) for c in all_channels),
                "channels_read_now": len(seen), "setup_s": round(setup_s, 1),
                "every_channel_p50_ms": round(full, 2), "seen_by_p50_ms": round(mine, 2),
                "ratio": round(mine / full, 3)}
    finally:
        await storage.close()


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="whybot-bench-visibility-") as scratch:
        results.append(await measure(f"sqlite+aiosqlite:///{Path(scratch) / 'vis.db'}", "SQLite (file, WAL)", args))
    if args.postgres:
        async with scratch_database(args.postgres, "visibility") as url:
            results.append(await measure(url, "PostgreSQL 127.0.0.1", args))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench visibility")
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--open", type=int, default=300, help="open channels, #general included")
    parser.add_argument("--private", type=int, default=200)
    parser.add_argument("--askers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None, metavar="SERVER_URL")
    parser.add_argument("--out", type=Path, default=Path("bench/results/visibility.json"))
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    print("| database | people | channels | member rows read before | every channel, p50 ms "
          "| the asker's, p50 ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['database']} | {r['people']:,} | {r['channels']:,} | {r['memberships_read_before']:,} | "
              f"{r['every_channel_p50_ms']} | {r['seen_by_p50_ms']} | {r['ratio']}x |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0
