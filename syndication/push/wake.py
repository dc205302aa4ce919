"""Waking the delivery engine as soon as push work is committed, in this process or another one.

A service that writes push work (an outbox event, a test ping, a replay…) calls `mark(session)`:
a flag on the session, nothing else. The `Waker` of the session's database, installed once per
process by its context (push/context.py), acts when that session commits:

- this process's engine is woken at once (every callback given to `subscribe`);
- on PostgreSQL the transaction also sends `NOTIFY syndication_push` (delivered on commit, to
  every process of every machine that listens on that database);
- on SQLite (one machine) a datagram goes to each process listening on the same database file:
  each registers its 127.0.0.1 UDP port as a file `<pid>-<port>` in `<database file>.wake/`.

`Waker.listen()` is what an engine process runs to hear other processes: `LISTEN` on a
connection of its own (PostgreSQL) or its UDP port (SQLite). Without it, or when a notification
is lost (a listener reconnecting), the engine still finds the work at its next `poll_interval`:
waking only shortens the wait, correctness never depends on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from syndication.db import Database

log = logging.getLogger(__name__)

CHANNEL = "syndication_push"
_MARK = "syndication.push_work_written"


def mark(session: Session) -> None:
    """Wake the push engine (here and in other processes) once `session` commits."""
    session.info[_MARK] = True


def wake_dir(engine: Engine) -> Path | None:
    """Where the listeners of a SQLite database register (None: an in-memory database)."""
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name).absolute()
    return path.with_name(path.name + ".wake")


class Waker:
    """The wake-up of one database in this process: install it once per Database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._listener: _Listener | None = None
        db.on_session_event("before_commit", self._before_commit)
        db.on_session_event("after_commit", self._after_commit)
        db.on_session_event("after_rollback", self._after_rollback)

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` (quickly, from any thread) whenever push work is committed; returns
        the function that unsubscribes it."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    def wake(self) -> None:
        """Wake this process's subscribers (as a local commit of push work does)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - one broken subscriber must not stop the others
                log.exception("push wake-up callback failed")

    def listen(self, timeout: float = 5.0) -> None:
        """Hear the commits of other processes too (idempotent)."""
        with self._lock:
            if self._listener is None:
                self._listener = _Listener(self)
                listener = self._listener
            else:
                return
        listener.start(timeout)

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sock, self._socket = self._socket, None
        if listener is not None:
            listener.stop()
        if sock is not None:
            sock.close()

    # -- session events ------------------------------------------------------------------------

    def _before_commit(self, session: Session) -> None:
        if session.info.get(_MARK) and not self.db.is_sqlite:
            session.connection().exec_driver_sql(f"NOTIFY {CHANNEL}")

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_MARK, False):
            self.wake()
            if self.db.is_sqlite:
                self._send_datagrams()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_MARK, None)

    def _send_datagrams(self) -> None:
        directory = wake_dir(self.db.engine)
        if directory is None:
            return
        try:
            names = os.listdir(directory)
        except OSError:
            return  # nobody listens
        with self._lock:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            for name in names:
                port = name.rpartition("-")[2]
                if port.isdigit():
                    with contextlib.suppress(OSError):  # a listener gone, a full buffer: it polls
                        self._socket.sendto(b"wake", ("127.0.0.1", int(port)))


class _Listener:
    """A thread that wakes the Waker whenever another process commits push work."""

    def __init__(self, waker: Waker) -> None:
        self.waker = waker
        self.db = waker.db
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-listener", daemon=True)
        self._ready = threading.Event()

    def start(self, timeout: float) -> None:
        self._thread.start()
        self._ready.wait(timeout)

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
                    self.waker.wake()  # anything committed while not listening is picked up now
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.waker.wake()
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
                self.waker.wake()
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
