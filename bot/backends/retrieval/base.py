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


class Retriever(Protocol):
    """Implementations: in-process BM25 (default); PostgreSQL full-text search for shared replicas."""

    name: str

    async def search(self, tenant_id: str, query: str, allowed_channels: frozenset[int], *,
                     k: int = 5) -> SearchResult:
        """Top-k live messages and document passages from `allowed_channels` (storage channel ids)
        plus tenant-wide documents, with how many better-scoring sources were withheld."""
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


def weighted_coverage(matched: list[str], weights: dict[str, float]) -> float:
    """Share of the question's information a source covers: rare words count for more than common ones."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(weights.get(t, 0.0) for t in set(matched)) / total
