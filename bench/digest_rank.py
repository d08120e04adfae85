"""Benchmark: rank a 24 h window of 50,000 messages (about 5,000 threads), the digest's hot path.

    python -m bench.digest_rank [--messages 50000] [--threads 5000] [--repeat 7]    (or: python -m bench digest)

Times `group_threads` (messages -> threads) plus `ImportanceScorer.rank` (features, scores, sort) on
the shipped weights, and reports the median and the spread of repeated runs. The window comes from
the deterministic labelled generator, with replies added to reach the message count, so every run
ranks the same data. Budget: 0.5 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.backends.importance import ImportanceScorer, group_threads
from offline.training.importance_data import labelled_window
from storage import MessageRecord

BUDGET_S = 0.5
FILLER = ("ok", "thanks", "makes sense", "I'll check", "any update?", "done", "+1", "looking into it",
          "can you share the logs?", "deployed to staging", "lol", "see the doc", "agreed")


def window_messages(messages: int, threads: int, seed: int = 7) -> list[MessageRecord]:
    """`threads` labelled threads padded with replies to `messages` in total, oldest first, as storage returns them."""
    rng = random.Random(seed)
    window = labelled_window(seed, threads=threads)
    out = [m for lt in window for m in lt.thread.messages]
    roots = [lt.thread for lt in window]
    next_id = max(m.id for m in out) + 1
    end = window[0].window_end
    while len(out) < messages:
        thread = rng.choice(roots)
        last = thread.messages[-1]
        at = min(last.created_at + timedelta(seconds=rng.uniform(10, 600)), end - timedelta(seconds=1))
        out.append(replace(last, id=next_id, external_id=f"{at.timestamp():.6f}.{next_id}",
                           thread_external_id=thread.root_external_id, text=rng.choice(FILLER), created_at=at,
                           user_external_id=f"U{rng.randrange(400):03d}", is_bot=False, reaction_count=0,
                           reply_count=0, mention_count=0, file_count=0))
        next_id += 1
    out.sort(key=lambda m: (m.created_at, m.id))
    return out


def run(messages: int, threads: int, repeat: int) -> dict[str, float]:
    data = window_messages(messages, threads)
    scorer = ImportanceScorer.load()
    end = max(m.created_at for m in data) + timedelta(seconds=1)
    timings: list[float] = []
    group_only: list[float] = []
    found = 0
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        views = group_threads(data)
        grouped = time.perf_counter()
        ranked = scorer.rank(views, end, 24.0)
        finished = time.perf_counter()
        timings.append(finished - started)
        group_only.append(grouped - started)
        found = len(ranked)
    return {"messages": len(data), "threads": found, "median_s": statistics.median(timings),
            "min_s": min(timings), "max_s": max(timings), "group_median_s": statistics.median(group_only)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench digest", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results/digest_rank.json"))
    args = parser.parse_args(argv)
    result = run(args.messages, args.threads, args.repeat)
    result.update(python=platform.python_version(), repeat=args.repeat, budget_s=BUDGET_S)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    verdict = "within" if result["median_s"] <= BUDGET_S else "OVER"
    print("| messages | threads | group_threads + rank, median | min | max | group_threads alone | budget |\n"
          "|---:|---:|---:|---:|---:|---:|---|")
    print(f"| {result['messages']:,} | {result['threads']:,} | {result['median_s'] * 1000:.0f} ms | "
          f"{result['min_s'] * 1000:.0f} ms | {result['max_s'] * 1000:.0f} ms | "
          f"{result['group_median_s'] * 1000:.0f} ms | {verdict} {BUDGET_S * 1000:.0f} ms |")
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    raise SystemExit(main())
