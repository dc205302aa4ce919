"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL.

SQLite: WAL mode so readers never wait for a writer, and every write transaction takes the
lock up front (BEGIN IMMEDIATE) with a busy timeout. A deferred transaction that reads first and
writes later fails with "database is locked" when another process wrote in between, whatever
the timeout; an immediate one simply waits its turn. Readers use plain deferred BEGIN.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 30_000
RAW_IDLE_MAX = 8  # idle raw connections kept for fetch_one; more are closed after use
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        # isolation_level=None hands transaction control to us (see _begin) instead of
        # pysqlite's own implicit, deferred BEGIN.
        connect_args={
            "timeout": BUSY_TIMEOUT_MS / 1000,
            "isolation_level": None,
            "check_same_thread": False,
        },
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Database:
    """One per process: the engines and the session factories for writes and reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(url)
        else:
            self.engine = create_engine(
                url,
                pool_size=10,
                max_overflow=20,
                pool_pre_ping=True,
                # Pages read a few hundred index rows; on big archives the planner reaches
                # for parallel workers whose start-up costs more than the query
                # (bench/archive_scale.py: 7 ms vs 0.7 ms at 1M stories).
                connect_args={"options": "-c max_parallel_workers_per_gather=0"},
            )
        self.read_engine = self.engine.execution_options(readonly=True)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)
        self._raw: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def on_session_event(self, name: str, fn: Callable[[Session], None]) -> None:
        """Call `fn(session)` on a Session event ("before_commit", "after_commit"…) of this
        database's write sessions only (not of every Session in the process)."""
        event.listen(self._writer, name, fn)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._writer() as session, session.begin():
            yield session

    def pinned(self) -> PinnedWriter:
        """Write transactions on one connection kept between them, for a loop that writes many
        times a second on one thread (the push engine): see PinnedWriter."""
        return PinnedWriter(self)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def fetch_one(self, sql: str, params: Sequence[Any]) -> tuple | None:
        """One row of a tiny read query, on a raw connection kept for this purpose.

        For the hottest paths only (feed cache check, short link lookup): it skips the session,
        the pool's bookkeeping and statement compilation, which cost far more than the query.
        The connections are in autocommit mode, so every call sees the latest committed data.
        `sql` uses `?` placeholders on either engine.
        """
        try:
            conn = self._raw.get_nowait()
        except queue.Empty:
            conn = self._open_raw()
        try:
            cur = conn.cursor()
            cur.execute(sql if self.is_sqlite else sql.replace("?", "%s"), params)
            row = cur.fetchone()
            cur.close()
        except Exception:
            # A broken connection (server restart…) is dropped; the next call opens another.
            with contextlib.suppress(Exception):
                conn.close()
            raise
        if self._raw.qsize() < RAW_IDLE_MAX:
            self._raw.put(conn)
        else:
            conn.close()
        return row

    def _open_raw(self) -> Any:
        fairy = self.engine.raw_connection()
        fairy.detach()  # ours for good: the pool must not hand it to anyone else
        conn = fairy.dbapi_connection
        if not self.is_sqlite:
            conn.autocommit = True
        return conn

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest revision (idempotent)."""
        with self.engine.begin() as conn:
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def is_current(self) -> bool:
        return "alembic_version" in inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        while not self._raw.empty():
            with contextlib.suppress(Exception):
                self._raw.get_nowait().close()
        self.engine.dispose()


class PinnedWriter:
    """`Database.write` on one connection held from one transaction to the next, by one thread.

    Each pool checkout costs bookkeeping and, on PostgreSQL, a pre-ping (a round trip) before
    the transaction; the push engine writes a dozen transactions per 1,000 deliveries on each
    of two threads. A transaction that fails gives its connection back (it may be broken: the
    next one checks out a fresh, pinged one), so this is as robust as `write`. `close()` gives
    it back for good. Not thread-safe: one per thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.is_sqlite = db.is_sqlite
        self._conn: Connection | None = None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, as `Database.write` (the same session events fire)."""
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conn = self.db.engine.connect()
        try:
            with self.db._writer(bind=conn) as session, session.begin():
                yield session
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
