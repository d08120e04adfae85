"""The retrieval seam: given a question and what the reader may see, return ranked, explained hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from storage import DocumentRecord, MessageRecord


@dataclass(frozen=True, slots=True)
class Hit:
    source_id: str
    score: float
    matched_terms: list[str]
    message: MessageRecord | None = None
    document: DocumentRecord | None = None
    passage: str | None = None
    lexical_rank: int | None = None  # 1-based rank in the BM25 list (None: not in it)
    semantic_rank: int | None = None  # 1-based rank in the embedding list (None: not in it / not run)
    semantic_score: float | None = None  # cosine similarity to the question
    expanded_rank: int | None = None  # rank in the search widened by the vocabulary bridge

    @property
    def text(self) -> str:
        if self.message is not None:
            return self.message.text
        return self.passage or (self.document.text if self.document is not None else "")

    @property
    def channel_external_id(self) -> str | None:
        return self.message.channel_external_id if self.message is not None else None

    @property
    def created_at(self) -> datetime | None:
        if self.message is not None:
            return self.message.created_at
        return self.document.updated_at if self.document is not None else None


@dataclass(slots=True)
class SearchResult:
    hits: list[Hit]
    query_terms: list[str]
    searched_messages: int = 0
    searched_documents: int = 0
    withheld: int = 0
    backend: str = ""
    term_weights: dict[str, float] = field(default_factory=dict)  # idf per query term: rare words weigh more
    notes: list[str] = field(default_factory=list)
    expansion: dict[str, float] = field(default_factory=dict)  # added query terms -> weight, for the Why?
    semantic: str = ""  # how the dense half went: "" (not configured), "used", or why it was skipped


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Scope and time limits parsed from the question ("in #incidents", "from @bob", "last week").
    None means "no limit"; `channel_ids` only narrows what the reader may see, never widens it."""

    channel_ids: frozenset[int] | None = None
    author_ids: frozenset[int] | None = None
    since: datetime | None = None
    until: datetime | None = None
    # (channel, message) external ids that cannot be evidence: the question's own message, stored as history
    # before it is answered. Not a scope (`active` ignores it): hybrid search drops it before scaling word
    # scores by the best match, which it would otherwise always be; every caller still drops it from hits.
    exclude: frozenset[tuple[str, str]] = frozenset()

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.channel_ids, self.author_ids, self.since, self.until))

    def allows(self, channel_id: int | None, author_id: int | None, at: datetime | None) -> bool:
        """The same test every backend applies (documents have no author: an author filter drops them)."""
        if self.channel_ids is not None and channel_id not in self.channel_ids:
            return False
        if self.author_ids is not None and author_id not in self.author_ids:
            return False
        if at is not None and self.since is not None and at < self.since:
            return False
        return not (at is not None and self.until is not None and at >= self.until)


class Retriever(Protocol):
    """Implementations: in-process BM25 (default); PostgreSQL full-text search for shared replicas."""

    name: str

    async def search(self, tenant_id: str, query: str, allowed_channels: frozenset[int], *,
                     k: int = 5, filters: SearchFilters | None = None, words_only: bool = False) -> SearchResult:
        """Top-k live messages and document passages from `allowed_channels` (storage channel ids)
        plus tenant-wide documents, with how many better-scoring sources were withheld. `filters`
        (optional) narrows by channel, author and time before ranking. `words_only`: a caller that only counts
        matched words skips meaning and related words (engines that have only words ignore it)."""
        ...

    async def add_message(self, message: MessageRecord) -> None:
        """Make one new or edited message searchable at once."""
        ...

    async def remove_message(self, tenant_id: str, message_id: int) -> None: ...

    async def add_document(self, document: DocumentRecord) -> None: ...

    async def forget_tenant(self, tenant_id: str) -> None: ...

    async def warm(self, tenant_id: str) -> None:
        """Load a tenant's index ahead of its first question."""
        ...

    async def settle(self, tenant_id: str) -> None:
        """Load a tenant and wait for its background indexing (message vectors) to finish: for the demo seed,
        eval and training, whose first question must see everything; serving never waits for it."""
        ...

    async def close(self) -> None:
        """Stop background work and release connections on shutdown."""
        ...


def weighted_coverage(matched: list[str], weights: dict[str, float]) -> float:
    """Share of the question's information a source covers: rare words count for more than common ones."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(weights.get(t, 0.0) for t in set(matched)) / total
