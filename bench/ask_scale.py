"""Ask at scale: the whole `router.handle` of `ask` in the embedded default (bm25s with the built-in static
vectors, extractive generator, no server, SQLite), for the labelled questions of a synthetic workspace whose
tenant also holds N background messages in threads.

    python -m bench ask --messages 1000000               # the default: words and the built-in vectors
    python -m bench ask --messages 1000000 --words-only  # WHYBOT_STATIC_EMBEDDINGS=false, the dense step's peer

The labelled workspace (`whybot synth --seed 7 --size small`) is imported first; then N messages from
`bench.data` (Zipf words, the common ones shared with the questions: "deploy", "service", "release",
"error") go into the same public channels, about half of them as thread replies, dated before the
workspace clock. Every labelled answerable and unanswerable question is asked once as `/whybot ask` and
timed end to end; the per-step times are the skill's own (`rationale.timings_ms`). Recall@5 is reported
too, as a check that the timed path is the real one (the background words are not the labelled ones,
so it should match the small workspace's alone).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.data import batches, make_corpus
from bench.retrieval import percentiles, rss_mb
from bench.storage_ingest import DEFAULT_PG

RESULTS = Path(__file__).parent / "results" / "ask_scale.json"
REPLY_SHARE = 0.5  # background messages that reply to the channel's open thread rather than start one


async def _background(storage: Any, tenant_id: str, channels: list[str], n: int, before: Any) -> float:
    """Insert n background messages into `channels` (external ids), in threads; returns seconds taken."""
    from storage import NewMessage

    corpus = make_corpus(n, channels=len(channels), private=0, queries=1)
    rng = random.Random(7)
    last = corpus.created[-1]
    open_root: dict[int, str] = {}
    replies: dict[str, int] = defaultdict(int)
    thread_of: list[str | None] = []
    for i in range(n):
        c = int(corpus.channels[i])
        if c in open_root and rng.random() < REPLY_SHARE:
            thread_of.append(open_root[c])
            replies[open_root[c]] += 1
        else:
            open_root[c] = _ts(i)
            thread_of.append(None)
    started = time.perf_counter()
    for chunk in batches(corpus):
        await storage.messages.bulk_insert(tenant_id, [
            NewMessage(channels[int(corpus.channels[i])], _ts(i), corpus.texts[i],
                       before - (last - corpus.created[i]) - timedelta(days=1), f"U{corpus.users[i]}",
                       thread_external_id=thread_of[i], reply_count=replies.get(_ts(i), 0))
            for i in chunk])
    return time.perf_counter() - started


def _ts(i: int) -> str:
    return f"1{i:09d}.000100"  # Slack-shaped, never one of the labelled workspace's


async def run(n: int, seed: int, workdir: Path, profile: Path | None = None, url: str | None = None, *,
              words_only: bool = False) -> dict[str, Any]:
    from bot.backends.llm.extractive import ExtractiveGenerator
    from bot.classifier import RulesThenClassifier
    from bot.services import build_services
    from bot.settings import Settings
    from offline.evaluation import metrics as m
    from offline.evaluation.labels import Labels
    from offline.evaluation.runner import Evaluator, Timings, declined, fixed_clock, load_workspace, ranked_evidence
    from offline.synth.export import write_export
    from offline.synth.generate import generate
    from storage import Storage

    path = workdir / "labelled"
    write_export(generate(seed, "small"), path)
    labels = Labels.load(path)
    url = url or f"sqlite+aiosqlite:///{workdir / 'ask.db'}"
    storage = await Storage.open(url, auto_upgrade=True)
    try:
        settings = Settings().model_copy(update={"database_url": url, "embeddings_model": None,
                                                 "static_embeddings": not words_only})
        services = await build_services(settings, storage=storage,
                                        generator=ExtractiveGenerator(), classifier=RulesThenClassifier(),
                                        clock=fixed_clock(labels.now))
        ws = await load_workspace(services, path, labels)
        ingest_s = await _background(storage, ws.tenant_id, [c.external_id for c in ws.public], n, labels.now)
        before = rss_mb()
        started = time.perf_counter()
        await services.retriever.warm(ws.tenant_id)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        await services.retriever.settle(ws.tenant_id)  # every message's vector, before the first question
        embed_s = time.perf_counter() - started
        ev = Evaluator(services, ws, Timings())
        questions = [(q.question, q.channels, set(q.answers)) for q in labels.questions]
        questions += [(u.question, [], set()) for u in labels.unanswerable]
        for text, channels, _ in questions[:10]:  # warm caches the way a running bot has them
            channel, user = ws.asker(channels)
            await ev.handle(ev.event(channel, user, command="ask", args=text))
        total: list[float] = []
        steps: dict[str, list[float]] = defaultdict(list)
        recall: list[float] = []
        answered = 0
        approximate = 0  # questions whose meaning step went through the approximate index, not the exact scan
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        for text, channels, answers in questions:
            channel, user = ws.asker(channels)
            t0 = time.perf_counter()
            reply = await services.router.handle(ev.event(channel, user, command="ask", args=text))
            total.append((time.perf_counter() - t0) * 1000)
            for step, ms in reply.rationale.timings_ms.items():
                steps[step].append(ms)
            if answers:
                recall.append(m.recall_at([ws.label_id.get(s) for s in ranked_evidence(reply)], answers, 5))
            answered += not declined(reply)
            approximate += "approximate index" in reply.rationale.inputs.retrieval
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        messages = await storage.messages.count(ws.tenant_id)
        return {"database": storage.db.dialect, "messages_in_tenant": messages, "background": n, "labelled_seed": seed,
                "questions": len(questions), "answered": answered, "ingest_s": round(ingest_s, 1),
                "index_build_s": round(build_s, 1), "embeddings": settings.embeddings_source,
                "embed_s": round(embed_s, 1), "rss_mb": round(rss_mb()), "rss_before_index_mb": round(before),
                "ask": percentiles(total) | {"p95_ms": round(sorted(total)[int(0.95 * (len(total) - 1))], 3)},
                "steps_p50_ms": {k: round(statistics.median(v), 3) for k, v in sorted(steps.items())},
                "recall_at_5": round(m.mean(recall), 4), "approximate": approximate}
    finally:
        await storage.close()


async def _run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if not args.postgres:
        return await run(args.messages, args.seed, workdir, args.profile, words_only=args.words_only)
    from bench.search_pg import scratch_database

    async with scratch_database(args.postgres, "ask") as url:
        return await run(args.messages, args.seed, workdir, args.profile, url, words_only=args.words_only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ask")
    parser.add_argument("--messages", type=int, default=1_000_000, help="background messages")
    parser.add_argument("--seed", type=int, default=7, help="seed of the labelled workspace")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the timed questions here")
    parser.add_argument("--words-only", action="store_true",
                        help="search by words alone (WHYBOT_STATIC_EMBEDDINGS=false): the peer for the dense step")
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_PG, metavar="SERVER_URL",
                        help="store in a scratch database on this PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="whybot-ask-") as tmp:
        result = asyncio.run(_run(args, Path(tmp)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    a = result["ask"]
    print(f"database: {result['database']}; vectors: {result['embeddings']} (embedded in {result['embed_s']} s)")
    print("| messages | questions | ask p50 ms | ask p95 ms | ask p99 ms | RSS MB | index build s | recall@5 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {result['messages_in_tenant']:,} | {result['questions']} | {a['p50_ms']} | {a['p95_ms']} | "
          f"{a['p99_ms']} | {result['rss_mb']:,} | {result['index_build_s']} | {result['recall_at_5']} |")
    print(f"\nthrough the approximate index: {result['approximate']} of {result['questions']} questions")
    print("per step, p50 ms: " + ", ".join(f"{k} {v}" for k, v in result["steps_p50_ms"].items()))
    return 0
