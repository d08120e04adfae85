"""A message deleted and then restored (Teams `undeleteMessage`) is stored, listed and searchable again."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.backends.retrieval.bm25 import BM25Retriever
from bot.ingest import Ingestor
from storage import NewMessage, Storage


async def test_undelete_restores_text_and_visibility(storage: Storage) -> None:
    ingest = Ingestor(storage, BM25Retriever(storage))
    tenant = await ingest.tenant("teams", "72f988bf-tenant")
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    await ingest.message(tenant, NewMessage("19:c@thread.tacv2", "1718000000001", "Freeze starts Friday.", t0, "29:a"))
    assert await ingest.delete(tenant, "19:c@thread.tacv2", "1718000000001")
    assert await storage.messages.count(tenant) == 0

    restored = await ingest.undelete(tenant, "19:c@thread.tacv2", "1718000000001", "Freeze starts Friday 15:00.")
    assert restored is not None and not restored.deleted and restored.text == "Freeze starts Friday 15:00."
    assert await storage.messages.count(tenant) == 1
    channel = await storage.workspace.channel(tenant, "19:c@thread.tacv2")
    assert channel is not None
    found = await ingest.retriever.search(tenant, "when does the freeze start", frozenset({channel.id}), k=3)
    assert [h.message.external_id for h in found.hits if h.message] == ["1718000000001"]
    assert await ingest.undelete(tenant, "19:c@thread.tacv2", "unknown", "x") is None
