"""Feed requests counted off the request path: a request sets (channel, User-Agent, address,
UTC day) -> time in this process's buffer, under a lock, and nothing else (a client polling
again before the next flush costs no more than a dict update); the flusher thread
(flusher.PeriodicFlush, as for short link visits) reads the User-Agents, hashes the clients and
writes one transaction every `reach_flush_interval` seconds, and once more at exit.

What is written, per channel and UTC day (models.ReachReport, models.ReachClient):
- a reader that states a count: its latest count per feed id (the request's time decides);
- any other client: HMAC-SHA256(day key, address + User-Agent) cut to 64 bits, where the day
  key is HMAC-SHA256(secret_key, "reach-day:" + the UTC date). The address itself is never
  stored, and without the secret key one day's hashes cannot be matched with another's.

A failed write keeps its tally for the next flush (merged: the latest count still wins, a
client still counts once), so nothing counted is lost while the database is away; the tally is
bounded by distinct (channel, day, reader, feed id) and clients, not by requests. Distinct
requests beyond `reach_buffer_max` waiting for one flush are dropped and logged, never queued
without bound.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from syndication.db import Database
from syndication.flusher import PeriodicFlush
from syndication.models import Channel, ReachClient, ReachReport
from syndication.reach.readers import identify

log = logging.getLogger(__name__)

Key = tuple[int, str, str, date]  # channel id, User-Agent, client address, UTC day
CLIENT_HEX = 16  # 64 bits of the hash: collisions stay negligible below millions a day


@dataclass
class Tally:
    """Hits reduced to what is stored: latest counts, and distinct clients."""

    # (channel, day, reader, feed id) -> (count, time stated)
    reports: dict[tuple[int, date, str, str], tuple[int, datetime]] = field(default_factory=dict)
    # (channel, day, client hash) -> reader name
    clients: dict[tuple[int, date, str], str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.reports or self.clients)

    def report(self, key: tuple[int, date, str, str], count: int, at: datetime) -> None:
        held = self.reports.get(key)
        if held is None or held[1] <= at:
            self.reports[key] = (count, at)

    def merge(self, other: Tally) -> None:
        for key, (count, at) in other.reports.items():
            self.report(key, count, at)
        for key, reader in other.clients.items():
            self.clients.setdefault(key, reader)


class ReachBuffer:
    def __init__(
        self,
        db: Database,
        interval: float,
        *,
        enabled: bool = True,
        max_items: int = 100_000,
    ) -> None:
        self._db = db
        self._secret: bytes | None = None  # the app's secret_key (create_app hands it over)
        self.enabled = enabled
        self._max = max_items
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._items: dict[Key, datetime] = {}  # -> the latest request's time
        self._held = Tally()  # what failed to be written, for the next flush
        self._day_keys: dict[date, hmac.HMAC] = {}
        self.dropped = 0
        self._flusher = PeriodicFlush(self.flush, interval, "reach-flusher")

    def use_secret(self, secret_key: str) -> None:
        """The key the daily hash keys derive from (the app's `secret_key`)."""
        self._secret = secret_key.encode()
        self._day_keys.clear()

    def hit(self, channel_id: int, user_agent: str, address: str, at: datetime) -> None:
        """Count one feed request (the hot path: an append, nothing more)."""
        if not self.enabled:
            return
        key = (channel_id, user_agent, address, at.date())
        with self._lock:
            items = self._items
            if key in items or len(items) < self._max:
                items[key] = at
            else:
                self.dropped += 1
            self._flusher.ensure_started()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def flush(self) -> int:
        """Write what is buffered and what an earlier flush could not; returns how many
        distinct requests (channel, User-Agent, address, day) were taken from the buffer."""
        with self._flush_lock:
            with self._lock:
                items, self._items = self._items, {}
                dropped, self.dropped = self.dropped, 0
            if dropped:
                log.warning("reach: %d feed requests not counted (reach_buffer_max)", dropped)
            tally, self._held = self._held, Tally()
            try:
                tally.merge(self._tally(items))
            except Exception:  # no secret key yet, say: the requests wait, the thread lives
                log.exception("could not read feed reach; keeping it for the next flush")
                with self._lock:
                    for key, at in items.items():  # newer ones, counted meanwhile, win
                        self._items.setdefault(key, at)
                self._held = tally
                return 0
            if not tally:
                return len(items)
            try:
                self._write(tally)
            except Exception:
                log.exception("could not write feed reach; keeping it for the next flush")
                self._held.merge(tally)
            return len(items)

    def close(self) -> None:
        self._flusher.close()

    def _tally(self, items: dict[Key, datetime]) -> Tally:
        tally = Tally()
        for (channel_id, user_agent, address, day), at in items.items():
            reader = identify(user_agent)
            if reader is None:
                continue
            if reader.subscribers is not None:
                key = (channel_id, day, reader.name, reader.feed_key)
                tally.report(key, reader.subscribers, at)
            else:
                client = self.client_hash(day, address, user_agent)
                tally.clients.setdefault((channel_id, day, client), reader.name)
        return tally

    def client_hash(self, day: date, address: str, user_agent: str) -> str:
        """The stored identity of a client on `day` (hex, CLIENT_HEX digits)."""
        keyed = self._day_keys.get(day)
        if keyed is None:
            if self._secret is None:
                raise RuntimeError("reach: no secret key to hash clients with (use_secret)")
            label = b"reach-day:" + day.isoformat().encode()
            day_key = hmac.new(self._secret, label, hashlib.sha256).digest()
            # Keyed once a day, copied per client: half the cost of a fresh HMAC each time.
            keyed = hmac.new(day_key, digestmod=hashlib.sha256)
            if len(self._day_keys) > 8:  # requests span a day or two: keep a few
                self._day_keys.clear()
            self._day_keys[day] = keyed
        mac = keyed.copy()
        mac.update(address.encode("utf-8", "replace") + b"\0")
        mac.update(user_agent.encode("utf-8", "replace"))
        return mac.hexdigest()[:CLIENT_HEX]

    def _write(self, tally: Tally) -> None:
        with self._db.write() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            wanted = {k[0] for k in tally.reports} | {k[0] for k in tally.clients}
            # A channel deleted since its requests were counted has nothing to count them on.
            alive = set(session.scalars(select(Channel.id).where(Channel.id.in_(wanted))))
            # In key order, so that two workers' flushes never wait on each other in a cycle.
            reports = [
                {"channel_id": c, "day": d, "reader": r, "feed_key": f, "subscribers": n,
                 "seen_at": at}
                for (c, d, r, f), (n, at) in sorted(tally.reports.items())
                if c in alive
            ]  # fmt: skip
            if reports:
                insert = dialect.insert(ReachReport)
                session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["channel_id", "day", "reader", "feed_key"],
                        set_={
                            "subscribers": insert.excluded.subscribers,
                            "seen_at": insert.excluded.seen_at,
                        },
                        where=ReachReport.seen_at <= insert.excluded.seen_at,
                    ),
                    reports,
                )
            clients = [
                {"channel_id": c, "day": d, "client": h, "reader": r}
                for (c, d, h), r in sorted(tally.clients.items())
                if c in alive
            ]
            if clients:
                session.execute(dialect.insert(ReachClient).on_conflict_do_nothing(), clients)
