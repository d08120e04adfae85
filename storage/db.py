"""Engine, sessions and migrations. The one place that knows which database we talk to."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, Connection, delete, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_lock

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
PURGE_BATCH = 500


class DatabaseNotUpgraded(RuntimeError):
    """The schema is behind the code; the operator should run `whybot db upgrade`."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or used at all; the message says where (no password) and why."""


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:" or "mode=memory" in url


class Database:
    """Owns the async engine. Pass it in; never reach for a module-level engine."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
            path = make_url(url).database or ""
            if sqlite_lock.AVAILABLE and not _in_memory(url) and not path.startswith("file:"):
                kwargs["connect_args"]["factory"] = sqlite_lock.connection_factory(path, SQLITE_BUSY_TIMEOUT_S)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # Single statements that change one row (claim, renew, finish a turn) need no transaction around
        # them: in autocommit the statement commits by itself, so SQLite's write lock is held only while it
        # runs, not across the event-loop hops to a separate COMMIT (during which a busy worker runs other
        # turns' CPU work and an ack waits). A shared-cache memory database cannot have a second engine.
        self.autocommit_engine: AsyncEngine | None = None
        # It also serves reads (`read`): a read in a transaction costs BEGIN and COMMIT round trips on
        # PostgreSQL (0.83 ms a read against 0.36 ms without, on loopback) and a COMMIT and a pool-return
        # ROLLBACK hop to aiosqlite's thread; an ask turn makes about seven. With every statement committed by
        # itself there is nothing to roll back when a connection goes back to the pool.
        if not (self.is_sqlite and _in_memory(url)):
            self.autocommit_engine = create_async_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                                                         **kwargs)
        for engine in (self.engine, self.autocommit_engine):
            if self.is_sqlite and engine is not None:
                event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.autocommit_sessions = (async_sessionmaker(self.autocommit_engine, expire_on_commit=False)
                                    if self.autocommit_engine is not None else None)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads outside a transaction: each statement sees what is committed when it runs,
        as READ COMMITTED gives a transaction's statements anyway. Core statements only (no ORM identity map)."""
        engine = self.autocommit_engine or self.engine
        async with engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits on its own: only for one statement that stands alone."""
        if self.autocommit_sessions is None:
            async with self.session() as session:
                yield session
            return
        async with self.autocommit_sessions() as session:
            yield session
            await session.commit()  # flushes what was added; each statement has already committed itself

    async def delete_in_batches(self, table: type[Any], *where: ColumnElement[bool]) -> int:
        """Delete the rows matching `where`, PURGE_BATCH at a time, each batch committed alone: one big DELETE
        would hold SQLite's write lock, and every ack waiting on it, for as long as it ran (0.3-0.5 s seen)."""
        deleted = 0
        while True:
            async with self.autocommit() as s:
                batch = select(table.id).where(*where).limit(PURGE_BATCH).scalar_subquery()
                result = await s.execute(delete(table).where(table.id.in_(batch)))
                count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < PURGE_BATCH:
                return deleted

    async def upgrade(self) -> None:
        """Apply Alembic migrations up to head on this engine's own connection."""
        cfg = alembic_config(self.url)

        def run(connection: Connection) -> None:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        async with self.engine.begin() as conn:
            await conn.run_sync(run)

    async def current_revision(self) -> str | None:
        def read(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        async with self.engine.connect() as conn:
            return await conn.run_sync(read)

    async def accepts_writes(self) -> None:
        """Raise unless the database takes a write now (a read-only file or replica, a full disk, no server).
        Rewrites the schema version with itself inside a transaction, so nothing changes."""
        async with self.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = version_num"))

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

    async def ensure_schema(self, *, auto_upgrade: bool) -> None:
        """Upgrade automatically where that is safe (SQLite, tests); otherwise demand the CLI step."""
        try:
            current = await self.current_revision()
        except (OSError, DBAPIError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise DatabaseUnavailable(f"cannot use the database at {redacted(self.url)}: {reason}") from exc
        head = self.head_revision()
        if current == head:
            return
        if auto_upgrade:
            log.info("upgrading database schema from %s to %s", current or "empty", head)
            await self.upgrade()
            return
        raise DatabaseNotUpgraded(
            f"database schema is at {current or 'nothing'}, code expects {head}: run `whybot db upgrade`"
        )

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.autocommit_engine is not None:
            await self.autocommit_engine.dispose()
