"""PostgreSQL search (`WHYBOT_SEARCH=postgres`) side by side with the in-process bm25s backend.

    python -m bench search-pg quality [--size small] [--seed 7]
    python -m bench search-pg scale [--messages 1000000] [--queries 200]
    python -m bench search-pg ingest [--messages 50000] [--live 2000]

`quality` imports a labelled synthetic workspace (`whybot synth`) into PostgreSQL once and runs the
eval's ask questions (recall@5, MRR, declines) and privacy probes through the real router with each
engine: bm25s, PostgreSQL BM25, and PostgreSQL's plain `ts_rank` for comparison.

`scale` COPYs a Zipf-distributed history (bench/data.py) into PostgreSQL with the search triggers live,
then runs the same queries, each engine in its own process so its resident memory is its own: query
p50/p99 with hits read from the database, RSS, index size on disk, ingest rate, and how often the two
engines' top 5 agree. `ingest` measures what the search migration costs every PostgreSQL installation:
storage's own bulk and live write paths on a schema without it (revision 0004) and with it (head).
Databases are named whybot_search_bench_* and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.data import Corpus, make_corpus
from bench.retrieval import percentiles, rss_mb
from bench.storage_ingest import DEFAULT_PG

RESULTS = Path("bench/results")


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return (parsed.set(database=database) if database else parsed).render_as_string(hide_password=False)


@asynccontextmanager
async def scratch_database(server: str, label: str) -> AsyncIterator[str]:
    name = f"whybot_search_bench_{label}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(_dsn(server), timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(_dsn(server), timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


# quality ---------------------------------------------------------------------------------------

async def quality(server: str, size: str, seed: int) -> list[dict[str, Any]]:
    from bot.backends.llm.extractive import ExtractiveGenerator
    from bot.backends.retrieval.base import Retriever
    from bot.backends.retrieval.bm25 import BM25Retriever
    from bot.backends.retrieval.postgres import PostgresRetriever
    from bot.classifier import RulesThenClassifier
    from bot.services import build_services
    from bot.settings import Settings
    from offline.evaluation.labels import Labels
    from offline.evaluation.runner import Evaluator, Timings, load_workspace
    from offline.synth.export import write_export
    from offline.synth.generate import generate
    from storage import Storage

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ws"
        write_export(generate(seed, size), path)
        labels = Labels.load(path)
        async with scratch_database(server, "quality") as url:
            storage = await Storage.open(url, auto_upgrade=True)
            settings = Settings(_env_file=None).model_copy(  # type: ignore[call-arg]
                update={"database_url": url, "search": "postgres"})
            services = await build_services(settings, storage=storage, generator=ExtractiveGenerator(),
                                            classifier=RulesThenClassifier(), clock=lambda: labels.now)
            ws = await load_workspace(services, path, labels)
            engines: list[tuple[str, Retriever]] = [
                ("bm25s (in process)", BM25Retriever(storage)),
                ("postgres BM25", PostgresRetriever(storage)),
                ("postgres ts_rank", PostgresRetriever(storage, ts_rank=True)),
            ]
            for label, retriever in engines:
                services.router.ctx.retriever = retriever
                timings = Timings()
                ev = Evaluator(services, ws, timings)
                await retriever.warm(ws.tenant_id)
                ask, _ = await ev.ask(services, "extractive")
                privacy, _ = await ev.privacy()
                summary = timings.summary().get("ask", {})
                results.append({"engine": label, "workspace": f"seed {seed}, {size}", "messages": ws.messages,
                                "questions": len(labels.questions), **ask, **privacy,
                                "ask_p50_ms": summary.get("p50_ms"), "ask_p95_ms": summary.get("p95_ms")})
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            await storage.close()
    return results


def quality_table(results: list[dict[str, Any]]) -> str:
    base = results[0]
    rows = ["| engine | recall@5 | MRR | thread recall@5 | false declines | unanswerable declined | fact leaks | "
            "ask p50 ms |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        delta = "" if r is base else f" ({r['ask.recall_at_5'] - base['ask.recall_at_5']:+.3f})"
        mrr = "" if r is base else f" ({r['ask.mrr'] - base['ask.mrr']:+.3f})"
        rows.append(f"| {r['engine']} | {r['ask.recall_at_5']:.3f}{delta} | {r['ask.mrr']:.3f}{mrr} | "
                    f"{r['ask.thread_recall_at_5']:.3f} | {r['ask.false_decline_rate']:.3f} | "
                    f"{r['ask.unanswerable_decline_rate']:.3f} | {r['privacy.fact_leaks']:.0f} | {r['ask_p50_ms']} |")
    return "\n".join(rows)


# scale -----------------------------------------------------------------------------------------

COLUMNS = ["tenant_id", "channel_id", "external_id", "user_id", "text", "created_at", "reaction_count",
           "reply_count", "mention_count", "file_count", "is_bot", "deleted"]


async def load(url: str, corpus: Corpus) -> dict[str, Any]:
    """Create the workspace through storage, then COPY the messages in 20k-row statements (each one
    fires the search triggers once, as a bulk import would)."""
    from storage import Storage
    from storage.search import SearchStore

    storage = await Storage.open(url, auto_upgrade=True)
    tenant = await storage.workspace.ensure_tenant("slack", "TBENCH")
    for c in range(corpus.channel_count):
        await storage.workspace.upsert_channel(tenant, f"C{c}", name=f"channel-{c}",
                                               is_private=c in corpus.private_channels)
    channel_ids = {int(c.external_id[1:]): c.id for c in await storage.workspace.channels(tenant)}
    conn = await asyncpg.connect(_dsn(url), timeout=5)
    started = time.perf_counter()
    try:
        for start in range(0, len(corpus.texts), 20_000):
            stop = min(start + 20_000, len(corpus.texts))
            await conn.copy_records_to_table("messages", columns=COLUMNS, records=[
                (tenant, channel_ids[int(corpus.channels[i])], f"{i}.000", None, corpus.texts[i], corpus.created[i],
                 0, 0, 0, 0, False, False) for i in range(start, stop)])
        ingest_s = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE messages")
        await conn.execute("VACUUM ANALYZE search_terms")
    finally:
        await conn.close()
    sizes = await SearchStore(storage.db).index_sizes()
    await storage.close()
    return {"messages": len(corpus.texts), "ingest_s": round(ingest_s, 1),
            "ingest_msgs_per_s": round(len(corpus.texts) / ingest_s),
            **{f"{k}_mb": round(v / 1e6, 1) for k, v in sizes.items()}}


async def serve_queries(url: str, engine: str, queries: list[str]) -> dict[str, Any]:
    from bot.backends.retrieval.base import Retriever
    from bot.backends.retrieval.bm25 import BM25Retriever
    from bot.backends.retrieval.postgres import PostgresRetriever
    from storage import Storage

    storage = await Storage.open(url)
    tenant = await storage.workspace.ensure_tenant("slack", "TBENCH")
    allowed = frozenset(c.id for c in await storage.workspace.channels(tenant) if not c.is_private)
    retriever: Retriever = BM25Retriever(storage) if engine == "memory" else PostgresRetriever(storage)
    started = time.perf_counter()
    await retriever.warm(tenant)
    warm_s = time.perf_counter() - started
    for q in queries[:10]:
        await retriever.search(tenant, q, allowed, k=5)
    samples, tops, withheld = [], [], 0
    messages = 0
    for q in queries:
        t0 = time.perf_counter()
        result = await retriever.search(tenant, q, allowed, k=5)
        samples.append((time.perf_counter() - t0) * 1000)
        tops.append([(h.source_id, h.score) for h in result.hits])
        withheld += result.withheld
        messages = result.searched_messages
    rss = rss_mb()
    await storage.close()
    return {"engine": "bm25s (in process)" if engine == "memory" else "postgres BM25", "messages": messages,
            "warm_s": round(warm_s, 2), "rss_mb": round(rss), "search": percentiles(samples),
            "queries": len(samples), "with_hits": sum(1 for t in tops if t), "withheld": withheld, "tops": tops}


def child(args: argparse.Namespace) -> None:
    """One engine in a fresh process that holds only the queries, so its RSS is the engine's."""
    queries = json.loads(Path(args.queries_file).read_text())
    print(json.dumps(asyncio.run(serve_queries(args.url, args.engine, queries))))


async def scale(server: str, messages: int, queries: int, repeat: int) -> dict[str, Any]:
    corpus = make_corpus(messages, queries=queries)
    async with scratch_database(server, "scale") as url:
        ingest = await load(url, corpus)
        print(json.dumps(ingest), file=sys.stderr, flush=True)
        queries_file = Path(tempfile.mkstemp(suffix=".json")[1])
        await asyncio.to_thread(queries_file.write_text, json.dumps(corpus.queries))
        del corpus
        runs: dict[str, list[dict[str, Any]]] = {"postgres": [], "memory": []}
        for run in range(repeat):  # the order alternates, so neither engine always runs on a warmer cache
            for engine in ("postgres", "memory") if run % 2 == 0 else ("memory", "postgres"):
                out = await asyncio.to_thread(
                    subprocess.run, [sys.executable, "-m", "bench", "search-pg", "child", "--url", url, "--engine",
                                     engine, "--queries-file", str(queries_file)],
                    check=True, capture_output=True, text=True)
                runs[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps({k: v for k, v in runs[engine][-1].items() if k != "tops"}), file=sys.stderr,
                      flush=True)
        await asyncio.to_thread(queries_file.unlink)
    engines = [_median_run(runs["postgres"]), _median_run(runs["memory"])]
    pg, memory = engines
    pairs = [(a, b) for a, b in zip(pg.pop("tops"), memory.pop("tops"), strict=True) if b]
    agree = [len({i for i, _ in a} & {i for i, _ in b}) / len(b) for a, b in pairs]
    # Where the ids differ, are the scores the same (a tie broken another way) or did the ranking differ?
    # bm25s scores in float32, so "the same" is within 0.1%.
    same_scores = [len(a) == len(b) and all(math.isclose(x[1], y[1], rel_tol=1e-3) for x, y in zip(a, b, strict=True))
                   for a, b in pairs]
    return {"ingest": ingest, "engines": engines, "top5_overlap": round(sum(agree) / max(len(agree), 1), 4),
            "top5_same_scores": round(sum(same_scores) / max(len(same_scores), 1), 4)}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median p50, with every run's p50/p99 alongside."""
    ordered = sorted(runs, key=lambda r: r["search"]["p50_ms"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runs"] = [{"p50_ms": r["search"]["p50_ms"], "p99_ms": r["search"]["p99_ms"], "rss_mb": r["rss_mb"]}
                      for r in runs]
    return chosen


async def ingest_cost(server: str, messages: int, live: int) -> list[dict[str, Any]]:
    from alembic import command
    from sqlalchemy import Connection

    from bench.data import batches
    from storage import Database, NewMessage, Storage
    from storage.db import alembic_config

    corpus = make_corpus(messages + live, queries=1)
    items = [NewMessage(f"C{corpus.channels[i]}", f"{i}.000", corpus.texts[i], corpus.created[i],
                        f"U{corpus.users[i]}") for i in range(messages + live)]
    results = []
    for revision in ("0004_messages_edited_index", "head"):
        async with scratch_database(server, "ingest") as url:
            db = Database(url)

            def upgrade(connection: Connection, revision: str = revision) -> None:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)

            async with db.engine.begin() as conn:
                await conn.run_sync(upgrade)
            storage = Storage.over(db)
            tenant = await storage.workspace.ensure_tenant("slack", "TBENCH")
            for c in range(corpus.channel_count):
                await storage.workspace.upsert_channel(tenant, f"C{c}", name=f"channel-{c}")
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
            await storage.close()
        results.append({"schema": "without search (0004)" if revision != "head" else "with search (head)",
                        "bulk_msgs_per_s": round(messages / bulk_s), "live_msgs_per_s": round(live / live_s)})
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


def scale_table(result: dict[str, Any]) -> str:
    pg, memory = result["engines"]
    ingest = result["ingest"]
    rows = ["| engine (median run) | messages | query p50 ms | query p99 ms | RSS MB | warm-up s |",
            "|---|---:|---:|---:|---:|---:|"]
    for r in (pg, memory):
        rows.append(f"| {r['engine']} | {r['messages']:,} | {r['search']['p50_ms']} | {r['search']['p99_ms']} | "
                    f"{r['rss_mb']} | {r['warm_s']} |")
    for r in (pg, memory):
        rows.append(f"{r['engine']} per run p50/p99 ms: "
                    + ", ".join(f"{x['p50_ms']}/{x['p99_ms']}" for x in r.get("runs", [])))
    rows.append("")
    rows.append(f"ratios postgres / bm25s: p50 {pg['search']['p50_ms'] / memory['search']['p50_ms']:.1f}x, "
                f"p99 {pg['search']['p99_ms'] / memory['search']['p99_ms']:.1f}x, "
                f"RSS {pg['rss_mb'] / memory['rss_mb']:.2f}x; "
                f"top-5 overlap {result['top5_overlap']:.3f}, queries whose top-5 scores agree within 0.1% "
                f"{result['top5_same_scores']:.3f}")
    rows.append(f"ingest (COPY, search triggers on): {ingest['ingest_msgs_per_s']:,} messages/s "
                f"({ingest['ingest_s']} s); on disk: GIN {ingest['gin_index_mb']} MB, tsvector column "
                f"~{ingest['tsvector_column_mb']} MB, statistics {ingest['statistics_mb']} MB, messages table "
                f"with indexes {ingest['messages_total_mb']} MB")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench search-pg")
    parser.add_argument("mode", choices=["quality", "scale", "ingest", "child"])
    parser.add_argument("--postgres", default=DEFAULT_PG, help="server URL (scratch databases are made on it)")
    parser.add_argument("--size", default="small", help="quality: synthetic workspace size")
    parser.add_argument("--seed", type=int, default=7, help="quality: synthetic workspace seed (7 = CI's)")
    parser.add_argument("--messages", type=int, help="scale: history size (1,000,000); ingest: bulk messages (50,000)")
    parser.add_argument("--live", type=int, default=2000, help="ingest: messages stored one at a time")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="scale: query runs per engine over the one load")
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.mode == "child":
        child(args)
        return 0
    if args.mode == "quality":
        found = asyncio.run(quality(args.postgres, args.size, args.seed))
        (RESULTS / f"search_pg_quality_{args.size}.json").write_text(json.dumps(found, indent=2) + "\n")
        print(quality_table(found))
        return 0
    if args.mode == "ingest":
        rows = asyncio.run(ingest_cost(args.postgres, args.messages or 50_000, args.live))
        (RESULTS / "search_pg_ingest.json").write_text(json.dumps(rows, indent=2) + "\n")
        print("| schema | bulk insert msgs/s | live upsert msgs/s |\n|---|---:|---:|")
        print("\n".join(f"| {r['schema']} | {r['bulk_msgs_per_s']:,} | {r['live_msgs_per_s']:,} |" for r in rows))
        return 0
    args.messages = args.messages or 1_000_000
    result = asyncio.run(scale(args.postgres, args.messages, args.queries, args.repeat))
    (RESULTS / f"search_pg_scale_{args.messages}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(scale_table(result))
    return 0
