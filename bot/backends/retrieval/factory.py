"""One place that decides the retrieval stack from settings: the lexical engine (`WHYBOT_SEARCH`: bm25s in
process, or PostgreSQL, if the database can), plus the vocabulary bridge, plus dense embeddings (the built-in
static model unless another is configured or they are turned off)."""

from __future__ import annotations

from bot.backends.embeddings import build_embedder
from bot.backends.retrieval.base import Retriever
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.backends.retrieval.dense import DenseIndex
from bot.backends.retrieval.hybrid import HybridRetriever
from bot.backends.retrieval.postgres import PostgresRetriever
from bot.settings import Settings
from storage import DatabaseNotUpgraded, Storage


class SearchUnavailable(DatabaseNotUpgraded):
    """The configured database cannot serve the configured search (WHYBOT_SEARCH=postgres on SQLite).
    A kind of DatabaseNotUpgraded so that `whybot serve` reports it in one line and exits, as it does
    for a schema that is behind."""


def lexical_retriever(settings: Settings, storage: Storage) -> Retriever:
    if settings.search == "postgres":
        if storage.db.dialect != "postgresql":
            raise SearchUnavailable(
                f"WHYBOT_SEARCH=postgres needs a PostgreSQL WHYBOT_DATABASE_URL, not {storage.db.dialect}: "
                "set WHYBOT_SEARCH=memory or point WHYBOT_DATABASE_URL at PostgreSQL")
        return PostgresRetriever(storage)
    return BM25Retriever(storage)


def build_retriever(settings: Settings, storage: Storage, lexical: Retriever | None = None) -> Retriever:
    """`lexical` defaults to what WHYBOT_SEARCH picks; the same fusion goes over either engine."""
    lexical = lexical or lexical_retriever(settings, storage)
    embedder = build_embedder(settings)
    # The backfill reads and writes as many messages at a time as the embedder embeds well at once: thousands for
    # the built-in model (a server's batch would make a large backfill a long string of database round trips).
    dense = DenseIndex(storage, embedder, backfill_batch=max(embedder.batch_size, 64)) if embedder else None
    if dense is None and not settings.query_expansion:
        return lexical
    return HybridRetriever(lexical, storage, dense, expansion=settings.query_expansion,
                           semantic_weight=settings.semantic_weight)
