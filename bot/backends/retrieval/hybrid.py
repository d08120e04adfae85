"""Hybrid retrieval: words (BM25, or any lexical `Retriever`), the workspace's own vocabulary
(pseudo-relevance feedback), and meaning (dense embeddings), fused by a weighted sum of scores.

Each candidate's fused score is (1 - w) x its BM25 score as a share of the best word match, plus w x
its cosine similarity to the question (w = `WHYBOT_SEMANTIC_WEIGHT`), both in [0, 1], times 100. The
cosine is computed for every word match too, so a source found by words alone is not scored as if
meaning found nothing. Chosen over reciprocal rank fusion by measurement (QUALITY.md): RRF rewards
sitting in both lists at any depth, so a message at word rank 15 and meaning rank 6 outranked the best
word match, and its near-equal scores hid how much better the top match was. Every hit keeps its rank
in each list, so the Why? can say which half found it. The dense half is time-boxed: a slow or failing
embedding server costs the answer its semantic list, never its reply.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from bot import text as textlib
from bot.backends.embeddings import EmbeddingUnavailable, Vectors
from bot.backends.retrieval.base import Hit, Retriever, SearchFilters, SearchResult
from bot.backends.retrieval.dense import DenseIndex
from bot.backends.retrieval.expansion import feedback_terms
from storage import DocumentRecord, MessageRecord, Storage

CANDIDATES = 20  # per list; fusion needs more than the k finally shown
SEMANTIC_WEIGHT = 0.75  # share of meaning in the fused score (WHYBOT_SEMANTIC_WEIGHT); QUALITY.md says why
EXPANDED_WEIGHT = 0.5  # a match found only through the workspace's related words counts half
HYDRATE_SHARE = 3  # records read for meaning-only matches: this many times the k shown (later ones rarely rank)


@dataclass(frozen=True, slots=True)
class _Meaning:
    """The dense half's result before fusion: the question's vector, the nearest (id, cosine), and the
    records read ahead for the ones words did not find."""

    vector: Vectors
    nearest: list[tuple[int, float]]
    records: dict[int, MessageRecord]


class HybridRetriever:
    def __init__(self, lexical: Retriever, storage: Storage, dense: DenseIndex | None = None, *,
                 expansion: bool = True, candidates: int = CANDIDATES,
                 semantic_weight: float = SEMANTIC_WEIGHT) -> None:
        self.lexical = lexical
        self.storage = storage
        self.dense = dense
        self.expansion = expansion
        self.candidates = candidates
        self.semantic_weight = semantic_weight
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

    async def close(self) -> None:
        if self.dense is not None:
            await self.dense.close()

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
                     k: int = 5, filters: SearchFilters | None = None, words_only: bool = False) -> SearchResult:
        if words_only:
            return await self._words(tenant_id, query, allowed_channels, k, filters)
        depth = max(k, self.candidates)
        base = await self._words(tenant_id, query, allowed_channels, depth, filters)
        lists: dict[str, list[Hit]] = {"lexical": base.hits}
        added = feedback_terms(base.query_terms, base.hits) if self.expansion and base.hits else {}
        # The widened word search and the meaning step need only the first word matches: run them together,
        # so one's storage read overlaps the other's (the two reads were half the dense step's cost at 1M).
        expanded, meaning = await asyncio.gather(
            self._expanded(tenant_id, query, added, allowed_channels, depth, filters),
            self._nearest(tenant_id, query, allowed_channels, depth, k, filters, base))
        if expanded is not None:
            lists["expanded"] = expanded
            base.expansion = added
        similarity: dict[str, float] = {}
        if meaning is not None:
            lists["semantic"], similarity = await self._scored(tenant_id, meaning, lists)
        if similarity:
            base.semantic += (f"; each match scored {1 - self.semantic_weight:.0%} on words (BM25 as a share of "
                              f"the best) and {self.semantic_weight:.0%} on meaning (cosine similarity)")
        base.hits = await self._hydrate(self._fuse(lists, similarity, base.query_terms), k, filters,
                                        base.query_terms, meaning.records if meaning is not None else {})
        base.backend = self.name
        return base

    async def _expanded(self, tenant_id: str, query: str, added: dict[str, float], allowed: frozenset[int],
                        depth: int, filters: SearchFilters | None) -> list[Hit] | None:
        """The word search widened with the workspace's related words (None: nothing to add)."""
        if not added:
            return None
        return (await self._words(tenant_id, f"{query} {' '.join(added)}", allowed, depth, filters)).hits

    async def _words(self, tenant_id: str, query: str, allowed: frozenset[int], k: int,
                     filters: SearchFilters | None) -> SearchResult:
        """The lexical engine's search without the question's own message (`SearchFilters.exclude`)."""
        found = await self.lexical.search(tenant_id, query, allowed, k=k, filters=filters)
        found.hits = [h for h in found.hits if not _excluded(h.message, filters)]
        return found

    async def _nearest(self, tenant_id: str, query: str, allowed: frozenset[int], depth: int, k: int,
                       filters: SearchFilters | None, result: SearchResult) -> _Meaning | None:
        """Nearest messages by meaning, and the stored records of the first few the word search did not
        bring: fusion rarely ranks deeper ones into the shown k, so their one storage read is done here,
        while the widened word search reads its own. None when there are no vectors or no embedder."""
        if self.dense is None:
            return None
        started = time.perf_counter()
        try:
            vector = await self.dense.embedder.embed_query(query)
        except EmbeddingUnavailable as exc:
            result.semantic = f"skipped: {exc}; answered from words alone"
            result.notes.append(result.semantic)
            return None
        channels = allowed if filters is None or filters.channel_ids is None else allowed & filters.channel_ids
        wanted = depth * (4 if filters is not None and filters.active else 1)  # room for author/time filters
        found = await self.dense.search(tenant_id, vector, channels, wanted)
        known = {h.message.id for h in result.hits if h.message is not None}
        ahead = [mid for mid, _ in found.found if mid not in known][:k * HYDRATE_SHARE]
        records = {m.id: m for m in await self.storage.messages.get(ahead)} if ahead else {}
        missing = self.dense.missing.get(tenant_id, 0)
        result.semantic = f"used ({self.dense.model}, {(time.perf_counter() - started) * 1000:.0f} ms)" + (
            f"; {found.approximate}, scored exactly" if found.approximate else "") + (
            f"; {missing}+ messages not embedded yet" if missing else "")
        return _Meaning(vector, found.found, records)

    async def _scored(self, tenant_id: str, meaning: _Meaning, lists: dict[str, list[Hit]]
                      ) -> tuple[list[Hit], dict[str, float]]:
        """The meaning list as unhydrated hits (id and similarity), and the similarity of every word match
        too, for fusion."""
        assert self.dense is not None
        near = dict(meaning.nearest)
        words_only = [h.message.id for hits in lists.values() for h in hits
                      if h.message is not None and h.message.id not in near]
        near |= await self.dense.similarities(tenant_id, meaning.vector, words_only)
        similarity = {f"message:{mid}": s for mid, s in near.items()}
        hits = [Hit(f"message:{mid}", round(s, 4), [], semantic_score=round(s, 4)) for mid, s in meaning.nearest]
        return hits, similarity

    async def _hydrate(self, hits: list[Hit], k: int, filters: SearchFilters | None,
                       query_terms: list[str], records: dict[int, MessageRecord]) -> list[Hit]:
        """Attach the records of the hits only the dense list found (read ahead by `_nearest`, the rest
        now); drop deleted ones, whybot's replies and those outside the question's author/time filters;
        stop at k."""
        ids = [i for h in hits[:k * HYDRATE_SHARE] if h.message is None and h.document is None
               and (i := int(h.source_id.split(":")[1])) not in records]
        if ids:
            records = records | {m.id: m for m in await self.storage.messages.get(ids)}
        out: list[Hit] = []
        for hit in hits:
            if hit.message is None and hit.document is None:
                m = records.get(int(hit.source_id.split(":")[1]))
                if m is None or m.deleted or m.is_own_reply or _excluded(m, filters):
                    continue
                if filters is not None and not filters.allows(m.channel_id, m.user_id, m.created_at):
                    continue
                hit = replace(hit, message=m, matched_terms=textlib.overlap(query_terms, m.text))
            out.append(hit)
            if len(out) == k:
                break
        return out

    def _fuse(self, lists: dict[str, list[Hit]], similarity: dict[str, float],
              query_terms: list[str]) -> list[Hit]:
        """Every candidate of any list, by (1 - w) x word score + w x meaning, in points out of 100."""
        words: dict[str, float] = {}
        for name, weight in (("lexical", 1.0), ("expanded", EXPANDED_WEIGHT)):
            hits = lists.get(name, [])
            best = max((h.score for h in hits), default=0.0)
            for hit in hits if best > 0 else []:
                words[hit.source_id] = max(words.get(hit.source_id, 0.0), weight * hit.score / best)
        w = self.semantic_weight
        first: dict[str, Hit] = {}
        ranks: dict[str, dict[str, int]] = {}
        for name, hits in lists.items():
            for position, hit in enumerate(hits, start=1):
                first.setdefault(hit.source_id, hit)
                ranks.setdefault(hit.source_id, {})[name] = position
        # A source with no vector (a document passage, a message not embedded yet) is judged on its words
        # alone: counting its unknown meaning as 0 would put the best-matching document below any message
        # that is merely close in meaning.
        fused = {sid: 100 * ((1 - w) * words.get(sid, 0.0) + w * max(0.0, similarity[sid]) if sid in similarity
                             else words.get(sid, 0.0)) for sid in first}
        out: list[Hit] = []
        for source_id in sorted(fused, key=lambda s: (-fused[s], s)):
            hit, rank = first[source_id], ranks[source_id]
            matched = hit.matched_terms if "lexical" in rank or hit.message is None else \
                textlib.overlap(query_terms, hit.text)
            cosine = similarity.get(source_id)
            out.append(Hit(source_id, round(fused[source_id], 3), matched,
                           message=hit.message, document=hit.document, passage=hit.passage,
                           lexical_rank=rank.get("lexical"), semantic_rank=rank.get("semantic"),
                           semantic_score=round(cosine, 4) if cosine is not None else None,
                           expanded_rank=rank.get("expanded")))
        return out


def _excluded(message: MessageRecord | None, filters: SearchFilters | None) -> bool:
    """The question's own message (`SearchFilters.exclude`)."""
    return (message is not None and filters is not None
            and (message.channel_external_id, message.external_id) in filters.exclude)
