"""Retrieval at scale: whybot's BM25 retriever vs rank_bm25 on the same synthetic history and queries.

    python -m bench retrieval --sizes 100000 1000000

Each engine and size runs in its own process so resident memory is its own. whybot is measured on its
real path: messages bulk-inserted into SQLite, the index built from storage, searches with the
visibility mask and hydration of the top hits from the database. rank_bm25 gets the same tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.data import Corpus, batches, make_corpus


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 3), "p99_ms": round(p99, 3)}


class _HashEmbedder:
    """In-process query embedder for the benchmark: measures whybot's side of the dense step (matrix
    search, fusion, hydration), not an embedding server's latency, which the answer time-boxes."""

    model = "bench-hash"
    batch_size = 256

    def __init__(self, dim: int) -> None:
        self.dim = dim

    async def embed_documents(self, texts: Any) -> Any:
        return np.vstack([await self.embed_query(t) for t in texts])

    async def embed_query(self, text: str) -> Any:
        seed = int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    async def close(self) -> None:
        return None


async def _dense_step(storage: Any, retriever: Any, tenant: str, corpus: Corpus, allowed: frozenset[int],
                      dim: int) -> dict[str, Any]:
    """Every message gets a unit vector (random: search cost does not depend on the values) straight in
    the in-memory matrix; then the dense search alone, exact and through the approximate index (built first,
    timed), and the whole hybrid search, are timed."""
    from bot.backends.retrieval.dense import DenseIndex, _Matrix
    from bot.backends.retrieval.hybrid import HybridRetriever

    before = rss_mb()
    embedder = _HashEmbedder(dim)
    matrix = _Matrix()
    rng = np.random.default_rng(7)
    n = len(corpus.texts)
    channel_ids = {c.external_id: c.id for c in await storage.workspace.channels(tenant)}
    started = time.perf_counter()
    channels = np.array([channel_ids[f"C{c}"] for c in corpus.channels], dtype=np.int64)
    for lo in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - lo), dim)).astype(np.float32)
        hi = lo + len(block)  # bulk insert numbers messages 1..n
        matrix.extend(np.arange(lo + 1, hi + 1, dtype=np.int64), channels[lo:hi],
                      block / np.linalg.norm(block, axis=1, keepdims=True))
    load_s = time.perf_counter() - started
    matrix_mb = rss_mb() - before
    exact = DenseIndex(storage, embedder, approximate_from=n + 1)
    dense = DenseIndex(storage, embedder)
    exact._tenants[tenant] = dense._tenants[tenant] = matrix
    started = time.perf_counter()
    await dense.settle(tenant)  # builds the approximate index when the tenant is large enough
    index_s = time.perf_counter() - started
    exact_ms, dense_ms, hybrid_ms = [], [], []
    hybrid = HybridRetriever(retriever, storage, dense, expansion=False)
    for q in corpus.queries[:10]:
        await hybrid.search(tenant, q, allowed, k=5)
    for q in corpus.queries:
        vector = await embedder.embed_query(q)
        t0 = time.perf_counter()
        await exact.search(tenant, vector, allowed, 30)
        exact_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await dense.search(tenant, vector, allowed, 30)
        dense_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await hybrid.search(tenant, q, allowed, k=5)
        hybrid_ms.append((time.perf_counter() - t0) * 1000)
    return {"dense_dim": dim, "dense_load_s": round(load_s, 2), "dense_rss_mb": round(rss_mb() - before),
            "matrix_mb": round(matrix_mb), "approximate_index_s": round(index_s, 2),
            "rss_with_dense_mb": round(rss_mb()), "dense_search_exact": percentiles(exact_ms),
            "dense_search": percentiles(dense_ms), "hybrid_search": percentiles(hybrid_ms)}


async def run_whybot(corpus: Corpus, workdir: Path, dense_dim: int = 0) -> dict[str, Any]:
    from bot import text as textlib
    from bot.backends.retrieval.bm25 import BM25Retriever
    from storage import MessageRecord, NewMessage, Storage

    storage = await Storage.open(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    tenant = await storage.workspace.ensure_tenant("slack", "TBENCH")
    for c in range(corpus.channel_count):
        await storage.workspace.upsert_channel(tenant, f"C{c}", name=f"channel-{c}",
                                               is_private=c in corpus.private_channels)
    started = time.perf_counter()
    for chunk in batches(corpus):
        await storage.messages.bulk_insert(tenant, [
            NewMessage(f"C{corpus.channels[i]}", f"{i}.000", corpus.texts[i], corpus.created[i],
                       f"U{corpus.users[i]}") for i in chunk])
    ingest_s = time.perf_counter() - started
    base_rss = rss_mb()
    retriever = BM25Retriever(storage)
    started = time.perf_counter()
    await retriever.warm(tenant)
    build_s = time.perf_counter() - started
    built_rss = rss_mb()
    channels = await storage.workspace.channels(tenant)
    allowed = frozenset(c.id for c in channels if not c.is_private)
    for q in corpus.queries[:10]:
        await retriever.search(tenant, q, allowed, k=5)
    search_ms, rank_ms, found = [], [], 0
    index = retriever._tenants[tenant]
    for q in corpus.queries:
        t0 = time.perf_counter()
        result = await retriever.search(tenant, q, allowed, k=5)
        search_ms.append((time.perf_counter() - t0) * 1000)
        found += bool(result.hits)
        terms = list(dict.fromkeys(textlib.terms(q)))
        t0 = time.perf_counter()
        retriever._rank(index, terms, allowed, 5)
        rank_ms.append((time.perf_counter() - t0) * 1000)
    # Incremental adds: records straight into the index (storage writes are measured above).
    adds = 2000
    first_id = len(corpus.texts) + 10
    records = [MessageRecord(id=first_id + i, tenant_id=tenant, channel_id=channels[0].id,
                             channel_external_id=channels[0].external_id, channel_name=channels[0].name,
                             external_id=f"new{i}", thread_external_id=None, user_external_id="U1", user_name="u",
                             text=f"fresh message {i} about quasarvenlo rollout", created_at=corpus.created[-1]
                             + timedelta(seconds=i)) for i in range(adds)]
    t0 = time.perf_counter()
    for record in records:
        await retriever.add_message(record)
    add_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranked, _ = retriever._rank(index, ["quasarvenlo"], allowed | {channels[0].id}, 5)
    first_search_after_adds_ms = (time.perf_counter() - t0) * 1000
    assert len(ranked) == 5, "new messages were not searchable"
    dense = await _dense_step(storage, retriever, tenant, corpus, allowed, dense_dim) if dense_dim else {}
    await storage.close()
    return {
        **dense,
        "engine": "whybot (bm25s, segments)", "messages": len(corpus.texts), "ingest_sqlite_s": round(ingest_s, 2),
        "ingest_sqlite_msgs_per_s": round(len(corpus.texts) / ingest_s), "build_s": round(build_s, 2),
        "rss_mb": round(built_rss), "index_rss_mb": round(built_rss - base_rss),
        "search": percentiles(search_ms), "rank_only": percentiles(rank_ms),
        "queries": len(corpus.queries), "queries_with_hits": found,
        "incremental_adds_per_s": round(adds / add_s),
        "first_search_after_adds_ms": round(first_search_after_adds_ms, 2),
    }


def run_rank_bm25(corpus: Corpus, max_queries: int) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from bot import text as textlib

    base_rss = rss_mb()
    started = time.perf_counter()
    tokens = [textlib.terms(t) or [""] for t in corpus.texts]
    model = BM25Okapi(tokens)
    build_s = time.perf_counter() - started
    built_rss = rss_mb()
    private = np.isin(corpus.channels, list(corpus.private_channels))
    queries = corpus.queries[:max_queries]
    rank_ms = []
    for q in queries:
        terms = list(dict.fromkeys(textlib.terms(q)))
        t0 = time.perf_counter()
        scores = np.where(private, 0.0, model.get_scores(terms))
        np.argpartition(-scores, 5)[:5]
        rank_ms.append((time.perf_counter() - t0) * 1000)
    return {"engine": "rank_bm25 (BM25Okapi)", "messages": len(corpus.texts), "build_s": round(build_s, 2),
            "rss_mb": round(built_rss), "index_rss_mb": round(built_rss - base_rss),
            "rank_only": percentiles(rank_ms), "queries": len(queries)}


def child(engine: str, size: int, max_queries: int, dense_dim: int = 0) -> None:
    corpus = make_corpus(size)
    if engine == "whybot":
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(run_whybot(corpus, Path(tmp), dense_dim))
    else:
        result = run_rank_bm25(corpus, max_queries)
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench retrieval")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["whybot", "rank_bm25"])
    parser.add_argument("--rank-bm25-queries", type=int, default=30,
                        help="rank_bm25 scores every document in Python: cap its query count")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/retrieval.json"))
    parser.add_argument("--dense-dim", type=int, default=0,
                        help="also time the dense step with vectors of this many dimensions (0: skip)")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.rank_bm25_queries, args.dense_dim)
        return 0
    results = []
    for size in args.sizes:
        for engine in args.engines:
            print(f"running {engine} at {size:,} messages…", file=sys.stderr, flush=True)
            out = subprocess.run([sys.executable, "-m", "bench", "retrieval", "--child", engine, str(size),
                                  "--rank-bm25-queries", str(args.rank_bm25_queries),
                                  "--dense-dim", str(args.dense_dim)],
                                 check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


def table(results: list[dict[str, Any]]) -> str:
    rows = ["| engine | messages | build s | RSS MB (index) | query p50 ms | query p99 ms | rank-only p50 ms | "
            "rank-only p99 ms | adds/s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        search = r.get("search", {})
        rows.append(f"| {r['engine']} | {r['messages']:,} | {r['build_s']} | {r['rss_mb']} ({r['index_rss_mb']}) | "
                    f"{search.get('p50_ms', '–')} | {search.get('p99_ms', '–')} | {r['rank_only']['p50_ms']} | "
                    f"{r['rank_only']['p99_ms']} | {r.get('incremental_adds_per_s', '–')} |")
    dense = [r for r in results if r.get("dense_dim")]
    if dense:
        rows += ["", "| dense step | messages | dims | matrix MB | matrix and index MB | index built in s | "
                     "exact scan p50 / p99 ms | through the index p50 / p99 ms | hybrid search p50 / p99 ms |",
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        rows += [f"| whybot (8-bit matrix, faiss IVF) | {r['messages']:,} | {r['dense_dim']} | {r['matrix_mb']} | "
                 f"{r['dense_rss_mb']} | {r['approximate_index_s']} | {r['dense_search_exact']['p50_ms']} / "
                 f"{r['dense_search_exact']['p99_ms']} | {r['dense_search']['p50_ms']} / "
                 f"{r['dense_search']['p99_ms']} | "
                 f"{r['hybrid_search']['p50_ms']} / {r['hybrid_search']['p99_ms']} |" for r in dense]
    return "\n".join(rows)
