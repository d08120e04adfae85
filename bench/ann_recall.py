"""The approximate index against the exact scan, on the built-in model's vectors of N benchmark messages.

    python -m bench ann --messages 1000000

Every message of `bench.data` (Zipf words over a made-up vocabulary: a hard case for clustering, since the
vectors spread evenly) is embedded with the built-in static model into `_Matrix`, the 8-bit matrix search uses.
For the corpus's queries, a reader who sees 45 of the 50 channels asks for the nearest 80 rows (what hybrid search
asks for with filters; 20 without). Reported per share of lists probed: how many of the exact top 10 and top 80
the index proposes, and the time of `ApproximateIndex.candidates`; the exact scan is timed beside it, in the same
process, over the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.data import make_corpus
from bench.retrieval import percentiles, rss_mb

RESULTS = Path(__file__).parent / "results" / "ann_recall.json"
SHARES = (32, 16, 8)  # 1/share of the lists probed
WANTED = 80


async def run(n: int, queries: int) -> dict[str, Any]:
    from bot.backends.embeddings import StaticEmbedder, load_static_model
    from bot.backends.retrieval.ann import ApproximateIndex
    from bot.backends.retrieval.dense import _Matrix

    corpus = make_corpus(n, queries=queries)
    embedder = StaticEmbedder(load_static_model())
    started = time.perf_counter()
    matrix = _Matrix()
    for lo in range(0, n, 50_000):
        texts = corpus.texts[lo:lo + 50_000]
        matrix.extend(np.arange(lo, lo + len(texts), dtype=np.int64), corpus.channels[lo:lo + len(texts)],
                      await embedder.embed_documents(texts))
    embed_s = time.perf_counter() - started
    before = rss_mb()
    started = time.perf_counter()
    index = ApproximateIndex.build(matrix.vectors, matrix.scales, matrix.size)
    build_s = time.perf_counter() - started
    index_mb = rss_mb() - before
    visible = matrix.visible(frozenset(range(45)))
    rows = np.flatnonzero(visible)
    vectors = await embedder.embed_documents(corpus.queries)
    exact_ms: list[float] = []
    truth: list[npt.NDArray[np.int64]] = []
    for q in vectors:
        t0 = time.perf_counter()
        scores = matrix.dot(q, rows)
        top = np.argpartition(-scores, WANTED - 1)[:WANTED]
        exact_ms.append((time.perf_counter() - t0) * 1000)
        truth.append(rows[top[np.argsort(-scores[top])]])
    out: dict[str, Any] = {"messages": n, "queries": len(vectors), "lists": index.lists, "embed_s": round(embed_s, 1),
                           "build_s": round(build_s, 1), "index_mb": round(index_mb),
                           "exact": percentiles(exact_ms), "probed": []}
    for share in SHARES:
        index.probes = max(1, index.lists // share)
        ms: list[float] = []
        top10: list[float] = []
        top80: list[float] = []
        for q, exact in zip(vectors, truth, strict=True):
            t0 = time.perf_counter()
            near = set(index.candidates(q, visible, WANTED).tolist())
            ms.append((time.perf_counter() - t0) * 1000)
            top10.append(len(near & set(exact[:10].tolist())) / 10)
            top80.append(len(near & set(exact.tolist())) / WANTED)
        out["probed"].append({"share": f"1/{share}", "probes": index.probes, "search": percentiles(ms),
                              "recall_top10": round(float(np.mean(top10)), 3),
                              "recall_top80": round(float(np.mean(top80)), 3)})
    return out



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ann")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.messages, args.queries))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['messages']:,} vectors in {result['lists']:,} lists; index built in {result['build_s']} s, "
          f"{result['index_mb']} MB; exact scan p50 {result['exact']['p50_ms']} ms")
    print("| lists probed | probes | p50 ms | p99 ms | exact top 10 found | exact top 80 found |")
    print("|---|---:|---:|---:|---:|---:|")
    for p in result["probed"]:
        print(f"| {p['share']} | {p['probes']} | {p['search']['p50_ms']} | {p['search']['p99_ms']} | "
              f"{p['recall_top10']} | {p['recall_top80']} |")
    return 0
