"""Message vectors on both databases: stored per model, stale after an edit, gone after a delete."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from storage import NewMessage, Storage, text_hash

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def test_vectors_are_current_or_missing(storage: Storage) -> None:
    tenant = await storage.workspace.ensure_tenant("slack", "T1")
    await storage.workspace.upsert_channel(tenant, "C1", name="general")
    a = await storage.messages.upsert(tenant, NewMessage("C1", "1.0", "checkout 5xx since deploy", T0, "U1"))
    b = await storage.messages.upsert(tenant, NewMessage("C1", "2.0", "lunch is pizza", T0, "U2"))
    assert [m for m, _, _ in await storage.embeddings.missing(tenant, "m1")] == [a.id, b.id]
    vec = np.ones(4, dtype=np.float32) / 2
    await storage.embeddings.put(tenant, "m1", [(a.id, text_hash(a.text), vec.tobytes(), 4)])
    await storage.embeddings.put(tenant, "m1", [(a.id, text_hash(a.text), (vec * -1).tobytes(), 4)])  # replaces
    rows = [v async for batch in storage.embeddings.vectors(tenant, "m1") for v in batch]
    assert [(r.message_id, r.channel_id) for r in rows] == [(a.id, a.channel_id)]
    assert np.allclose(np.frombuffer(rows[0].vector, dtype=np.float32), -vec)
    assert [m for m, _, _ in await storage.embeddings.missing(tenant, "m1")] == [b.id]
    assert len(await storage.embeddings.missing(tenant, "other-model")) == 2  # per model
    await storage.messages.edit(tenant, "C1", "1.0", "checkout is fine again")
    assert [v async for batch in storage.embeddings.vectors(tenant, "m1") for v in batch] == []  # stale
    assert a.id in [m for m, _, _ in await storage.embeddings.missing(tenant, "m1")]
    await storage.embeddings.remove([a.id])
    await storage.messages.mark_deleted(tenant, "C1", "2.0")
    assert await storage.embeddings.missing(tenant, "m1") == [(a.id, a.channel_id, "checkout is fine again")]
