"""Short link visits, buffered in memory and written in batches.

The redirect never waits for a database write: it appends to this process's buffer, and a
flusher thread writes the buffer every `visit_flush_interval` seconds, in one transaction, and
once more when the process exits. A failed write puts the visits back for the next attempt, so
none is lost; every web worker has its own buffer.

A link's human visits are the `links.human_visits` the redirect read plus those of this
process that the read did not see. Every visit is in exactly one place — buffered, or in a
batch being written — and a batch is counted only if the read missed it, so a flush is never
counted twice (a false 410 "used up") nor missed (a visit past `max_visits`). Whether a read saw
a batch is decided from the database itself: the batch's UPDATE returns the count it leaves, and
as increments of one row are serialised (row lock, SQLite's single writer) a read saw the batch
exactly when it shows at least that count. A read that started before any batch still
remembered here settled is too old to place, and is done again (`admit` answers None).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy import insert, update

from syndication.db import Database
from syndication.flusher import PeriodicFlush
from syndication.models import Link, Visit

log = logging.getLogger(__name__)

# Written batches remembered for reads still under way; a read that spans more flushes than
# this (seconds each) is simply read again.
RECENT_BATCHES = 8


@dataclass(frozen=True, slots=True)
class PendingVisit:
    link_id: int
    at: datetime
    medium: str  # "link" or "qr"
    is_bot: bool
    referrer_host: str | None


@dataclass(slots=True)
class _Batch:
    """Visits taken out of the buffer by one flush."""

    items: list[PendingVisit]
    humans: Counter[int]  # human visits per link
    # Per link, `human_visits` as this batch's UPDATE leaves it; set inside the transaction,
    # before the commit, so that it is known whenever a read can see the batch.
    after: dict[int, int] = field(default_factory=dict)

    def unseen_by(self, link_id: int, counted: int) -> int:
        """The human visits of `link_id` in this batch that a read showing `counted` missed."""
        n = self.humans.get(link_id, 0)
        if not n:
            return 0
        after = self.after.get(link_id)
        return n if after is None or counted < after else 0


class VisitBuffer:
    def __init__(self, db: Database, interval: float, gauge: Gauge | None = None) -> None:
        self._db = db
        # The metric of visits buffered (ops/metrics.py): set under the lock, on every change.
        self._gauge = gauge
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time, so order and counts hold
        self._items: list[PendingVisit] = []
        self._humans: Counter[int] = Counter()  # buffered human visits per link
        self._in_flight: _Batch | None = None  # the batch being written
        self._settled = 0  # flushes over (written or put back): a read's starting point
        self._recent: deque[tuple[int, _Batch | None]] = deque(maxlen=RECENT_BATCHES)
        self._flusher = PeriodicFlush(self.flush, interval, "visit-flusher")

    def token(self) -> int:
        """Take before reading a link's `human_visits`; hand to `admit` with what was read."""
        with self._lock:
            return self._settled

    def admit(
        self, visit: PendingVisit, *, token: int, counted: int, limit: int | None
    ) -> bool | None:
        """Record `visit` unless its link has used up `limit` human visits: `counted` is the
        link's `human_visits` read after `token()` returned `token`. True if recorded, False if
        used up, None if the read is too old to judge (read again). Checking and recording under
        one lock keeps this process's concurrent redirects from passing the limit together."""
        with self._lock:
            if limit is not None:
                unseen = self._unseen(visit.link_id, token, counted)
                if unseen is None:
                    return None
                if counted + unseen >= limit:
                    return False
            self._items.append(visit)
            if not visit.is_bot:
                self._humans[visit.link_id] += 1
            self._measure()
            self._flusher.ensure_started()
            return True

    def record(self, visit: PendingVisit) -> None:
        """Record `visit` whatever its link's limit."""
        self.admit(visit, token=0, counted=0, limit=None)

    def _unseen(self, link_id: int, token: int, counted: int) -> int | None:
        """This process's human visits of `link_id` that a read made after `token` and showing
        `counted` did not see (called with the lock held)."""
        if self._settled - token > RECENT_BATCHES:
            return None
        n = self._humans.get(link_id, 0)
        # Batches settled before the token was taken were committed before the read began.
        for seq, batch in self._recent:
            if seq > token and batch is not None:
                n += batch.unseen_by(link_id, counted)
        if self._in_flight is not None:
            n += self._in_flight.unseen_by(link_id, counted)
        return n

    def __len__(self) -> int:
        with self._lock:
            return self._buffered()

    def _buffered(self) -> int:
        in_flight = len(self._in_flight.items) if self._in_flight else 0
        return len(self._items) + in_flight

    def _measure(self) -> None:
        """Publish the count of visits buffered (called with the lock held)."""
        if self._gauge is not None:
            self._gauge.set(self._buffered())

    def flush(self) -> int:
        """Write what is buffered; returns how many visits were written."""
        with self._flush_lock:
            with self._lock:
                if not self._items:
                    return 0
                batch = _Batch(self._items, self._humans)
                self._items, self._humans = [], Counter()
                self._in_flight = batch
            written = False
            try:
                with self._db.write() as session:
                    after: dict[int, int] = {}
                    # In link order, so that two workers' flushes never wait on each other's
                    # row locks in a cycle (a deadlock on PostgreSQL).
                    for link_id, count in sorted(batch.humans.items()):
                        value = session.execute(
                            update(Link)
                            .where(Link.id == link_id)
                            .values(human_visits=Link.human_visits + count)
                            .returning(Link.human_visits)
                        ).scalar_one_or_none()
                        if value is not None:
                            after[link_id] = value
                    with self._lock:
                        batch.after = after
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
                            for v in batch.items
                        ],
                    )
                written = True
            except Exception:
                log.exception(
                    "could not write %d visits; keeping them for the next flush", len(batch.items)
                )
            finally:
                # Also on KeyboardInterrupt and the like: a batch is never left in limbo.
                self._settle(batch, written)
            return len(batch.items) if written else 0

    def _settle(self, batch: _Batch, written: bool) -> None:
        with self._lock:
            self._in_flight = None
            self._settled += 1
            if written:
                self._recent.append((self._settled, batch))
            else:
                # Back in front of what came meanwhile, so the order of visits holds.
                self._items[:0] = batch.items
                self._humans.update(batch.humans)
                self._recent.append((self._settled, None))
            self._measure()

    def close(self) -> None:
        self._flusher.close()
