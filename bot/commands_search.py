"""`whybot db reindex`: bring the PostgreSQL search index up to date with data already stored.

Messages need no re-index (their tsvector is a generated column, filled by `whybot db upgrade`), but
document passages are split in Python and the statistics can be recounted: run this once after the
upgrade that adds PostgreSQL search, or after documents were imported by a process running
WHYBOT_SEARCH=memory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from bot.backends.retrieval.postgres import PostgresRetriever
from bot.settings import Settings
from storage import Storage

log = logging.getLogger("whybot")

SubParsers = argparse._SubParsersAction


async def reindex(url: str, tenant: str | None) -> int:
    storage = await Storage.open(url)
    try:
        if storage.db.dialect != "postgresql":
            log.error("whybot db reindex rebuilds the PostgreSQL search index; this database is %s, whose "
                      "search is the in-process index (it builds itself)", storage.db.dialect)
            return 2
        retriever = PostgresRetriever(storage)
        tenants = [tenant] if tenant else await retriever.search_store.tenants()
        for tenant_id in tenants:
            started = time.perf_counter()
            messages, passages = await retriever.reindex(tenant_id)
            print(f"{tenant_id}: {messages:,} messages, {passages:,} document passages "
                  f"({time.perf_counter() - started:.1f} s)")
    finally:
        await storage.close()
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    return asyncio.run(reindex(args.database_url or Settings().database_url, args.tenant))


def _db_group(sub: SubParsers) -> SubParsers:
    """The `db` group's sub-commands, whichever module registered the group first."""
    parser = sub.choices.get("db") or sub.add_parser("db", help="database maintenance")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="db_command", required=True)


def register(sub: SubParsers) -> None:
    p = _db_group(sub).add_parser("reindex", help="re-split documents into passages and recount search "
                                                  "statistics (PostgreSQL search)")
    p.add_argument("--tenant", help="one tenant id (e.g. slack:T123); default: every tenant")
    p.add_argument("--database-url", help="override WHYBOT_DATABASE_URL")
    p.set_defaults(handler=cmd_reindex)
