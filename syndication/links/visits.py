"""Short link visits, buffered in memory and written in batches.

The redirect never waits for a database write: it appends to this process's buffer, and a
flusher thread writes the buffer every `visit_flush_interval` seconds, in one transaction, and
once more when the process exits. A failed write keeps the visits for the next attempt, so
none is lost; every web worker has its own buffer.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import util as mp_util

from sqlalchemy import insert, update

from syndication.db import Database
from syndication.models import Link, Visit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PendingVisit:
    link_id: int
    at: datetime
    medium: str  # "link" or "qr"
    is_bot: bool
    referrer_host: str | None


class VisitBuffer:
    def __init__(self, db: Database, interval: float) -> None:
        self._db = db
        self._interval = interval
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time, so order and counts hold
        self._items: list[PendingVisit] = []
        self._humans: Counter[int] = Counter()  # recorded but not yet written, per link
        self._pid: int | None = None
        self._stop = threading.Event()

    def record(self, visit: PendingVisit) -> None:
        with self._lock:
            self._items.append(visit)
            if not visit.is_bot:
                self._humans[visit.link_id] += 1
            if self._pid != os.getpid():
                self._start()

    def pending_humans(self, link_id: int) -> int:
        return self._humans.get(link_id, 0)

    def __len__(self) -> int:
        return len(self._items)

    def flush(self) -> int:
        """Write what is buffered; returns how many visits were written."""
        with self._flush_lock:
            with self._lock:
                items, self._items = self._items, []
            if not items:
                return 0
            humans = Counter(v.link_id for v in items if not v.is_bot)
            try:
                with self._db.write() as session:
                    session.execute(
                        insert(Visit),
                        [
                            {
                                "link_id": v.link_id,
                                "at": v.at,
                                "medium": v.medium,
                                "is_bot": v.is_bot,
                                "referrer_host": v.referrer_host,
                            }
                            for v in items
                        ],
                    )
                    for link_id, count in humans.items():
                        session.execute(
                            update(Link)
                            .where(Link.id == link_id)
                            .values(human_visits=Link.human_visits + count)
                        )
            except Exception:
                log.exception(
                    "could not write %d visits; keeping them for the next flush", len(items)
                )
                with self._lock:
                    self._items[:0] = items
                return 0
            with self._lock:
                self._humans.subtract(humans)
                for link_id in [k for k, n in self._humans.items() if n <= 0]:
                    del self._humans[link_id]
            return len(items)

    def _start(self) -> None:
        """Start this process's flusher (called with the lock held, once per process)."""
        self._pid = os.getpid()
        self._stop = threading.Event()
        thread = threading.Thread(target=self._run, name="visit-flusher", daemon=True)
        thread.start()
        # Flush on the way out: atexit for ordinary interpreters, multiprocessing's
        # finalizers for worker processes that leave through os._exit (granian's do).
        atexit.register(self.close)
        mp_util.Finalize(self, self.close, exitpriority=100)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
