"""One writer at a time on a SQLite file, queued in the kernel instead of by SQLite's busy handler.

SQLite lets one connection write at a time; the others get SQLITE_BUSY and its busy handler sleeps and
retries with growing pauses (1, 2, 5 … 100 ms). With the web process committing turns before its acks while
a worker process writes decisions, a waiting ack often slept 100 ms past the moment the file was free: ack
p99 reached hundreds of milliseconds (BENCHMARKS.md, 1b). Here every connection takes an advisory lock on a
file beside the database (`<db>-writer`) before its transaction's first write and gives it back at commit or
rollback, polling it at a fine grain, so a waiting writer gets the file within a fraction of a millisecond
of its release. SQLite's own locking stays underneath, unchanged, for anything that does not take this
lock (the sqlite3 shell, an old whybot).

Python's sqlite3 (3.11, legacy transaction control) opens a transaction implicitly before the first
INSERT, UPDATE, DELETE or REPLACE; reads before it run in autocommit and hold nothing. So "the
transaction's first write" is the first such statement while the connection is not in a transaction.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, Self

try:
    import fcntl
except ImportError:  # Windows: no flock; SQLite's own busy handler alone decides who writes
    fcntl = None  # type: ignore[assignment]

AVAILABLE = fcntl is not None

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "WITH")
FINE_POLL_S = 0.0002  # re-try this often for the first FINE_FOR_S of a wait …
FINE_FOR_S = 0.05
COARSE_POLL_S = 0.002  # … then this often, until the busy timeout


class WriterLockTimeout(sqlite3.OperationalError):
    """Another connection kept the writer lock longer than the busy timeout (reads as 'database is locked')."""


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(WRITES)


class WriterLock:
    """An exclusive flock on one file; one instance per connection (flock locks belong to the open file)."""

    def __init__(self, path: str, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.fd: int | None = None
        self.held = False

    def acquire(self) -> None:
        if self.held:
            return
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.held = True
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            waited = time.monotonic() - started
            if waited >= self.timeout_s:
                raise WriterLockTimeout(f"database is locked (no writer turn within {self.timeout_s:.0f}s)")
            time.sleep(FINE_POLL_S if waited < FINE_FOR_S else COARSE_POLL_S)

    def release(self) -> None:
        if self.held and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        self.release()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _LockingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        return self._locked(sql, lambda: super(_LockingCursor, self).execute(sql, parameters))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Self:
        return self._locked(sql, lambda: super(_LockingCursor, self).executemany(sql, seq_of_parameters))

    def _locked(self, sql: str, run: Callable[[], Self]) -> Self:
        connection = self.connection
        assert isinstance(connection, LockingConnection)
        connection.before(sql)
        try:
            return run()
        finally:
            connection.after()


class LockingConnection(sqlite3.Connection):
    """A sqlite3 connection that holds the writer lock from its transaction's first write to its end."""

    writer_lock: WriterLock

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _LockingCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def before(self, sql: str) -> None:
        if not self.in_transaction and _is_write(sql):
            self.writer_lock.acquire()

    def after(self) -> None:
        """A statement that ran in autocommit (DDL, a failed implicit BEGIN) is over: so is its turn."""
        if not self.in_transaction:
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.writer_lock.release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.writer_lock.release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.writer_lock.close()


def connection_factory(database_path: str, timeout_s: float) -> type[LockingConnection]:
    """The `factory` for sqlite3.connect: connections to `database_path` share `<path>-writer`."""
    lock_path = f"{database_path}-writer"

    class _Connection(LockingConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.writer_lock = WriterLock(lock_path, timeout_s)

    return _Connection
