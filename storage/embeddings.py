"""Dense vectors of messages, per embedding model: what the semantic half of hybrid retrieval reads.

Vectors are float32 bytes; `text_hash` ties each one to the text it was computed from, so an edited
message is re-embedded instead of matched on words it no longer says.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, select

from storage.db import Database
from storage.tables import Message, MessageEmbedding
from storage.upsert import insert_for


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredVector:
    message_id: int
    channel_id: int
    vector: bytes


class EmbeddingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, tenant_id: str, model: str, rows: Sequence[tuple[int, str, bytes, int]]) -> None:
        """Store (message id, text hash, float32 bytes, dim) rows, replacing older vectors."""
        if not rows:
            return
        async with self.db.session() as s:
            stmt = insert_for(s, MessageEmbedding).values([
                {"message_id": mid, "model": model, "tenant_id": tenant_id, "text_hash": h, "vector": v, "dim": d}
                for mid, h, v, d in rows])
            stmt = stmt.on_conflict_do_update(index_elements=["message_id", "model"], set_={
                "text_hash": stmt.excluded.text_hash, "vector": stmt.excluded.vector, "dim": stmt.excluded.dim})
            await s.execute(stmt)

    async def remove(self, message_ids: Iterable[int]) -> None:
        ids = list(message_ids)
        if ids:
            async with self.db.session() as s:
                await s.execute(delete(MessageEmbedding).where(MessageEmbedding.message_id.in_(ids)))

    async def vectors(self, tenant_id: str, model: str, *, batch: int = 20000
                      ) -> AsyncIterator[list[StoredVector]]:
        """Current vectors of live history messages (not whybot's replies, not stale after an edit)."""
        last = 0
        while True:
            async with self.db.session() as s:
                rows = (await s.execute(
                    select(Message.id, Message.channel_id, MessageEmbedding.vector, MessageEmbedding.text_hash,
                           Message.text)
                    .join(MessageEmbedding, and_(MessageEmbedding.message_id == Message.id,
                                                 MessageEmbedding.model == model))
                    .where(Message.tenant_id == tenant_id, Message.id > last, Message.deleted.is_(False),
                           Message.decision_id.is_(None))
                    .order_by(Message.id).limit(batch))).tuples().all()
            if not rows:
                return
            last = rows[-1][0]
            yield [StoredVector(mid, cid, vec) for mid, cid, vec, h, text in rows if h == text_hash(text)]

    async def missing(self, tenant_id: str, model: str, *, after_id: int = 0, limit: int = 256
                      ) -> list[tuple[int, int, str]]:
        """(id, channel id, text) of live history messages with no current vector under `model`."""
        out: list[tuple[int, int, str]] = []
        last = after_id
        while len(out) < limit:
            async with self.db.session() as s:
                rows = (await s.execute(
                    select(Message.id, Message.channel_id, Message.text, MessageEmbedding.text_hash)
                    .outerjoin(MessageEmbedding, and_(MessageEmbedding.message_id == Message.id,
                                                      MessageEmbedding.model == model))
                    .where(Message.tenant_id == tenant_id, Message.id > last, Message.deleted.is_(False),
                           Message.decision_id.is_(None))
                    .order_by(Message.id).limit(limit * 4))).tuples().all()
            if not rows:
                break
            last = rows[-1][0]
            out.extend((mid, cid, text) for mid, cid, text, h in rows if h != text_hash(text))
        return out[:limit]
