"""The SQLite database under the data directory: connections, transactions, migrations.

One file in WAL mode with `synchronous=NORMAL`: a commit survives the server being killed at any
moment (SIGKILL included); only an operating-system crash can lose the last commits. Every
operation runs in exactly one transaction: `read()` for a consistent snapshot, `write()` for
changes, serialised by one process-wide lock so concurrent writers queue instead of spinning
on SQLITE_BUSY.
A lock file keeps a second server away from the same data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import IO

from fakerek.store.schema import MIGRATIONS, TABLES

DB_NAME = "fakerek.sqlite3"

# The handles the store's functions take: a connection inside `Store.read()` (`Conn`) or
# `Store.write()` (`Tx`). Callers pass them on to store functions and never query them.
Conn = sqlite3.Connection
Tx = sqlite3.Connection
# What a read or a write raises when the database fails it (a full disk, an I/O error, a lock).
DatabaseError = sqlite3.Error


class DataDirInUse(RuntimeError):
    """Another fakerek process holds the data directory."""


class SchemaTooNew(RuntimeError):
    """The database was written by a newer fakerek."""


class StoreClosed(RuntimeError):
    """The store was closed: the server is stopping."""


# What a write failing with these means: the database cannot be written now (a full disk, an
# I/O error, a lock held elsewhere), not that the change was wrong.
UNWRITABLE = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
}


class Store:
    """The database of one data directory. `close()` closes the connections not in use at once
    and the others when their transaction ends (a background job may still be running): a
    connection is never closed under a thread that uses it.

    `write_failure` is why the last write failed when the database could not be written (a
    full disk...), None once a write succeeds again: what the health check reports."""

    def __init__(self, data_dir: str):
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self._lock_file = _lock_data_dir(self.data_dir)
        self.path = os.path.join(self.data_dir, DB_NAME)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._busy: dict[sqlite3.Connection, int] = {}  # transactions open on each connection
        self._closed = False
        self._closing = threading.Event()
        self.write_failure: str | None = None
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._migrate()

    # -- connections and transactions ----------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosed(f"the store of {self.data_dir} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _in_use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, counted busy until the block ends."""
        conn = self._connection()
        with self._connections_lock:
            if self._closed and conn not in self._busy:  # closed since: it may be closed too
                raise StoreClosed(f"the store of {self.data_dir} is closed")
            self._busy[conn] = self._busy.get(conn, 0) + 1
        try:
            yield conn
        finally:
            with self._connections_lock:
                self._busy[conn] -= 1
                if not self._busy[conn]:
                    del self._busy[conn]
                    if self._closed:
                        self._close(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Conn]:
        """A snapshot: every query inside sees the same committed state."""
        with self._in_use() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """One atomic change: committed when the block ends, rolled back if it raises."""
        with self._in_use() as conn, self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:  # the block raised, or the commit failed
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
            except sqlite3.Error as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF in UNWRITABLE:
                    self.write_failure = str(error)
                raise
            self.write_failure = None

    def next_ms(self, conn: Tx, now_ms: int) -> int:
        """A creation time in epoch ms, strictly later than every one issued before.

        ARNs end with it and must be unique, so two creations in one millisecond get consecutive
        values. Call inside `write()`; the clock is stored, so it holds across restarts.
        """
        return scalar(
            conn, "UPDATE clock SET last_ms = max(last_ms + 1, ?) RETURNING last_ms", (now_ms,)
        )

    def last_ms(self) -> int:
        """The latest time the store has recorded (a creation time, or the clock at the last
        stop): where a restarted server's clock runs on from if wall time is behind it."""
        with self.read() as conn:
            return scalar(conn, "SELECT last_ms FROM clock")

    def keep_time(self, now_ms: int) -> None:
        """Record the clock's time at a stop (a test may have moved it ahead of wall time)."""
        with self.write() as tx:
            tx.execute("UPDATE clock SET last_ms = max(last_ms, ?)", (now_ms,))

    def rewind(self, now_ms: int) -> None:
        """After a reset that brought a test's advanced clock back to wall time: creation times
        follow it back instead of staying ahead. (ARNs are unique across resets except those
        issued while the clock ran ahead, which a later creation of the same name in the very
        same millisecond could repeat.)"""
        with self.write() as tx:
            tx.execute("UPDATE clock SET last_ms = min(last_ms, ?)", (now_ms,))

    # -- lifecycle -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = self._connection()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise SchemaTooNew(
                f"{self.path} has schema version {version}; this fakerek knows up to "
                f"{len(MIGRATIONS)}. Upgrade fakerek or use another --data-dir."
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.write() as tx:
                for statement in script:
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number}")

    def reset(self) -> None:
        """Forget every resource of every account and region."""
        with self.write() as tx:
            for table in TABLES:
                tx.execute(f"DELETE FROM {table}")

    def wait_closed(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, or less if the store closes: whether it closed (work
        that retries a write stops retrying then)."""
        return self._closing.wait(timeout)

    def close(self) -> None:
        """No transaction may start any more; idle connections close now, busy ones when their
        transaction ends, and the data directory is released after the last one."""
        self._closing.set()
        with self._connections_lock:
            self._closed = True
            for conn in [c for c in self._connections if c not in self._busy]:
                self._close(conn)
            if not self._connections and not self._lock_file.closed:
                self._lock_file.close()

    def _close(self, conn: sqlite3.Connection) -> None:
        """Close one connection (holding the connections lock)."""
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        self._connections.remove(conn)
        if not self._connections:
            self._lock_file.close()


Params = Sequence[object] | Mapping[str, object]


def scalar(conn: Conn, query: str, params: Params = ()) -> int:
    """The one integer a query answers (a count, a max, a RETURNING id)."""
    value = conn.execute(query, params).fetchone()[0]
    assert isinstance(value, int), query
    return value


def row_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT just gave its row."""
    assert cursor.lastrowid is not None, "not an INSERT"
    return cursor.lastrowid


def placeholders(prefix: str, count: int) -> str:
    """Named SQL parameters `:p0, :p1, ...` for an IN list."""
    return ", ".join(f":{prefix}{i}" for i in range(count))


def _lock_data_dir(data_dir: str) -> IO[str]:
    handle = open(os.path.join(data_dir, "fakerek.lock"), "a+")  # noqa: SIM115 - held until close
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataDirInUse(
            f"{data_dir} is in use by another fakerek server; stop it or choose another --data-dir."
        ) from None
    return handle
