"""Hybrid retrieval: words (BM25, or any lexical `Retriever`), the workspace's own vocabulary
(pseudo-relevance feedback), and meaning (dense embeddings), fused by reciprocal rank fusion.

RRF adds 1 / (60 + rank) per list a source appears in, so no list's score scale has to be
calibrated against another's, and a source found by two lists beats one found by either alone.
Every hit keeps its rank in each list, so the Why? can say which half found it. The dense half is
time-boxed: a slow or failing embedding server costs the answer its semantic list, never its reply.
"""

from __future__ import annotations

import time
from dataclasses import replace

from bot import text as textlib
from bot.backends.embeddings import EmbeddingUnavailable
from bot.backends.retrieval.base import Hit, Retriever, SearchFilters, SearchResult
from bot.backends.retrieval.dense import DenseIndex
from bot.backends.retrieval.expansion import feedback_terms
from storage import DocumentRecord, MessageRecord, Storage

RRF_K = 60
CANDIDATES = 20  # per list; fusion needs more than the k finally shown
WEIGHTS = {"lexical": 1.0, "expanded": 0.5, "semantic": 1.0}


class HybridRetriever:
    def __init__(self, lexical: Retriever, storage: Storage, dense: DenseIndex | None = None, *,
                 expansion: bool = True, candidates: int = CANDIDATES,
                 weights: dict[str, float] | None = None) -> None:
        self.lexical = lexical
        self.storage = storage
        self.dense = dense
        self.expansion = expansion
        self.candidates = candidates
        self.weights = weights or WEIGHTS
        self.name = lexical.name + ("+prf" if expansion else "") + ("+dense" if dense is not None else "")

    # keeping current: the lexical index and the vectors follow every stored, edited and deleted message
    async def add_message(self, message: MessageRecord) -> None:
        await self.lexical.add_message(message)
        if self.dense is not None and not message.is_own_reply:
            if message.deleted:
                await self.dense.remove(message.tenant_id, message.id)
            else:
                self.dense.add(message)

    async def remove_message(self, tenant_id: str, message_id: int) -> None:
        await self.lexical.remove_message(tenant_id, message_id)
        if self.dense is not None:
            await self.dense.remove(tenant_id, message_id)

    async def add_document(self, document: DocumentRecord) -> None:
        await self.lexical.add_document(document)

    async def forget_tenant(self, tenant_id: str) -> None:
        await self.lexical.forget_tenant(tenant_id)
        if self.dense is not None:
            self.dense.forget(tenant_id)

    async def warm(self, tenant_id: str) -> None:
        await self.lexical.warm(tenant_id)
        if self.dense is not None:
            await self.dense.coverage(tenant_id)

    async def settle(self, tenant_id: str) -> None:
        """Load the tenant and wait until every stored message has its vector (eval, tests, benchmarks;
        serving never waits for this)."""
        await self.lexical.warm(tenant_id)
        if self.dense is not None:
            await self.dense.settle(tenant_id)

    async def search(self, tenant_id: str, query: str, allowed_channels: frozenset[int], *,
                     k: int = 5, filters: SearchFilters | None = None) -> SearchResult:
        depth = max(k, self.candidates)
        base = await self.lexical.search(tenant_id, query, allowed_channels, k=depth, filters=filters)
        lists: dict[str, list[Hit]] = {"lexical": base.hits}
        if self.expansion and base.hits:
            added = feedback_terms(base.query_terms, base.hits)
            if added:
                expanded = await self.lexical.search(tenant_id, f"{query} {' '.join(added)}", allowed_channels,
                                                     k=depth, filters=filters)
                lists["expanded"] = expanded.hits
                base.expansion = added
        if self.dense is not None:
            lists["semantic"] = await self._semantic(tenant_id, query, allowed_channels, depth, filters, base)
        base.hits = await self._hydrate(self._fuse(lists, base.query_terms), k, filters, base.query_terms)
        base.backend = self.name
        return base

    async def _semantic(self, tenant_id: str, query: str, allowed: frozenset[int], depth: int,
                        filters: SearchFilters | None, result: SearchResult) -> list[Hit]:
        """Nearest messages by meaning, as unhydrated hits (id and similarity): only the ones that
        survive fusion are read from storage."""
        assert self.dense is not None
        started = time.perf_counter()
        try:
            vector = await self.dense.embedder.embed_query(query)
        except EmbeddingUnavailable as exc:
            result.semantic = f"skipped: {exc}; answered from words alone"
            result.notes.append(result.semantic)
            return []
        channels = allowed if filters is None or filters.channel_ids is None else allowed & filters.channel_ids
        wanted = depth * (4 if filters is not None and filters.active else 1)  # room for author/time filters
        nearest = await self.dense.search(tenant_id, vector, channels, wanted)
        missing = self.dense.missing.get(tenant_id, 0)
        result.semantic = f"used ({self.dense.model}, {(time.perf_counter() - started) * 1000:.0f} ms)" + (
            f"; {missing}+ messages not embedded yet" if missing else "")
        return [Hit(f"message:{mid}", round(similarity, 4), [], semantic_score=round(similarity, 4))
                for mid, similarity in nearest]

    async def _hydrate(self, hits: list[Hit], k: int, filters: SearchFilters | None,
                       query_terms: list[str]) -> list[Hit]:
        """Read the messages only the dense list found; drop deleted ones, whybot's replies and those
        outside the question's author/time filters; stop at k."""
        ids = [int(h.source_id.split(":")[1]) for h in hits[:k * 3] if h.message is None and h.document is None]
        records = {m.id: m for m in await self.storage.messages.get(ids)} if ids else {}
        out: list[Hit] = []
        for hit in hits:
            if hit.message is None and hit.document is None:
                m = records.get(int(hit.source_id.split(":")[1]))
                if m is None or m.deleted or m.is_own_reply:
                    continue
                if filters is not None and not filters.allows(m.channel_id, m.user_id, m.created_at):
                    continue
                hit = replace(hit, message=m, matched_terms=textlib.overlap(query_terms, m.text))
            out.append(hit)
            if len(out) == k:
                break
        return out

    def _fuse(self, lists: dict[str, list[Hit]], query_terms: list[str]) -> list[Hit]:
        fused: dict[str, float] = {}
        first: dict[str, Hit] = {}
        ranks: dict[str, dict[str, int]] = {}
        similarity: dict[str, float] = {}
        for name, hits in lists.items():
            for position, hit in enumerate(hits, start=1):
                fused[hit.source_id] = fused.get(hit.source_id, 0.0) + self.weights.get(name, 1.0) / (RRF_K + position)
                first.setdefault(hit.source_id, hit)
                ranks.setdefault(hit.source_id, {})[name] = position
                if hit.semantic_score is not None:
                    similarity[hit.source_id] = hit.semantic_score
        order = sorted(fused, key=lambda s: (-fused[s], s))
        out: list[Hit] = []
        for source_id in order:
            hit, rank = first[source_id], ranks[source_id]
            matched = hit.matched_terms if "lexical" in rank or hit.message is None else \
                textlib.overlap(query_terms, hit.text)
            out.append(Hit(source_id, round(fused[source_id] * 1000, 3), matched,
                           message=hit.message, document=hit.document, passage=hit.passage,
                           lexical_rank=rank.get("lexical"), semantic_rank=rank.get("semantic"),
                           semantic_score=similarity.get(source_id),
                           expanded_rank=rank.get("expanded")))
        return out
