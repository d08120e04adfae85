"""Messages and documents: the history skills read and the retrieval index is built from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, union, update
from sqlalchemy.orm import aliased

from storage.db import Database
from storage.records import DocumentRecord, MessageRecord
from storage.tables import Channel, Document, Message, MessageEmbedding, User
from storage.upsert import insert_for, upsert
from storage.workspace import WorkspaceStore


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message as an adapter or importer hands it to storage (platform ids, not our keys)."""

    channel_external_id: str
    external_id: str
    text: str
    created_at: datetime
    user_external_id: str | None = None
    thread_external_id: str | None = None
    reaction_count: int = 0
    reply_count: int = 0
    mention_count: int = 0
    file_count: int = 0
    permalink: str | None = None
    is_bot: bool = False
    edited_at: datetime | None = None
    decision_id: str | None = None


_U = aliased(User)


_MESSAGE_COLUMNS = (Message.id, Message.tenant_id, Message.channel_id, Message.external_id, Message.thread_external_id,
                    Message.text, Message.created_at, Message.edited_at, Message.reaction_count, Message.reply_count,
                    Message.mention_count, Message.file_count, Message.permalink, Message.is_bot, Message.deleted,
                    Message.decision_id, Message.user_id)


def _message_query() -> Select[*tuple[Any, ...]]:
    """Plain columns, not ORM objects: ask reads some sixty messages a question (its matches and their
    threads), and building an ORM object for each cost more than the query."""
    return (
        select(*_MESSAGE_COLUMNS, Channel.external_id.label("channel_external_id"),
               Channel.name.label("channel_name"), _U.external_id.label("user_external_id"),
               _U.display_name.label("user_display_name"), _U.name.label("user_handle"))
        .join(Channel, Channel.id == Message.channel_id)
        .outerjoin(_U, _U.id == Message.user_id)
    )


def _threads_query(channels: Sequence[int] | Select[int], roots: Sequence[str]) -> Select[*tuple[Any, ...]]:
    """Live messages of the threads rooted at `roots` in `channels`, oldest first. The channel is inside each
    half of the OR so each half is one (channel, …) index lookup (SQLite's multi-index OR, PostgreSQL's bitmap
    OR): with it outside, SQLite walked the channel's (channel, created) index instead, 0.2 ms a thread at
    1,600 messages and 25 ms at 20,000. No tenant term either: SQLite would scan the tenant's messages."""
    return _message_query().where(
        Message.deleted.is_(False),
        or_(and_(Message.channel_id.in_(channels), Message.external_id.in_(roots)),
            and_(Message.channel_id.in_(channels), Message.thread_external_id.in_(roots))),
    ).order_by(Message.created_at, Message.id)


def _record(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.id, tenant_id=row.tenant_id, channel_id=row.channel_id, channel_external_id=row.channel_external_id,
        channel_name=row.channel_name, external_id=row.external_id, thread_external_id=row.thread_external_id,
        user_external_id=row.user_external_id,
        user_name=row.user_display_name or row.user_handle or row.user_external_id or "someone", text=row.text,
        created_at=row.created_at, edited_at=row.edited_at, reaction_count=row.reaction_count,
        reply_count=row.reply_count, mention_count=row.mention_count, file_count=row.file_count,
        permalink=row.permalink, is_bot=row.is_bot, deleted=row.deleted, decision_id=row.decision_id,
        user_id=row.user_id,
    )


def _document(d: Document) -> DocumentRecord:
    return DocumentRecord(d.id, d.tenant_id, d.channel_id, d.path, d.title, d.text, d.url, d.updated_at,
                          d.deleted)


class MessageStore:
    def __init__(self, db: Database, workspace: WorkspaceStore) -> None:
        self.db = db
        self.workspace = workspace

    async def _keys(self, tenant_id: str, items: Iterable[NewMessage]) -> tuple[dict[str, int], dict[str, int]]:
        items = list(items)
        channels = {i.channel_external_id for i in items}
        users = {i.user_external_id for i in items if i.user_external_id}
        async with self.db.session() as s:
            known_c = dict((await s.execute(select(Channel.external_id, Channel.id).where(
                Channel.tenant_id == tenant_id, Channel.external_id.in_(channels)))).tuples().all())
            known_u = dict((await s.execute(select(User.external_id, User.id).where(
                User.tenant_id == tenant_id, User.external_id.in_(users)))).tuples().all())
        for c in channels - known_c.keys():
            known_c[c] = await self.workspace.ensure_channel(tenant_id, c)
        for u in users - known_u.keys():
            known_u[u] = await self.workspace.ensure_user(tenant_id, u)
        return known_c, known_u

    async def upsert(self, tenant_id: str, item: NewMessage) -> MessageRecord:
        """Store or refresh one message; a reply bumps its thread root's reply count once."""
        (channel_ids, user_ids) = await self._keys(tenant_id, [item])
        channel_id = channel_ids[item.channel_external_id]
        values = self._values(tenant_id, item, channel_ids, user_ids)
        async with self.db.session() as s:
            existed = await s.scalar(select(Message.id).where(
                Message.channel_id == channel_id, Message.external_id == item.external_id))
            await upsert(s, Message, values, conflict=["channel_id", "external_id"],
                         update=["text", "edited_at", "reaction_count", "mention_count", "file_count",
                                 "permalink", "thread_external_id", "deleted"])
            if existed is None and item.thread_external_id and item.thread_external_id != item.external_id:
                await s.execute(update(Message).where(
                    Message.channel_id == channel_id, Message.external_id == item.thread_external_id,
                ).values(reply_count=Message.reply_count + 1))
            row = (await s.execute(_message_query().where(
                Message.channel_id == channel_id, Message.external_id == item.external_id))).one()
        return _record(row)

    @staticmethod
    def _values(tenant_id: str, item: NewMessage, channel_ids: dict[str, int],
                user_ids: dict[str, int]) -> dict[str, Any]:
        thread = item.thread_external_id if item.thread_external_id != item.external_id else None
        return {
            "tenant_id": tenant_id, "channel_id": channel_ids[item.channel_external_id],
            "external_id": item.external_id, "thread_external_id": thread,
            "user_id": user_ids.get(item.user_external_id or ""), "text": item.text,
            "created_at": item.created_at, "edited_at": item.edited_at,
            "reaction_count": item.reaction_count, "reply_count": item.reply_count,
            "mention_count": item.mention_count, "file_count": item.file_count, "permalink": item.permalink,
            "is_bot": item.is_bot, "deleted": False, "decision_id": item.decision_id,
        }

    async def bulk_insert(self, tenant_id: str, items: Sequence[NewMessage]) -> int:
        """Fast path for imports and backfills: insert new messages, skip ones already stored."""
        if not items:
            return 0
        channel_ids, user_ids = await self._keys(tenant_id, items)
        rows = [self._values(tenant_id, i, channel_ids, user_ids) for i in items]
        inserted = 0
        async with self.db.session() as s:
            # executemany with RETURNING: SQLAlchemy batches it ("insertmanyvalues") and caches the
            # statement, and only rows that were really new come back.
            stmt = insert_for(s, Message).on_conflict_do_nothing(
                index_elements=["channel_id", "external_id"]).returning(Message.id)
            for start in range(0, len(rows), 5000):
                result = await s.execute(stmt, rows[start:start + 5000])
                inserted += len(result.all())
        return inserted

    async def edit(self, tenant_id: str, channel_external_id: str, external_id: str, text: str,
                   edited_at: datetime | None = None, *, restore: bool = False) -> MessageRecord | None:
        """New text for a stored message; `restore` also reverses a soft delete (Teams' undelete)."""
        async with self.db.session() as s:
            row = (await s.execute(_message_query().where(
                Message.tenant_id == tenant_id, Channel.external_id == channel_external_id,
                Message.external_id == external_id))).one_or_none()
            if row is None:
                return None
            changes: dict[str, Any] = {"text": text,  # edited_at is also how other replicas' indexes see it
                                       "edited_at": edited_at or datetime.now(UTC)}
            if restore:
                changes["deleted"] = False
            await s.execute(update(Message).where(Message.id == row.id).values(**changes))
            return _record((await s.execute(_message_query().where(Message.id == row.id))).one())

    async def mark_deleted(self, tenant_id: str, channel_external_id: str, external_id: str) -> int | None:
        """Soft delete: the text is dropped at once; the row stays so thread counts remain honest."""
        async with self.db.session() as s:
            m = await s.scalar(select(Message).join(Channel, Channel.id == Message.channel_id).where(
                Message.tenant_id == tenant_id, Channel.external_id == channel_external_id,
                Message.external_id == external_id))
            if m is None:
                return None
            m.deleted = True
            m.text = ""
            m.edited_at = datetime.now(UTC)  # so other replicas' indexes see the deletion
            return m.id

    async def undelete(self, tenant_id: str, channel_external_id: str, external_id: str, text: str,
                       edited_at: datetime | None = None) -> MessageRecord | None:
        """Reverse a soft delete with the restored text (Teams sends it with the undelete)."""
        return await self.edit(tenant_id, channel_external_id, external_id, text, edited_at, restore=True)

    async def get(self, ids: Iterable[int]) -> list[MessageRecord]:
        ids = list(ids)
        if not ids:
            return []
        async with self.db.read() as s:
            rows = (await s.execute(_message_query().where(Message.id.in_(ids)))).all()
        by_id = {r.id: _record(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def find(self, tenant_id: str, channel_external_id: str, external_id: str) -> MessageRecord | None:
        async with self.db.read() as s:
            row = (await s.execute(_message_query().where(
                Message.tenant_id == tenant_id, Channel.external_id == channel_external_id,
                Message.external_id == external_id))).one_or_none()
        return _record(row) if row else None

    async def thread(self, tenant_id: str, channel_external_id: str, root: str) -> list[MessageRecord]:
        channel = select(Channel.id).where(Channel.tenant_id == tenant_id, Channel.external_id == channel_external_id)
        async with self.db.read() as s:
            rows = (await s.execute(_threads_query(channel, [root]))).all()
        return [_record(r) for r in rows]

    async def threads(self, tenant_id: str, keys: Iterable[tuple[int, str]]
                      ) -> dict[tuple[int, str], list[MessageRecord]]:
        """Several threads, by (channel storage id, root external id), in one read: ranking looks into the
        threads of a dozen matches per question, and a session per thread cost more than the search itself."""
        keys = list(dict.fromkeys(keys))
        out: dict[tuple[int, str], list[MessageRecord]] = {key: [] for key in keys}
        if not keys:
            return out
        # A channel and a root of two different keys may pair up in the IN lists; such a thread is dropped below.
        async with self.db.read() as s:
            rows = (await s.execute(_threads_query(sorted({c for c, _ in keys}), sorted({r for _, r in keys})))).all()
        for row in rows:
            record = _record(row)
            key = (record.channel_id, record.thread_root)
            if key in out and record.tenant_id == tenant_id:  # a channel key of another tenant reads nothing
                out[key].append(record)
        return out

    async def window(self, tenant_id: str, channel_external_ids: Sequence[str], start: datetime,
                     end: datetime, *, include_bots: bool = True) -> list[MessageRecord]:
        """Live messages in the channels between start (inclusive) and end (exclusive), oldest first.
        whybot's own replies are left out: they are about the history, not part of it."""
        conditions = [Message.tenant_id == tenant_id, Channel.external_id.in_(list(channel_external_ids)),
                      Message.deleted.is_(False), Message.created_at >= start, Message.created_at < end,
                      Message.decision_id.is_(None)]
        if not include_bots:
            conditions.append(Message.is_bot.is_(False))
        async with self.db.session() as s:
            rows = (await s.execute(_message_query().where(and_(*conditions))
                                    .order_by(Message.created_at, Message.id))).all()
        return [_record(r) for r in rows]

    async def latest_thread_root(self, tenant_id: str, channel_external_id: str,
                                 before: datetime | None = None) -> str | None:
        """The most recently active thread in a channel, ignoring the bot's own messages."""
        conditions = [Message.tenant_id == tenant_id, Channel.external_id == channel_external_id,
                      Message.deleted.is_(False), Message.is_bot.is_(False), Message.decision_id.is_(None)]
        if before is not None:
            conditions.append(Message.created_at <= before)
        async with self.db.session() as s:
            row = (await s.execute(
                select(Message.thread_external_id, Message.external_id)
                .join(Channel, Channel.id == Message.channel_id).where(and_(*conditions))
                .order_by(Message.created_at.desc(), Message.id.desc()).limit(1))).one_or_none()
        return (row[0] or row[1]) if row else None

    async def channel_messages(self, tenant_id: str, channel_external_id: str, *, limit: int = 200
                               ) -> list[MessageRecord]:
        """The newest `limit` live messages of a channel, oldest first (for rendering a channel)."""
        async with self.db.session() as s:
            rows = (await s.execute(_message_query().where(
                Message.tenant_id == tenant_id, Channel.external_id == channel_external_id,
                Message.deleted.is_(False)).order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))).all()
        return [_record(r) for r in reversed(rows)]

    async def delete_channel(self, tenant_id: str, channel_external_id: str) -> tuple[int, int]:
        """Remove everything stored from one channel: its messages (with their vectors and, on PostgreSQL,
        their search rows: both go with the row) and the documents tied to it (their passages cascade).
        Returns (messages, documents) removed. The channel row itself stays: its rules live on it."""
        async with self.db.session() as s:
            channel_id = await s.scalar(select(Channel.id).where(Channel.tenant_id == tenant_id,
                                                                 Channel.external_id == channel_external_id))
            if channel_id is None:
                return 0, 0
            ids = select(Message.id).where(Message.channel_id == channel_id).scalar_subquery()
            await s.execute(delete(MessageEmbedding).where(MessageEmbedding.message_id.in_(ids)))
            messages = await s.execute(delete(Message).where(Message.channel_id == channel_id))
            documents = await s.execute(delete(Document).where(Document.channel_id == channel_id))
            return int(getattr(messages, "rowcount", 0) or 0), int(getattr(documents, "rowcount", 0) or 0)

    async def count(self, tenant_id: str | None = None) -> int:
        async with self.db.session() as s:
            query = select(func.count(Message.id)).where(Message.deleted.is_(False))
            if tenant_id is not None:
                query = query.where(Message.tenant_id == tenant_id)
            return int(await s.scalar(query) or 0)

    async def stream(self, tenant_id: str, *, after_id: int = 0, batch: int = 5000
                     ) -> AsyncIterator[list[MessageRecord]]:
        """Live messages of a tenant in id order, in batches (for building the index)."""
        last = after_id
        while True:
            async with self.db.session() as s:
                rows = (await s.execute(_message_query().where(
                    Message.tenant_id == tenant_id, Message.id > last, Message.deleted.is_(False),
                ).order_by(Message.id).limit(batch))).all()
            if not rows:
                return
            records = [_record(r) for r in rows]
            last = records[-1].id
            yield records

    async def index_rows(self, tenant_id: str, *, batch: int = 20000
                         ) -> AsyncIterator[list[tuple[int, int, str, int | None, datetime]]]:
        """(id, channel id, text, author id, created at) of live messages that are history, not whybot's
        own replies: the lightest read that can build a search index (with its scope and time
        filters) over millions of rows."""
        last = 0
        while True:
            async with self.db.session() as s:
                rows = (await s.execute(
                    select(Message.id, Message.channel_id, Message.text, Message.user_id, Message.created_at).where(
                        Message.tenant_id == tenant_id, Message.id > last, Message.deleted.is_(False),
                        Message.decision_id.is_(None)).order_by(Message.id).limit(batch))).tuples().all()
            if not rows:
                return
            last = rows[-1][0]
            yield list(rows)

    async def changes(self, tenant_id: str, *, after_id: int, edited_since: datetime, limit: int = 5000
                      ) -> list[tuple[int, int, str, bool, int | None, datetime]]:
        """(id, channel id, text, gone, author id, created at) of messages added after `after_id` or
        edited or deleted since `edited_since`: what another replica wrote, for an in-process index to
        catch up on. `gone` is True for deleted messages and for whybot's own replies (never evidence)."""
        columns = (Message.id, Message.channel_id, Message.text, Message.deleted, Message.decision_id,
                   Message.user_id, Message.created_at)
        # Two halves, not one OR: SQLite answered `tenant AND (id > a OR edited_at >= b)` by walking every
        # message of the tenant (265 ms at a million, every 2 s on the serving path; BENCHMARKS.md 3f); each half
        # has its own index. Each half stops at `limit` itself, so a replica far behind (a bulk import elsewhere)
        # never has the whole backlog unioned and sorted; the union drops a row both halves found.
        added = (select(*columns).where(Message.tenant_id == tenant_id, Message.id > after_id)
                 .order_by(Message.id).limit(limit).subquery())
        edited = (select(*columns).where(Message.tenant_id == tenant_id, Message.edited_at >= edited_since)
                  .order_by(Message.id).limit(limit).subquery())
        both = union(select(added), select(edited)).subquery()
        async with self.db.session() as s:
            rows = (await s.execute(select(both).order_by(both.c.id).limit(limit))).tuples().all()
        return [(i, c, text, deleted or decision is not None, user, created)
                for i, c, text, deleted, decision, user, created in rows]

    # documents -------------------------------------------------------------------------------

    async def upsert_document(self, tenant_id: str, path: str, title: str, text: str, *,
                              url: str | None = None, channel_external_id: str | None = None) -> DocumentRecord:
        channel_id = (await self.workspace.ensure_channel(tenant_id, channel_external_id)
                      if channel_external_id else None)
        values = {"tenant_id": tenant_id, "path": path, "title": title, "text": text, "url": url,
                  "channel_id": channel_id, "updated_at": datetime.now(UTC), "deleted": False}
        async with self.db.session() as s:
            await upsert(s, Document, values, conflict=["tenant_id", "path"],
                         update=["title", "text", "url", "channel_id", "updated_at", "deleted"])
            doc = await s.scalar(select(Document).where(Document.tenant_id == tenant_id, Document.path == path))
            assert doc is not None
            return _document(doc)

    async def documents(self, tenant_id: str, ids: Iterable[int] | None = None) -> list[DocumentRecord]:
        async with self.db.session() as s:
            query = select(Document).where(Document.tenant_id == tenant_id, Document.deleted.is_(False))
            if ids is not None:
                query = query.where(Document.id.in_(list(ids)))
            return [_document(d) for d in await s.scalars(query.order_by(Document.id))]
