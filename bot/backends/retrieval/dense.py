"""The semantic half of hybrid retrieval: message vectors per tenant, in memory, kept current.

Vectors live in storage (`message_embeddings`), so a restart or another replica reuses them; the
in-memory matrix is rebuilt from there on first use. New and edited messages are embedded in the
background, in batches: ingesting never waits on the embedding server, and until a vector exists
the message is still found by its words. Search is an exact dot product over the visible rows
(vectors are unit length, so it is cosine similarity).

In memory each vector is held as 8-bit integers with one scale per row (a quarter of float32: at a million
128-dimensional messages 128 MB instead of 512 MB, which kept the process over 1.5 GB). Scoring converts
blocks of rows back to float32 for BLAS; the rounding moves a cosine by well under 0.01, and the search
costs about 4 ms more per million rows than with float32 (BENCHMARKS.md 3b). Storage keeps float32.

A tenant of 100,000 vectors or more also gets an approximate index (`ann.py`), built in a thread once loaded and
retrained as it doubles: it proposes the candidates, the matrix scores them. Until it is ready, and for readers who
see too few rows for it to help, search is the exact scan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bot.backends.embeddings import Embedder, Vectors
from bot.backends.retrieval.ann import MIN_ROWS, OVERSAMPLE, ApproximateIndex
from storage import MessageRecord, Storage, text_hash

log = logging.getLogger(__name__)

CHUNK = 4096  # rows added per matrix growth
BLOCK = 8192  # rows converted to float32 at a time when scoring (stays in cache)


def _quantized(vectors: Vectors) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Each row as 8-bit integers and the scale that maps them back (the row's largest value is 127)."""
    largest = np.max(np.abs(vectors), axis=1) if vectors.size else np.zeros(len(vectors), np.float32)
    scales = np.where(largest > 0, largest / 127, 1.0).astype(np.float32)
    return np.round(vectors / scales[:, None]).astype(np.int8), scales


@dataclass
class _Matrix:
    dim: int = 0
    size: int = 0
    vectors: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))
    scales: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    channels: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    alive: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    row_of: dict[int, int] = field(default_factory=dict)
    masks: dict[frozenset[int], tuple[int, npt.NDArray[np.bool_]]] = field(default_factory=dict)

    def visible(self, allowed: frozenset[int]) -> npt.NDArray[np.bool_]:
        """Rows in `allowed` channels and alive. The channel mask is cached per reader scope (most
        questions share a handful), so a search costs one AND instead of a set lookup per row."""
        n = self.size
        cached = self.masks.get(allowed)
        if cached is None or cached[0] != n:
            if len(self.masks) > 64:
                self.masks.clear()
            cached = (n, np.isin(self.channels[:n], np.fromiter(allowed, dtype=np.int64)))
            self.masks[allowed] = cached
        return cached[1] & self.alive[:n]

    def put(self, message_id: int, channel_id: int, vector: Vectors) -> None:
        self.extend(np.array([message_id], np.int64), np.array([channel_id], np.int64), vector.reshape(1, -1))

    def extend(self, ids: npt.NDArray[np.int64], channels: npt.NDArray[np.int64], vectors: Vectors) -> None:
        """Append messages' vectors; a message already here (an edit) keeps its old row, retired. Rows are never
        rewritten, so a copy of the arrays taken earlier (the approximate index's build) stays valid."""
        if self.dim == 0 and vectors.size:
            self.dim = int(vectors.shape[-1])
        if len(ids) == 0 or vectors.shape[-1] != self.dim:
            return  # a different model's vectors: ignore rather than corrupt the matrix
        for message_id in ids:
            self.remove(int(message_id))
        n, m = self.size, len(ids)
        if n + m > len(self.ids):  # grow by a quarter at least, so appending one at a time stays cheap
            room = max(CHUNK, n // 4, n + m - len(self.ids))
            self.vectors = np.vstack([self.vectors[:n].reshape(-1, self.dim), np.zeros((room + m, self.dim), np.int8)])
            self.scales = np.concatenate([self.scales[:n], np.zeros(room + m, np.float32)])
            self.ids = np.concatenate([self.ids[:n], np.zeros(room + m, np.int64)])
            self.channels = np.concatenate([self.channels[:n], np.zeros(room + m, np.int64)])
            self.alive = np.concatenate([self.alive[:n], np.zeros(room + m, np.bool_)])
        self.vectors[n:n + m], self.scales[n:n + m] = _quantized(vectors)
        self.ids[n:n + m], self.channels[n:n + m], self.alive[n:n + m] = ids, channels, True
        self.row_of.update({int(mid): n + i for i, mid in enumerate(ids)})
        self.size = n + m

    def remove(self, message_id: int) -> None:
        row = self.row_of.pop(message_id, None)
        if row is not None:
            self.alive[row] = False

    @property
    def count(self) -> int:
        return len(self.row_of)

    def dot(self, query: Vectors, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The dot product of `query` with each of `rows` (all rows in order when they are most of them)."""
        query = query.astype(np.float32, copy=False)
        everything = rows.size >= self.size // 2
        span = self.size if everything else rows.size
        out = np.empty(span, dtype=np.float32)
        for start in range(0, span, BLOCK):
            block = slice(start, min(start + BLOCK, span)) if everything else rows[start:start + BLOCK]
            out[start:start + BLOCK] = (self.vectors[block].astype(np.float32) @ query) * self.scales[block]
        return out[rows] if everything else out


@dataclass(frozen=True, slots=True)
class Nearest:
    """The nearest visible messages, (message id, cosine) best first, and how they were found (for the Why?)."""

    found: list[tuple[int, float]]
    approximate: str = ""  # "", or how much of the approximate index was probed


class DenseIndex:
    def __init__(self, storage: Storage, embedder: Embedder, *, backfill_batch: int = 256,
                 approximate_from: int = MIN_ROWS) -> None:
        self.storage = storage
        self.embedder = embedder
        self.backfill_batch = backfill_batch
        self.approximate_from = approximate_from  # vectors a tenant needs before it gets an approximate index
        self._tenants: dict[str, _Matrix] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._queue: dict[str, dict[int, MessageRecord]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._backfills: dict[str, asyncio.Task[None]] = {}
        self._approximate: dict[str, ApproximateIndex] = {}
        self._indexing: dict[str, asyncio.Task[None]] = {}
        self.missing: dict[str, int] = {}  # messages still without a vector, per tenant (for the Why?)

    @property
    def model(self) -> str:
        return self.embedder.model

    async def _matrix(self, tenant_id: str) -> _Matrix:
        found = self._tenants.get(tenant_id)
        if found is not None:
            return found
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            if tenant_id not in self._tenants:
                matrix = _Matrix()
                async for batch in self.storage.embeddings.vectors(tenant_id, self.model):
                    width = 4 * matrix.dim or (len(batch[0].vector) if batch else 0)
                    rows = [r for r in batch if len(r.vector) == width]  # another size: another model's
                    if rows:
                        vectors = np.frombuffer(b"".join(r.vector for r in rows), np.float32).reshape(len(rows), -1)
                        matrix.extend(np.array([r.message_id for r in rows], np.int64),
                                      np.array([r.channel_id for r in rows], np.int64), vectors)
                self._tenants[tenant_id] = matrix
                self._backfills[tenant_id] = asyncio.ensure_future(self.backfill(tenant_id))
                self._index_if_due(tenant_id, matrix)
        return self._tenants[tenant_id]

    def _index_if_due(self, tenant_id: str, matrix: _Matrix) -> None:
        """Start building the approximate index in a thread when the tenant is large enough and has none, or has
        outgrown it; the old one (or the exact scan) serves meanwhile."""
        current = self._approximate.get(tenant_id)
        building = self._indexing.get(tenant_id)
        if matrix.size < self.approximate_from or (building is not None and not building.done()):
            return
        if current is None or current.due(matrix.size):
            self._indexing[tenant_id] = asyncio.ensure_future(self._build_index(tenant_id, matrix))

    async def _build_index(self, tenant_id: str, matrix: _Matrix) -> None:
        started = time.perf_counter()
        try:
            built = await asyncio.to_thread(ApproximateIndex.build, matrix.vectors, matrix.scales, matrix.size)
        except Exception as exc:  # memory, say: the exact scan still answers, only slower
            log.warning("building the approximate index for %s failed (%s); searching exactly", tenant_id, exc)
            return
        if self._tenants.get(tenant_id) is matrix:  # not forgotten meanwhile
            self._approximate[tenant_id] = built
            log.info("approximate index for %s: %d vectors in %d lists, built in %.1f s", tenant_id, built.rows,
                     built.lists, time.perf_counter() - started)

    def _index(self, tenant_id: str, matrix: _Matrix) -> ApproximateIndex | None:
        """The tenant's approximate index, caught up with rows added since it last looked (usually a few)."""
        self._index_if_due(tenant_id, matrix)
        index = self._approximate.get(tenant_id)
        if index is not None and index.rows < matrix.size:
            index.extend(matrix.vectors, matrix.scales, matrix.size)
        return index

    async def backfill(self, tenant_id: str) -> None:
        """Embed stored messages that have no current vector (imports, edits while the server was down)."""
        after = 0
        while True:
            try:
                rows = await self.storage.embeddings.missing(tenant_id, self.model, after_id=after,
                                                             limit=self.backfill_batch)
                self.missing[tenant_id] = len(rows)
                if not rows:
                    matrix = self._tenants.get(tenant_id)
                    if matrix is not None:
                        self._index_if_due(tenant_id, matrix)
                    return
                vectors = await self._embed_and_store(tenant_id, [(mid, text) for mid, _, text in rows])
            except Exception as exc:  # the embedding server or the database is down: words still find them
                log.warning("backfilling embeddings for %s stopped (%s); the next load retries", tenant_id, exc)
                return
            matrix = self._tenants.get(tenant_id)
            if matrix is not None:
                matrix.extend(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                              vectors)
            after = rows[-1][0]

    async def _embed_and_store(self, tenant_id: str, texts: list[tuple[int, str]]) -> Vectors:
        """Embed (message id, text) pairs and store their vectors with each text's hash, so an edit is noticed."""
        vectors = await self.embedder.embed_documents([text for _, text in texts])
        await self.storage.embeddings.put(tenant_id, self.model, [
            (mid, text_hash(text), vectors[i].astype(np.float32).tobytes(), int(vectors.shape[1]))
            for i, (mid, text) in enumerate(texts)])
        return vectors

    def add(self, message: MessageRecord) -> None:
        """Queue a new or edited message; a background task embeds the queue in batches."""
        self._queue.setdefault(message.tenant_id, {})[message.id] = message
        task = self._workers.get(message.tenant_id)
        if task is None or task.done():
            self._workers[message.tenant_id] = asyncio.ensure_future(self._drain(message.tenant_id))

    async def _drain(self, tenant_id: str) -> None:
        queue = self._queue.setdefault(tenant_id, {})
        while queue:
            batch = [queue.pop(mid) for mid in list(queue)[:self.backfill_batch]]
            try:
                vectors = await self._embed_and_store(tenant_id, [(m.id, m.text) for m in batch])
            except Exception as exc:  # the embedding server or the database: the next load's backfill catches up
                log.warning("embedding %d new message(s) failed (%s); backfill picks them up later", len(batch),
                            exc)
                continue
            matrix = self._tenants.get(tenant_id)
            if matrix is not None:
                kept = [i for i, m in enumerate(batch) if m.id not in queue]  # an edit queued meanwhile supersedes
                matrix.extend(np.array([batch[i].id for i in kept], np.int64),
                              np.array([batch[i].channel_id for i in kept], np.int64), vectors[kept])

    async def remove(self, tenant_id: str, message_id: int) -> None:
        self._queue.get(tenant_id, {}).pop(message_id, None)
        matrix = self._tenants.get(tenant_id)
        if matrix is not None:
            matrix.remove(message_id)
        await self.storage.embeddings.remove([message_id])

    async def close(self) -> None:
        """Stop embedding on shutdown: what is still queued has no vector yet, and the next start's backfill
        embeds it (the database knows which messages lack a current one)."""
        tasks = [t for t in (*self._workers.values(), *self._backfills.values(), *self._indexing.values())
                 if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.embedder.close()

    def forget(self, tenant_id: str) -> None:
        self._tenants.pop(tenant_id, None)
        self._approximate.pop(tenant_id, None)

    async def settle(self, tenant_id: str) -> None:
        """Wait for queued and backfill embedding work, then for the approximate index (tests, eval, benchmarks)."""
        matrix = await self._matrix(tenant_id)
        for tasks in (self._backfills, self._workers):
            task = tasks.get(tenant_id)
            if task is not None:
                await task
        while True:  # one built at load may already be outgrown by the backfill
            self._index_if_due(tenant_id, matrix)
            task = self._indexing.get(tenant_id)
            if task is None or task.done():
                return
            await task

    async def coverage(self, tenant_id: str) -> int:
        return (await self._matrix(tenant_id)).count

    async def search(self, tenant_id: str, query: Vectors, allowed: frozenset[int], k: int) -> Nearest:
        """The k nearest visible messages by cosine."""
        matrix = await self._matrix(tenant_id)
        n = matrix.size
        if n == 0 or query.shape[-1] != matrix.dim:
            return Nearest([])
        visible = matrix.visible(allowed)
        seen = int(np.count_nonzero(visible))
        if seen == 0:
            return Nearest([])
        index = self._index(tenant_id, matrix) if seen >= self.approximate_from else None
        near = index.candidates(query, visible, k * OVERSAMPLE) if index is not None else None
        how = ""
        if index is not None and near is not None and near.size >= k:
            rows, how = near, (f"an approximate index proposed the nearest {near.size} ({index.probes} of its "
                               f"{index.lists:,} lists probed)")
        else:  # a small tenant or reader, or too few visible rows in the probed lists: scan every visible row
            rows = np.flatnonzero(visible)
        scores = matrix.dot(query, rows)
        take = min(k, rows.size)
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.argsort(-scores[top], kind="stable")]
        return Nearest([(int(matrix.ids[rows[i]]), float(scores[i])) for i in top], how)

    async def similarities(self, tenant_id: str, query: Vectors, message_ids: list[int]) -> dict[int, float]:
        """The cosine of `query` with each of these messages that has a vector (fusion scores every word
        match by meaning too, not only the nearest few)."""
        matrix = await self._matrix(tenant_id)
        rows = np.fromiter((matrix.row_of[m] for m in set(message_ids) if m in matrix.row_of), dtype=np.int64)
        if rows.size == 0 or query.shape[-1] != matrix.dim:
            return {}
        scores = matrix.dot(query, rows)
        return {int(matrix.ids[r]): float(s) for r, s in zip(rows, scores, strict=True)}
