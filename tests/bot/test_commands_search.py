"""`whybot db reindex` on a real PostgreSQL database, and its one-line refusal on SQLite."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from bot.backends.retrieval.postgres import PostgresRetriever
from bot.commands_core import register as register_core
from bot.commands_search import register as register_search
from storage import Storage


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="whybot")
    sub = parser.add_subparsers(dest="command", required=True)
    register_core(sub)
    register_search(sub)
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.mark.postgres
async def test_reindex_makes_documents_stored_without_passages_searchable(
        postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    storage = await Storage.open(postgres_url, auto_upgrade=True)
    try:
        tenant = await storage.workspace.ensure_tenant("slack", "T1")
        # Stored by a process on the in-process backend: no passages in the database yet.
        await storage.messages.upsert_document(tenant, "runbook.md", "Runbook", "Restart the ingest workers first.")
        retriever = PostgresRetriever(storage)
        assert (await retriever.search(tenant, "restart ingest workers", frozenset())).hits == []
        code = await asyncio.to_thread(_main, ["db", "reindex", "--database-url", postgres_url])
        assert code == 0
        assert f"{tenant}: 0 messages, 1 document passages" in capsys.readouterr().out
        hits = (await retriever.search(tenant, "restart ingest workers", frozenset())).hits
        assert [h.source_id.rsplit("#", 1)[1] for h in hits] == ["0"]
    finally:
        await storage.close()


async def test_reindex_refuses_sqlite_in_one_line(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    assert await asyncio.to_thread(_main, ["db", "reindex", "--database-url", sqlite_url]) == 2
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "whybot db reindex rebuilds the PostgreSQL search index; this database is sqlite, whose search is the "
        "in-process index (it builds itself)"]
