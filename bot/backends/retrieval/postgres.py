"""Retrieval served by PostgreSQL (`WHYBOT_SEARCH=postgres`): the index every replica and worker shares.

Nothing is held in process: a message is searchable the moment its write commits (the database derives
its tsvector and BM25 statistics), so there is no warm-up, no catch-up loop, and memory does not grow
with history. Queries are tokenized here with bot/text.py, as the in-process backend does, so matched
terms and idf weights mean the same thing whichever backend answers. Ranking is in storage/search.py.
"""

from __future__ import annotations

from bot import text as textlib
from bot.backends.retrieval.base import Hit, SearchFilters, SearchResult
from bot.backends.retrieval.bm25 import document_passages
from storage import DocumentRecord, MessageRecord, Storage
from storage.search import MESSAGE, Ranking, SearchStore

FILTER_OVERFETCH = 8  # candidates per wanted hit when a question narrows by author or time


class PostgresRetriever:
    name = "postgres"

    def __init__(self, storage: Storage, *, ts_rank: bool = False) -> None:
        self.storage = storage
        self.search_store = SearchStore(storage.db)
        self.ts_rank = ts_rank  # PostgreSQL's own ranking, kept for the benchmark's comparison only

    async def search(self, tenant_id: str, query: str, allowed_channels: frozenset[int], *,
                     k: int = 5, filters: SearchFilters | None = None, words_only: bool = False) -> SearchResult:
        """A channel filter narrows the permission set inside the query; author and time filters are applied
        to an over-fetched ranking (the same test every backend uses), so scores stay BM25's."""
        query_terms = list(dict.fromkeys(textlib.terms(query)))
        if not query_terms:
            return SearchResult(hits=[], query_terms=[], backend=self.name)
        active = filters is not None and filters.active
        if filters is not None and filters.channel_ids is not None:
            allowed_channels = allowed_channels & filters.channel_ids
        fetch = k * FILTER_OVERFETCH if active else k
        ranking = await self.search_store.rank(tenant_id, query_terms, allowed_channels, fetch,
                                               ts_rank=self.ts_rank)
        hits = await self._hydrate(tenant_id, ranking, query_terms)
        if filters is not None and active:
            hits = [h for h in hits if filters.allows(
                h.message.channel_id if h.message else None, h.message.user_id if h.message else None,
                h.created_at)][:k]
        return SearchResult(hits=hits, query_terms=query_terms,
                            searched_messages=ranking.messages, searched_documents=ranking.passages,
                            withheld=ranking.withheld, backend=self.name,
                            term_weights={t: round(w, 4) for t, w in ranking.idf.items()})

    async def _hydrate(self, tenant_id: str, ranking: Ranking, query_terms: list[str]) -> list[Hit]:
        messages = {m.id: m for m in await self.storage.messages.get(
            [r.ref for r in ranking.rows if r.kind == MESSAGE])}
        doc_ids = {r.ref for r in ranking.rows if r.kind != MESSAGE}
        documents = {d.id: d for d in await self.storage.messages.documents(tenant_id, doc_ids)} if doc_ids else {}
        hits: list[Hit] = []
        for row in ranking.rows:
            matched = [t for t in query_terms if t in row.matched]
            if row.kind == MESSAGE:
                message = messages.get(row.ref)
                if message is not None and not message.deleted:
                    hits.append(Hit(message.source_id, round(row.score, 4), matched, message=message))
                continue
            document = documents.get(row.ref)
            passages = document_passages(document) if document is not None else []
            if document is not None and row.part < len(passages):
                hits.append(Hit(f"{document.source_id}#{row.part}", round(row.score, 4), matched,
                                document=document, passage=passages[row.part]))
        return hits

    async def add_message(self, message: MessageRecord) -> None:
        """Nothing to do: the write that stored the message already indexed it."""

    async def remove_message(self, tenant_id: str, message_id: int) -> None:
        """Nothing to do: the soft delete already took it out of the index."""

    async def add_document(self, document: DocumentRecord) -> None:
        await self.search_store.replace_passages(
            document.tenant_id, document.id, document.channel_id,
            [] if document.deleted else [f"{document.title}. {p}" for p in document_passages(document)])

    async def forget_tenant(self, tenant_id: str) -> None:
        """Nothing to do: a deleted tenant's rows and statistics go with it; bulk inserts are indexed."""

    async def warm(self, tenant_id: str) -> None:
        """Nothing to load."""

    async def settle(self, tenant_id: str) -> None:
        """Nothing runs in the background: the database indexes each write itself."""

    async def close(self) -> None:
        """Nothing to release: the storage's connections are closed with the storage."""

    async def reindex(self, tenant_id: str) -> tuple[int, int]:
        """Re-split the tenant's documents into passages and recount its statistics: for data stored
        before the search migration, or written by a process running the in-process backend."""
        for document in await self.storage.messages.documents(tenant_id):
            await self.add_document(document)
        return await self.search_store.rebuild_stats(tenant_id)
