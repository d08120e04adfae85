"""Every message the bot may see goes through here: stored, then made searchable at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.backends.retrieval.base import Retriever
from storage import DocumentRecord, MessageRecord, NewMessage, Storage


class Ingestor:
    def __init__(self, storage: Storage, retriever: Retriever) -> None:
        self.storage = storage
        self.retriever = retriever

    async def tenant(self, platform: str, external_id: str, name: str = "") -> str:
        return await self.storage.workspace.ensure_tenant(platform, external_id, name)

    async def message(self, tenant_id: str, item: NewMessage) -> MessageRecord:
        record = await self.storage.messages.upsert(tenant_id, item)
        await self.retriever.add_message(record)
        return record

    async def messages(self, tenant_id: str, items: Sequence[NewMessage]) -> int:
        """Bulk path (imports, backfills): the index picks the new rows up on its next load."""
        inserted = await self.storage.messages.bulk_insert(tenant_id, items)
        await self.retriever.forget_tenant(tenant_id)
        return inserted

    async def edit(self, tenant_id: str, channel: str, external_id: str, text: str,
                   edited_at: datetime | None = None, *, restore: bool = False) -> MessageRecord | None:
        record = await self.storage.messages.edit(tenant_id, channel, external_id, text, edited_at, restore=restore)
        if record is not None:
            await self.retriever.add_message(record)
        return record

    async def delete(self, tenant_id: str, channel: str, external_id: str) -> bool:
        message_id = await self.storage.messages.mark_deleted(tenant_id, channel, external_id)
        if message_id is None:
            return False
        await self.retriever.remove_message(tenant_id, message_id)
        return True

    async def undelete(self, tenant_id: str, channel: str, external_id: str, text: str,
                       edited_at: datetime | None = None) -> MessageRecord | None:
        """A deleted message restored (Teams `undeleteMessage`): stored and searchable again."""
        return await self.edit(tenant_id, channel, external_id, text, edited_at, restore=True)

    async def document(self, tenant_id: str, path: str, title: str, text: str, *, url: str | None = None,
                       channel: str | None = None) -> DocumentRecord:
        record = await self.storage.messages.upsert_document(tenant_id, path, title, text, url=url,
                                                              channel_external_id=channel)
        await self.retriever.add_document(record)
        return record

    async def forget_tenant(self, tenant_id: str) -> None:
        await self.storage.workspace.delete_tenant(tenant_id)
        await self.retriever.forget_tenant(tenant_id)
