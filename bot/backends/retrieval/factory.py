"""One place that decides the retrieval stack from settings: lexical, plus the vocabulary bridge,
plus dense embeddings when a model is configured."""

from __future__ import annotations

from bot.backends.embeddings import OpenAIEmbedder
from bot.backends.retrieval.base import Retriever
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.backends.retrieval.dense import DenseIndex
from bot.backends.retrieval.hybrid import HybridRetriever
from bot.settings import Settings
from storage import Storage


def build_retriever(settings: Settings, storage: Storage, lexical: Retriever | None = None) -> Retriever:
    """`lexical` defaults to in-process BM25; pass the PostgreSQL engine to put the same fusion over it."""
    lexical = lexical or BM25Retriever(storage)
    embedder = OpenAIEmbedder.from_settings(settings)
    dense = DenseIndex(storage, embedder, backfill_batch=max(settings.embeddings_batch, 64)) if embedder else None
    if dense is None and not settings.query_expansion:
        return lexical
    return HybridRetriever(lexical, storage, dense, expansion=settings.query_expansion)
