"""The SQLite writer lock: writers take turns through it, readers never wait for it, and it is always given
back (commit, rollback, a statement in autocommit, close). Real sqlite3 connections on a real file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from storage.sqlite_lock import WriterLockTimeout, connection_factory


def _connect(path: Path, timeout_s: float = 5.0) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), factory=connection_factory(str(path), timeout_s),
                                 check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.db"
    setup = _connect(path)
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.close()
    return path


def test_a_second_writer_waits_for_the_first_to_commit(db: Path) -> None:
    first, second = _connect(db), _connect(db)
    first.execute("INSERT INTO t VALUES (1)")  # opens the transaction and takes the writer lock
    order: list[str] = []

    def write() -> None:
        second.execute("INSERT INTO t VALUES (2)")
        order.append("second wrote")
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and order == []  # still waiting for its turn
    order.append("first committed")
    first.commit()
    thread.join(5)
    assert order == ["first committed", "second wrote"]
    assert [r[0] for r in second.execute("SELECT n FROM t ORDER BY n")] == [1, 2]


def test_readers_do_not_wait_for_a_writer(db: Path) -> None:
    writer, reader = _connect(db), _connect(db)
    writer.execute("INSERT INTO t VALUES (1)")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)  # the last committed state, at once
    writer.commit()
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_the_lock_is_given_back_when_a_transaction_ends_without_commit(db: Path, end: str) -> None:
    first, second = _connect(db), _connect(db, timeout_s=1.0)
    first.execute("INSERT INTO t VALUES (1)")
    getattr(first, end)()
    second.execute("INSERT INTO t VALUES (2)")
    second.commit()
    assert second.execute("SELECT n FROM t").fetchall() == [(2,)]


def test_a_statement_in_autocommit_gives_the_lock_back(db: Path) -> None:
    first, second = _connect(db), _connect(db, timeout_s=1.0)
    first.execute("CREATE TABLE u (n INTEGER)")  # DDL runs outside a transaction in Python's sqlite3
    second.execute("INSERT INTO u VALUES (1)")
    second.commit()


def test_a_writer_kept_waiting_past_the_busy_timeout_gets_database_is_locked(db: Path) -> None:
    first, second = _connect(db), _connect(db, timeout_s=0.2)
    first.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="database is locked") as caught:
        second.execute("INSERT INTO t VALUES (2)")
    assert isinstance(caught.value, WriterLockTimeout)
    first.commit()
    second.execute("INSERT INTO t VALUES (2)")  # nothing was left held by the failed attempt
    second.commit()
