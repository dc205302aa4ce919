"""Waking the push job as soon as work for it is committed, in this process or another one.

A session that writes push work (an outbox event, a test ping, a replay…) calls `mark`. When it
commits:

- this process's scheduler is woken at once (`WAKE`, watched by push/jobs.py's waker thread);
- on PostgreSQL the transaction also sends `NOTIFY syndication_push` (delivered on commit, to
  every process of every machine that listens on that database);
- on SQLite (one machine) a datagram goes to each process listening on the same database file:
  each registers its 127.0.0.1 UDP port as a file `<pid>-<port>` in `<database file>.wake/`.

`Listener` is what a scheduler process runs to hear other processes: `LISTEN` on a connection of
its own (PostgreSQL) or its UDP port (SQLite). Without it, or when a notification is lost (a
listener reconnecting), the job still finds the work at its next `poll_interval`: waking only
shortens the wait, correctness never depends on it. So the web processes of `syndication run`,
`syndication import` and the API push within milliseconds instead of up to a poll interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from syndication.db import Database

log = logging.getLogger(__name__)

# Set when a session of this process committed push work.
WAKE = threading.Event()
CHANNEL = "syndication_push"
_MARK = "syndication.push_work_written"
_sender_socket: socket.socket | None = None
_sender_lock = threading.Lock()


def mark(session: Session) -> None:
    """Wake the push job (here and in other processes) once `session` commits."""
    session.info[_MARK] = True


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_MARK) and session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"NOTIFY {CHANNEL}")


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_MARK, False):
        WAKE.set()
        bind = session.get_bind()
        if bind.dialect.name == "sqlite":
            _send_datagrams(bind)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_MARK, None)


def wake_dir(engine: Engine) -> Path | None:
    """Where the listeners of a SQLite database register (None: an in-memory database)."""
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name).absolute()
    return path.with_name(path.name + ".wake")


def _send_datagrams(engine: Engine) -> None:
    global _sender_socket
    directory = wake_dir(engine)
    if directory is None:
        return
    try:
        names = os.listdir(directory)
    except OSError:
        return  # nobody listens
    with _sender_lock:
        if _sender_socket is None:
            _sender_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            _sender_socket.setblocking(False)
        for name in names:
            port = name.rpartition("-")[2]
            if port.isdigit():
                with contextlib.suppress(OSError):  # a listener gone, a full buffer: it polls
                    _sender_socket.sendto(b"wake", ("127.0.0.1", int(port)))


class Listener:
    """A thread that sets WAKE whenever another process commits push work on `db`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-listener", daemon=True)
        self._ready = threading.Event()

    def start(self, timeout: float = 5.0) -> Listener:
        self._thread.start()
        self._ready.wait(timeout)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            if self.db.is_sqlite:
                self._run_sqlite()
            else:
                self._run_postgresql()
        finally:
            self._ready.set()

    def _run_postgresql(self) -> None:
        while not self._stop.is_set():
            try:
                # A connection of its own, out of the pool: it stays in LISTEN for good.
                pooled = self.db.engine.raw_connection()
                conn = pooled.driver_connection
                pooled.detach()
                try:
                    conn.rollback()  # the pool's liveness check may have opened a transaction
                    conn.autocommit = True
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    WAKE.set()  # anything committed while not listening is picked up now
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            WAKE.set()
                finally:
                    with contextlib.suppress(Exception):
                        conn.close()
            except Exception:  # noqa: BLE001 - a lost connection: listen again shortly
                log.warning("push listener lost its database connection", exc_info=True)
                self._ready.set()
                self._stop.wait(2.0)

    def _run_sqlite(self) -> None:
        directory = wake_dir(self.db.engine)
        if directory is None:
            return
        directory.mkdir(exist_ok=True)
        _remove_stale(directory)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        entry = directory / f"{os.getpid()}-{sock.getsockname()[1]}"
        entry.touch()
        self._ready.set()
        try:
            while not self._stop.is_set():
                try:
                    sock.recv(64)
                except TimeoutError:
                    continue
                except OSError:
                    self._stop.wait(1.0)
                    continue
                WAKE.set()
        finally:
            with contextlib.suppress(OSError):
                entry.unlink()
            sock.close()


def _remove_stale(directory: Path) -> None:
    """Drop the entries of processes that are gone (killed before they could remove them)."""
    for entry in directory.iterdir():
        pid = entry.name.partition("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                entry.unlink()
        except PermissionError:
            pass  # alive, another user's
