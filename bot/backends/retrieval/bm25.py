"""In-process BM25 retrieval with bm25s, per tenant, in segments.

bm25s indexes are immutable, so new content goes into a small "delta" segment that is re-indexed
(milliseconds) when it changed and a search comes in; when the delta grows past a threshold it is
frozen as a segment of its own. Each segment scores with its own statistics, as Lucene segments
do; the rationale names the segment so a score can be traced. Deletions and edits are tombstones
until the tenant is rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field

import bm25s
import numpy as np
import numpy.typing as npt

from bot import text as textlib
from bot.backends.retrieval.base import Hit, SearchResult
from storage import DocumentRecord, MessageRecord, Storage

log = logging.getLogger(__name__)

MESSAGE, DOCUMENT = 0, 1
TENANT_WIDE = -1
PASSAGE_WORDS = 120


def document_passages(document: DocumentRecord) -> list[str]:
    """Split a document into ~120-word passages so a citation points at the part that answers."""
    body = " ".join(document.text.split())
    words = body.split(" ") if body else []
    passages = [" ".join(words[i:i + PASSAGE_WORDS]) for i in range(0, len(words), PASSAGE_WORDS)]
    return passages or [document.title]


@dataclass
class _Segment:
    """One immutable bm25s index over a run of consecutive slots."""

    first_slot: int
    model: bm25s.BM25
    size: int


def _build(tokens: list[list[str]]) -> bm25s.BM25:
    model = bm25s.BM25()
    model.index([t or [""] for t in tokens], show_progress=False)
    return model


@dataclass
class _TenantIndex:
    kind: list[int] = field(default_factory=list)
    ref: list[int] = field(default_factory=list)
    part: list[int] = field(default_factory=list)
    channel: list[int] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)
    slot_of: dict[tuple[int, int, int], int] = field(default_factory=dict)
    segments: list[_Segment] = field(default_factory=list)
    delta_tokens: list[list[str]] = field(default_factory=list)
    delta: _Segment | None = None
    delta_dirty: bool = False
    arrays: tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | None = None
    messages: int = 0
    documents: int = 0

    @property
    def frozen_slots(self) -> int:
        return len(self.kind) - len(self.delta_tokens)

    def append(self, kind: int, ref: int, part: int, channel: int, tokens: list[str]) -> None:
        key = (kind, ref, part)
        if key in self.slot_of:
            self.kill(key)
        self.slot_of[key] = len(self.kind)
        self.kind.append(kind)
        self.ref.append(ref)
        self.part.append(part)
        self.channel.append(channel)
        self.alive.append(True)
        self.delta_tokens.append(tokens)
        self.delta_dirty = True
        self.arrays = None
        if kind == MESSAGE:
            self.messages += 1
        else:
            self.documents += 1

    def kill(self, key: tuple[int, int, int]) -> bool:
        slot = self.slot_of.pop(key, None)
        if slot is None or not self.alive[slot]:
            return False
        self.alive[slot] = False
        self.arrays = None
        if key[0] == MESSAGE:
            self.messages -= 1
        else:
            self.documents -= 1
        return True

    def freeze(self) -> None:
        """Turn the delta into a permanent segment."""
        if not self.delta_tokens:
            return
        first = self.frozen_slots
        self.segments.append(_Segment(first, _build(self.delta_tokens), len(self.delta_tokens)))
        self.delta_tokens = []
        self.delta = None
        self.delta_dirty = False

    def live_segments(self) -> list[_Segment]:
        if self.delta_dirty:
            self.delta = (_Segment(self.frozen_slots, _build(self.delta_tokens), len(self.delta_tokens))
                          if self.delta_tokens else None)
            self.delta_dirty = False
        return self.segments + ([self.delta] if self.delta is not None else [])

    def columns(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        if self.arrays is None:
            self.arrays = (np.asarray(self.channel, dtype=np.int64), np.asarray(self.alive, dtype=np.bool_))
        return self.arrays


class BM25Retriever:
    """The default retriever: loads a tenant's history from storage on first use, then stays current."""

    name = "bm25s"

    def __init__(self, storage: Storage, *, delta_limit: int = 5000) -> None:
        self.storage = storage
        self.delta_limit = delta_limit
        self._tenants: dict[str, _TenantIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _index(self, tenant_id: str) -> _TenantIndex:
        found = self._tenants.get(tenant_id)
        if found is not None:
            return found
        lock = self._locks.setdefault(tenant_id, asyncio.Lock())
        async with lock:
            if tenant_id not in self._tenants:
                self._tenants[tenant_id] = await self._load(tenant_id)
        return self._tenants[tenant_id]

    async def _load(self, tenant_id: str) -> _TenantIndex:
        index = _TenantIndex()
        async for batch in self.storage.messages.stream(tenant_id):
            for m in batch:
                if m.is_own_reply:
                    continue
                index.append(MESSAGE, m.id, 0, m.channel_id, textlib.terms(m.text))
        for d in await self.storage.messages.documents(tenant_id):
            self._append_document(index, d)
        index.freeze()
        log.info("indexed tenant %s: %d messages, %d document passages", tenant_id, index.messages,
                 index.documents)
        return index

    async def rebuild(self, tenant_id: str) -> None:
        """Drop tombstones and merge segments by re-reading the tenant from storage."""
        fresh = await self._load(tenant_id)
        self._tenants[tenant_id] = fresh

    @staticmethod
    def _append_document(index: _TenantIndex, document: DocumentRecord) -> None:
        channel = document.channel_id if document.channel_id is not None else TENANT_WIDE
        for key in [k for k in index.slot_of if k[0] == DOCUMENT and k[1] == document.id]:
            index.kill(key)
        for part, passage in enumerate(document_passages(document)):
            index.append(DOCUMENT, document.id, part, channel, textlib.terms(f"{document.title}. {passage}"))

    async def add_message(self, message: MessageRecord) -> None:
        if message.tenant_id not in self._tenants:
            return  # loaded from storage, message included, on first search
        index = self._tenants[message.tenant_id]
        if message.is_own_reply:
            return
        if message.deleted:
            index.kill((MESSAGE, message.id, 0))
            return
        index.append(MESSAGE, message.id, 0, message.channel_id, textlib.terms(message.text))
        self._maybe_freeze(index)

    async def add_document(self, document: DocumentRecord) -> None:
        if document.tenant_id in self._tenants:
            index = self._tenants[document.tenant_id]
            self._append_document(index, document)
            self._maybe_freeze(index)

    def _maybe_freeze(self, index: _TenantIndex) -> None:
        if len(index.delta_tokens) >= max(self.delta_limit, index.frozen_slots // 10):
            index.freeze()

    async def remove_message(self, tenant_id: str, message_id: int) -> None:
        index = self._tenants.get(tenant_id)
        if index is not None:
            index.kill((MESSAGE, message_id, 0))

    async def forget_tenant(self, tenant_id: str) -> None:
        self._tenants.pop(tenant_id, None)

    async def warm(self, tenant_id: str) -> None:
        await self._index(tenant_id)

    async def search(self, tenant_id: str, query: str, allowed_channels: frozenset[int], *,
                     k: int = 5) -> SearchResult:
        index = await self._index(tenant_id)
        query_terms = list(dict.fromkeys(textlib.terms(query)))
        result = SearchResult(hits=[], query_terms=query_terms, searched_messages=index.messages,
                              searched_documents=index.documents, backend=self.name)
        if not query_terms or not index.kind:
            return result
        ranked, withheld = self._rank(index, query_terms, allowed_channels, k)
        result.withheld = withheld
        result.term_weights = self._idf(index, query_terms)
        result.hits = await self._hydrate(tenant_id, index, ranked, query_terms)
        return result

    def _rank(self, index: _TenantIndex, query_terms: list[str], allowed: frozenset[int], k: int
              ) -> tuple[list[tuple[float, int]], int]:
        channels, alive = index.columns()
        allowed_codes = np.fromiter([*allowed, TENANT_WIDE], dtype=np.int64)
        candidates: list[tuple[float, int]] = []
        hidden_scores: list[npt.NDArray[np.float32]] = []
        for segment in index.live_segments():
            ids = segment.model.get_tokens_ids(query_terms)
            if not ids:
                continue
            scores = segment.model.get_scores(ids)
            window = slice(segment.first_slot, segment.first_slot + segment.size)
            live = alive[window]
            visible = live & np.isin(channels[window], allowed_codes)
            hidden_scores.append(scores[live & ~visible])
            shown = np.where(visible, scores, 0.0)
            take = min(k, int(np.count_nonzero(shown)))
            if take == 0:
                continue
            top = np.argpartition(-shown, take - 1)[:take]
            candidates.extend((float(shown[i]), segment.first_slot + int(i)) for i in top)
        candidates.sort(key=lambda c: (-c[0], c[1]))
        best = candidates[:k]
        floor = best[-1][0] if len(best) == k else 0.0
        withheld = sum(int(np.count_nonzero(h > max(floor, 0.0))) for h in hidden_scores)
        return best, min(withheld, k)

    @staticmethod
    def _idf(index: _TenantIndex, query_terms: list[str]) -> dict[str, float]:
        """BM25's idf per query term over the tenant (a term found nowhere gets the highest weight)."""
        total = len(index.kind)
        df = dict.fromkeys(query_terms, 0)
        for segment in index.live_segments():
            indptr = segment.model.scores["indptr"]
            for term in query_terms:
                token = segment.model.vocab_dict.get(term)
                if token is not None:
                    df[term] += int(indptr[token + 1] - indptr[token])
        return {t: round(math.log(1 + (total - n + 0.5) / (n + 0.5)), 4) for t, n in df.items()}

    async def _hydrate(self, tenant_id: str, index: _TenantIndex, ranked: list[tuple[float, int]],
                       query_terms: list[str]) -> list[Hit]:
        message_ids = [index.ref[slot] for _, slot in ranked if index.kind[slot] == MESSAGE]
        messages = {m.id: m for m in await self.storage.messages.get(message_ids)}
        doc_ids = {index.ref[slot] for _, slot in ranked if index.kind[slot] == DOCUMENT}
        documents = {d.id: d for d in await self.storage.messages.documents(tenant_id, doc_ids)} if doc_ids else {}
        hits: list[Hit] = []
        for score, slot in ranked:
            ref = index.ref[slot]
            if index.kind[slot] == MESSAGE:
                message = messages.get(ref)
                if message is None or message.deleted:
                    continue
                hits.append(Hit(message.source_id, round(score, 4), textlib.overlap(query_terms, message.text),
                                message=message))
            else:
                document = documents.get(ref)
                if document is None:
                    continue
                passage = document_passages(document)[index.part[slot]]
                hits.append(Hit(f"{document.source_id}#{index.part[slot]}", round(score, 4),
                                textlib.overlap(query_terms, f"{document.title} {passage}"),
                                document=document, passage=passage))
        return hits
