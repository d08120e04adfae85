"""In-process BM25 retrieval with bm25s, per tenant, in segments.

bm25s indexes are immutable, so new content goes into a small "delta" segment that is re-indexed
(milliseconds, at most `delta_limit` documents) when it changed and a search comes in; when it is
full it is frozen as a segment of its own. Each segment scores with its own statistics, as Lucene
segments do. Deletions and edits are tombstones; past `max_segments` the tenant is rebuilt from
storage in the background (compaction), with changes made meanwhile replayed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import bm25s
import numpy as np
import numpy.typing as npt
from bm25s.tokenization import Tokenized

from bot import text as textlib
from bot.backends.retrieval.base import Hit, SearchFilters, SearchResult
from storage import DocumentRecord, MessageRecord, Storage
from storage.search import COORDINATION, K1, B

log = logging.getLogger(__name__)
_K = TypeVar("_K")
_V = TypeVar("_V")
_Matches = tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]  # a segment's matching slots and their scores

MESSAGE, DOCUMENT = 0, 1
TENANT_WIDE = -1
CATCH_UP_BATCH = 5000
CLOCK_SKEW = timedelta(seconds=5)  # replicas' clocks differ a little; re-reading a change is harmless
PASSAGE_WORDS = 120
READABLE_SETS = 16  # channel sets whose masks a segment keeps


def document_passages(document: DocumentRecord) -> list[str]:
    """Split a document into ~120-word passages so a citation points at the part that answers."""
    body = " ".join(document.text.split())
    words = body.split(" ") if body else []
    passages = [" ".join(words[i:i + PASSAGE_WORDS]) for i in range(0, len(words), PASSAGE_WORDS)]
    return passages or [document.title]


_Row = tuple[int, int, int, int, str, int | None, datetime | None]  # kind, ref, part, channel, text, author, at
_Op = MessageRecord | DocumentRecord | int  # add/replace a message or document; int = delete message id


@dataclass
class _Segment:
    """One immutable bm25s index over a run of consecutive slots."""

    first_slot: int
    model: bm25s.BM25
    size: int
    readable: dict[frozenset[int], npt.NDArray[np.bool_]] = field(default_factory=dict)

    def readable_by(self, allowed: frozenset[int], channels: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of the segment's slots lie in `allowed` channels (or are tenant-wide). A slot's channel never
        changes, so the mask is kept per channel set: the readers of a workspace share a few such sets, and
        at a million messages the membership test cost more than the scoring."""
        mask = self.readable.get(allowed)
        if mask is None:
            codes = np.fromiter([*allowed, TENANT_WIDE], dtype=np.int64)
            mask = np.isin(channels[self.first_slot:self.first_slot + self.size], codes)
            _keep(self.readable, allowed, mask)
        return mask


def _keep(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Remember `value` for one of the last READABLE_SETS channel sets (the oldest is forgotten first)."""
    if key not in cache and len(cache) >= READABLE_SETS:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _build(docs: list[list[int]], terms: list[str]) -> bm25s.BM25:
    """Index token-id lists with a vocabulary local to the segment (small segments stay small)."""
    local: dict[int, int] = {}
    ids = [[local.setdefault(t, len(local)) for t in doc] for doc in docs]
    empty = local.setdefault(-1, len(local))
    vocab = {("" if g == -1 else terms[g]): lid for g, lid in local.items()}
    model = bm25s.BM25(k1=K1, b=B)  # the PostgreSQL engine's parameters: either engine ranks alike
    model.index(Tokenized(ids=[doc or [empty] for doc in ids], vocab=vocab), create_empty_token=False,
                show_progress=False)
    return model


def _key(kind: int, ref: int, part: int) -> int:
    return ((ref << 20 | part) << 1) | kind


@dataclass
class _TenantIndex:
    """Slot columns in compact arrays (a million messages cost megabytes, not a gigabyte)."""

    kind: array[int] = field(default_factory=lambda: array("b"))
    ref: array[int] = field(default_factory=lambda: array("q"))
    part: array[int] = field(default_factory=lambda: array("i"))
    channel: array[int] = field(default_factory=lambda: array("q"))
    author: array[int] = field(default_factory=lambda: array("q"))  # storage user id, -1 for none
    created: array[int] = field(default_factory=lambda: array("q"))  # epoch seconds
    alive: bytearray = field(default_factory=bytearray)
    slot_of: dict[int, int] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)
    segments: list[_Segment] = field(default_factory=list)
    delta_tokens: list[list[int]] = field(default_factory=list)
    delta: _Segment | None = None
    delta_dirty: bool = False
    arrays: tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]
                  ] | None = None
    messages: int = 0
    documents: int = 0
    version: int = 0  # bumped by every add and delete
    visible_counts: dict[frozenset[int], tuple[int, int]] = field(default_factory=dict)  # set -> (version, n)
    max_message_id: int = 0
    synced_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def frozen_slots(self) -> int:
        return len(self.kind) - len(self.delta_tokens)

    def token_ids(self, tokens: list[str]) -> list[int]:
        vocab, terms = self.vocab, self.terms
        out = []
        for token in tokens:
            tid = vocab.get(token)
            if tid is None:
                tid = vocab[token] = len(terms)
                terms.append(token)
            out.append(tid)
        return out

    def append(self, kind: int, ref: int, part: int, channel: int, tokens: list[str], author: int | None = None,
               created: datetime | None = None) -> None:
        key = _key(kind, ref, part)
        if key in self.slot_of:
            self.kill(kind, ref, part)
        self.slot_of[key] = len(self.kind)
        self.kind.append(kind)
        self.ref.append(ref)
        self.part.append(part)
        self.channel.append(channel)
        self.author.append(-1 if author is None else author)
        self.created.append(int(created.timestamp()) if created is not None else 0)
        self.alive.append(1)
        self.delta_tokens.append(self.token_ids(tokens))
        self.delta_dirty = True
        self.arrays = None
        self.version += 1
        if kind == MESSAGE:
            self.messages += 1
        else:
            self.documents += 1

    def kill(self, kind: int, ref: int, part: int) -> bool:
        slot = self.slot_of.pop(_key(kind, ref, part), None)
        if slot is None or not self.alive[slot]:
            return False
        self.alive[slot] = 0
        self.arrays = None
        self.version += 1
        if kind == MESSAGE:
            self.messages -= 1
        else:
            self.documents -= 1
        return True

    def document_parts(self, document_id: int) -> list[int]:
        parts = []
        part = 0
        while _key(DOCUMENT, document_id, part) in self.slot_of:
            parts.append(part)
            part += 1
        return parts

    def freeze(self) -> None:
        """Turn the delta into a permanent segment."""
        if not self.delta_tokens:
            return
        first = self.frozen_slots
        self.segments.append(_Segment(first, _build(self.delta_tokens, self.terms), len(self.delta_tokens)))
        self.delta_tokens = []
        self.delta = None
        self.delta_dirty = False

    def live_segments(self) -> list[_Segment]:
        if self.delta_dirty:
            self.delta = (_Segment(self.frozen_slots, _build(self.delta_tokens, self.terms), len(self.delta_tokens))
                          if self.delta_tokens else None)
            self.delta_dirty = False
        return self.segments + ([self.delta] if self.delta is not None else [])

    def columns(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.int64],
                               npt.NDArray[np.int64]]:
        """(channel, alive, author, created) per slot, as numpy views for masking."""
        if self.arrays is None:
            self.arrays = (np.array(self.channel, dtype=np.int64),
                           np.frombuffer(bytes(self.alive), dtype=np.uint8).astype(np.bool_),
                           np.array(self.author, dtype=np.int64), np.array(self.created, dtype=np.int64))
        return self.arrays


class BM25Retriever:
    """The default retriever: loads a tenant's history from storage on first use, then stays current."""

    name = "bm25s"

    def __init__(self, storage: Storage, *, delta_limit: int = 2000, max_segments: int = 64,
                 sync_interval: float = 2.0) -> None:
        self.storage = storage
        self.sync_interval = sync_interval
        self.delta_limit = delta_limit
        self.max_segments = max_segments
        self._tenants: dict[str, _TenantIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, list[_Op]] = {}
        self._compactions: dict[str, asyncio.Future[None]] = {}
        # The last query's scores per segment: ask searches the same words again for the asker's private
        # channels and, when the channel in view has nothing, everywhere; only the masks differ.
        self._recent: tuple[tuple[tuple[str, float], ...], list[tuple[_Segment, _Matches | None]]] = ((), [])

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
        """Read the tenant from storage and index it in a worker thread, so the event loop keeps
        acknowledging Slack and Teams while a large history is indexed. Changes that arrive meanwhile
        are queued and replayed on the new index."""
        self._pending[tenant_id] = []
        started = datetime.now(UTC) - CLOCK_SKEW
        try:
            rows: list[_Row] = []
            async for batch in self.storage.messages.index_rows(tenant_id):
                rows.extend((MESSAGE, message_id, 0, channel_id, text, author, created)
                            for message_id, channel_id, text, author, created in batch)
            for d in await self.storage.messages.documents(tenant_id):
                channel = d.channel_id if d.channel_id is not None else TENANT_WIDE
                rows.extend((DOCUMENT, d.id, part, channel, f"{d.title}. {passage}", None, d.updated_at)
                            for part, passage in enumerate(document_passages(d)))
            index = await asyncio.to_thread(self._build, rows)
        finally:
            pending = self._pending.pop(tenant_id, [])
        index.max_message_id = max((ref for kind, ref, *_ in rows if kind == MESSAGE), default=0)
        index.synced_at = started
        for op in pending:
            self._apply(index, op)
        log.info("indexed tenant %s: %d messages, %d document passages, %d changes replayed", tenant_id,
                 index.messages, index.documents, len(pending))
        return index

    @staticmethod
    def _build(rows: list[_Row]) -> _TenantIndex:
        index = _TenantIndex()
        for kind, ref, part, channel, text, author, created in rows:
            index.append(kind, ref, part, channel, textlib.terms(text), author, created)
        index.freeze()
        return index

    async def rebuild(self, tenant_id: str) -> None:
        """Drop tombstones and merge segments by re-reading the tenant from storage."""
        self._tenants[tenant_id] = await self._load(tenant_id)

    def _change(self, tenant_id: str, op: _Op) -> None:
        """Apply a change to a loaded index, queue it for an index being built, or drop it (the
        first search loads the tenant from storage, change included)."""
        if tenant_id in self._pending:
            self._pending[tenant_id].append(op)
        index = self._tenants.get(tenant_id)
        if index is None:
            return
        self._apply(index, op)
        if len(index.delta_tokens) >= self.delta_limit:
            index.freeze()
        if len(index.segments) > self.max_segments and tenant_id not in self._pending:
            self._compactions[tenant_id] = asyncio.ensure_future(self.rebuild(tenant_id))

    @staticmethod
    def _apply(index: _TenantIndex, op: _Op) -> None:
        if isinstance(op, DocumentRecord):
            channel = op.channel_id if op.channel_id is not None else TENANT_WIDE
            for part in index.document_parts(op.id):
                index.kill(DOCUMENT, op.id, part)
            for part, passage in enumerate(document_passages(op)):
                index.append(DOCUMENT, op.id, part, channel, textlib.terms(f"{op.title}. {passage}"), None,
                             op.updated_at)
        elif isinstance(op, MessageRecord):
            if op.deleted:
                index.kill(MESSAGE, op.id, 0)
            else:
                index.append(MESSAGE, op.id, 0, op.channel_id, textlib.terms(op.text), op.user_id, op.created_at)
            index.max_message_id = max(index.max_message_id, op.id)
        else:
            index.kill(MESSAGE, op, 0)

    async def add_message(self, message: MessageRecord) -> None:
        if not message.is_own_reply:
            self._change(message.tenant_id, message)

    async def add_document(self, document: DocumentRecord) -> None:
        self._change(document.tenant_id, document)

    async def remove_message(self, tenant_id: str, message_id: int) -> None:
        self._change(tenant_id, message_id)

    async def forget_tenant(self, tenant_id: str) -> None:
        self._tenants.pop(tenant_id, None)

    async def _catch_up(self, tenant_id: str, index: _TenantIndex) -> None:
        """Pick up what other replicas stored (new, edited and deleted messages) at most every
        `sync_interval` seconds, so replicas sharing one database answer from the same history."""
        if time.monotonic() - index.checked_at < self.sync_interval:
            return
        index.checked_at = time.monotonic()
        started = datetime.now(UTC) - CLOCK_SKEW
        rows = await self.storage.messages.changes(tenant_id, after_id=index.max_message_id,
                                                   edited_since=index.synced_at, limit=CATCH_UP_BATCH)
        for message_id, channel_id, text, gone, author, created in rows:
            if gone:
                index.kill(MESSAGE, message_id, 0)
            else:
                index.append(MESSAGE, message_id, 0, channel_id, textlib.terms(text), author, created)
            index.max_message_id = max(index.max_message_id, message_id)
        if len(index.delta_tokens) >= self.delta_limit:
            index.freeze()
        if len(rows) < CATCH_UP_BATCH:  # a full batch may have cut edits short: re-read them next time
            index.synced_at = started

    async def warm(self, tenant_id: str) -> None:
        await self._index(tenant_id)

    async def settle(self, tenant_id: str) -> None:
        await self._index(tenant_id)  # nothing runs in the background

    async def close(self) -> None:
        """Nothing to release: the index is memory."""

    async def search(self, tenant_id: str, query: str, allowed_channels: frozenset[int], *,
                     k: int = 5, filters: SearchFilters | None = None, words_only: bool = False) -> SearchResult:
        index = await self._index(tenant_id)
        await self._catch_up(tenant_id, index)
        query_terms = list(dict.fromkeys(textlib.terms(query)))
        result = SearchResult(hits=[], query_terms=query_terms,
                              searched_messages=self._visible_messages(index, allowed_channels),
                              searched_documents=index.documents, backend=self.name)
        if not query_terms or not index.kind:
            return result
        ranked, withheld = self._rank(index, query_terms, allowed_channels, k, filters)
        result.withheld = withheld
        result.term_weights = self._idf(index, query_terms)
        result.hits = await self._hydrate(tenant_id, index, ranked, query_terms)
        return result

    @staticmethod
    def _visible_messages(index: _TenantIndex, allowed: frozenset[int]) -> int:
        """Live messages in channels the reader may see: a count of the whole tenant would tell a reader
        how much exists where they cannot look (privacy rule)."""
        if not index.kind:
            return 0
        cached = index.visible_counts.get(allowed)
        if cached is not None and cached[0] == index.version:
            return cached[1]
        channels, alive, _, _ = index.columns()
        messages = alive & (np.frombuffer(index.kind, dtype=np.int8)[: len(alive)] == MESSAGE)
        count = sum(int(np.count_nonzero(messages[s.first_slot:s.first_slot + s.size]
                                         & s.readable_by(allowed, channels))) for s in index.live_segments())
        _keep(index.visible_counts, allowed, (index.version, count))
        return count

    @staticmethod
    def _scope(index: _TenantIndex, filters: SearchFilters | None) -> npt.NDArray[np.bool_] | None:
        """Slots the question's own scope keeps ("in #x", "from @y", "last week"); None = all."""
        if filters is None or not filters.active:
            return None
        channels, _, authors, created = index.columns()
        keep = np.ones(len(channels), dtype=np.bool_)
        if filters.channel_ids is not None:
            keep &= np.isin(channels, np.fromiter(filters.channel_ids, dtype=np.int64))
        if filters.author_ids is not None:
            keep &= np.isin(authors, np.fromiter(filters.author_ids, dtype=np.int64))
        if filters.since is not None:
            keep &= created >= int(filters.since.timestamp())
        if filters.until is not None:
            keep &= created < int(filters.until.timestamp())
        return keep

    def _rank(self, index: _TenantIndex, query_terms: list[str], allowed: frozenset[int], k: int,
              filters: SearchFilters | None = None) -> tuple[list[tuple[float, int]], int]:
        channels, alive, _, _ = index.columns()
        scope = self._scope(index, filters)
        candidates: list[tuple[float, int]] = []
        hidden_scores: list[npt.NDArray[np.float32]] = []
        weights = self._idf(index, query_terms)
        for segment in index.live_segments():
            found = self._scores(segment, query_terms, weights)
            if found is None:
                continue
            matched, matched_scores = found  # masks are applied to the matches only, not the whole segment
            at = matched + segment.first_slot
            live = alive[at] if scope is None else alive[at] & scope[at]
            readable = segment.readable_by(allowed, channels)[matched]
            hidden_scores.append(matched_scores[live & ~readable])
            shown_at = np.flatnonzero(live & readable)
            take = min(k, len(shown_at))
            if take == 0:
                continue
            top = shown_at[np.argpartition(-matched_scores[shown_at], take - 1)[:take]]
            candidates.extend((float(matched_scores[i]), int(at[i])) for i in top)
        candidates.sort(key=lambda c: (-c[0], c[1]))
        best = candidates[:k]
        floor = best[-1][0] if len(best) == k else 0.0
        withheld = sum(int(np.count_nonzero(h > max(floor, 0.0))) for h in hidden_scores)
        return best, min(withheld, k)

    def _scores(self, segment: _Segment, query_terms: list[str], weights: dict[str, float]) -> _Matches | None:
        key = tuple((t, weights.get(t, 0.0)) for t in query_terms)
        if self._recent[0] != key:
            self._recent = (key, [])
        for seen, found in self._recent[1]:
            if seen is segment:
                return found
        found = self._segment_scores(segment, query_terms, weights)
        self._recent[1].append((segment, found))
        return found

    @staticmethod
    def _segment_scores(segment: _Segment, query_terms: list[str], weights: dict[str, float]) -> _Matches | None:
        """The segment's matching slots and their BM25 scores, with the tenant's idf instead of the segment's
        own. A small segment (the messages of the last minutes) would otherwise give a word all of its few
        messages share almost no weight: "anything about zebrafish?" asked right after someone wrote about
        zebrafish found the older "anything" messages instead."""
        model = segment.model
        indptr, indices, data = model.scores["indptr"], model.scores["indices"], model.scores["data"]
        scores: npt.NDArray[np.float32] | None = None
        covered: npt.NDArray[np.float32] | None = None  # the query's idf weight each document holds
        for term in query_terms:
            token = model.vocab_dict.get(term)
            if token is None:
                continue
            start, end = int(indptr[token]), int(indptr[token + 1])
            local = math.log(1 + (segment.size - (end - start) + 0.5) / (end - start + 0.5))
            if end == start or local <= 0:
                continue
            if scores is None or covered is None:
                scores = np.zeros(segment.size, dtype=np.float32)
                covered = np.zeros(segment.size, dtype=np.float32)
            # Straight from the term's postings (a document appears once in them): work in proportion to
            # the documents that hold the word, not a full-size array per word as get_scores builds.
            weight = weights.get(term, local)
            held = indices[start:end]
            scores[held] += data[start:end] * np.float32(weight / local)
            covered[held] += np.float32(weight)
        if scores is None or covered is None:
            return None
        # The matches only. Through a boolean mask: nonzero over a million float32 slots took 3.8 ms here, the
        # comparison and nonzero over its booleans 0.55 ms (the weights are positive, so the two agree).
        held = np.flatnonzero(covered > 0)
        matched_scores = scores[held]
        if COORDINATION:  # see storage/search.py
            query_weight = np.float32(sum(weights.get(t, 0.0) for t in query_terms) or 1.0)
            matched_scores *= (covered[held] / query_weight) ** np.float32(COORDINATION)
        return held, matched_scores

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
