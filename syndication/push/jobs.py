"""The push jobs the scheduler runs, and the wake-up.

`push` = dispatch_events (events → deliveries) then send_due (deliveries → HTTP). It runs every
`poll_interval` seconds (retries coming due, missed wake-ups) and at once when push work is
committed, by this process or another one (push/wake.py sets WAKE; the waker thread here runs
the job right away).
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import UTC, datetime

from syndication.config import Settings
from syndication.db import Database
from syndication.push import dispatch
from syndication.push.sender import Sender
from syndication.push.wake import WAKE

log = logging.getLogger(__name__)

_senders: weakref.WeakKeyDictionary[Database, Sender] = weakref.WeakKeyDictionary()
_senders_lock = threading.Lock()


def sender_for(db: Database, settings: Settings) -> Sender:
    """The process's Sender for `db` (one HTTP pool and thread pool per database)."""
    with _senders_lock:
        sender = _senders.get(db)
        if sender is None or sender.settings is not settings:
            if sender is not None:
                sender.close()
            sender = _senders[db] = Sender(db, settings)
        return sender


def close_senders() -> None:
    with _senders_lock:
        for sender in list(_senders.values()):
            sender.close()
        _senders.clear()


def dispatch_events(db: Database, settings: Settings) -> int:
    """Expand undispatched events into deliveries; returns how many were created."""
    return dispatch.dispatch_events(db)


def send_due(db: Database, settings: Settings, stop: threading.Event | None = None) -> int:
    """Send every due delivery; returns how many attempts (and throttle deferrals) it recorded."""
    return sender_for(db, settings).send_due(stop)


class PushJob:
    """dispatch + send, rerun while wake-ups arrive during a run (none is lost)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def __call__(self) -> None:
        with self._lock:
            self._running = True
            self._again = False
        try:
            while not self.stop.is_set():
                try:
                    dispatch_events(self.db, self.settings)
                    send_due(self.db, self.settings, self.stop)
                except Exception:
                    log.exception("push job failed")
                    return
                with self._lock:
                    if not self._again:
                        return
                    self._again = False
        finally:
            with self._lock:
                self._running = False

    def wake(self) -> bool:
        """Ask for a run now: True if the caller must start one, False if the running one
        will loop once more."""
        with self._lock:
            if self._running:
                self._again = True
                return False
            return True


def waker(scheduler, job: PushJob, job_id: str, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    """Thread body: run the push job as soon as WAKE is set."""
    while not stop.is_set():
        if not WAKE.wait(timeout=0.5):
            continue
        WAKE.clear()
        if job.wake():
            try:
                scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
            except Exception:  # noqa: BLE001 - the scheduler is shutting down
                return
