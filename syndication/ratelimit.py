"""Request limits for public endpoints, shared by every process and machine: a count per key
(a client address, say) in fixed windows, kept in the `rate_limits` table with one upsert.

A key over its limit is also remembered in this process until its window ends, so a flood is
answered without touching the database. Time comes from the clock given.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite

from syndication.clock import Clock
from syndication.db import Database
from syndication.models import RateLimit

KEEP = timedelta(days=1)  # rows of windows older than this are deleted (`prune`)
_T = RateLimit.__table__


def client_key(address: str | None) -> str:
    """The unit a client is counted in: its IPv4 address, or its IPv6 /64 (one subscriber
    line has a whole /64 to pick addresses from)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimiter:
    def __init__(self, db: Database, clock: Clock, memo: int = 10_000) -> None:
        self.db = db
        self.clock = clock
        self._blocked: OrderedDict[str, datetime] = OrderedDict()
        self._memo = memo
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: int = 60) -> int | None:
        """Count one request of `key`; None while it is within `limit` requests per `window`
        seconds, else the whole seconds until its window ends (for Retry-After)."""
        now = self.clock()
        with self._lock:
            until = self._blocked.get(key)
            if until is not None and until <= now:
                del self._blocked[key]
                until = None
        if until is not None:
            return max(1, math.ceil((until - now).total_seconds()))
        start = datetime.fromtimestamp(now.timestamp() // window * window, UTC)
        with self.db.write() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            insert = dialect.insert(_T).values(key=key[:200], window_start=start, hits=1)
            hits = session.execute(
                insert.on_conflict_do_update(
                    index_elements=[_T.c.key],
                    set_={
                        "hits": case(
                            (_T.c.window_start == insert.excluded.window_start, _T.c.hits + 1),
                            else_=1,
                        ),
                        "window_start": insert.excluded.window_start,
                    },
                ).returning(_T.c.hits)
            ).scalar_one()
        if hits <= limit:
            return None
        end = start + timedelta(seconds=window)
        with self._lock:
            self._blocked[key] = end
            while len(self._blocked) > self._memo:
                self._blocked.popitem(last=False)
        return max(1, math.ceil((end - now).total_seconds()))

    def prune(self) -> int:
        """Delete the rows of windows long over; returns how many."""
        with self.db.write() as session:
            result = session.execute(
                delete(RateLimit).where(RateLimit.window_start < self.clock() - KEEP)
            )
            return result.rowcount or 0
