"""Which retriever a process uses: `WHYBOT_SEARCH` picks it, the database decides if it can."""

from __future__ import annotations

from bot.backends.retrieval.base import Retriever
from bot.backends.retrieval.bm25 import BM25Retriever
from bot.backends.retrieval.postgres import PostgresRetriever
from bot.settings import Settings
from storage import DatabaseNotUpgraded, Storage


class SearchUnavailable(DatabaseNotUpgraded):
    """The configured database cannot serve the configured search (WHYBOT_SEARCH=postgres on SQLite).
    A kind of DatabaseNotUpgraded so that `whybot serve` reports it in one line and exits, as it does
    for a schema that is behind."""


def build_retriever(settings: Settings, storage: Storage) -> Retriever:
    if settings.search == "postgres":
        if storage.db.dialect != "postgresql":
            raise SearchUnavailable(
                f"WHYBOT_SEARCH=postgres needs a PostgreSQL WHYBOT_DATABASE_URL, not {storage.db.dialect}: "
                "set WHYBOT_SEARCH=memory or point WHYBOT_DATABASE_URL at PostgreSQL")
        return PostgresRetriever(storage)
    return BM25Retriever(storage)
