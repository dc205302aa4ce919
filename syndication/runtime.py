"""What a running process shares, in one object handed down: settings, the database, caches,
the clock, the push context (outbound client, transmitters, delivery engine, wake-up), the
rate limiter and the process's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from syndication.channels.cache import PageCache
from syndication.channels.pages import ItemCache
from syndication.clock import Clock, utcnow
from syndication.config import Settings
from syndication.db import Database
from syndication.links.visits import VisitBuffer
from syndication.ops.metrics import Metrics
from syndication.outbound import OutboundClient
from syndication.push.context import PushContext
from syndication.ratelimit import RateLimiter
from syndication.reach.buffer import ReachBuffer


@dataclass
class Runtime:
    settings: Settings
    db: Database
    pages: PageCache
    visits: VisitBuffer
    reach: ReachBuffer
    items: ItemCache
    push: PushContext
    limiter: RateLimiter
    metrics: Metrics
    clock: Clock = utcnow

    @classmethod
    def create(
        cls,
        settings: Settings,
        clock: Clock = utcnow,
        outbound: OutboundClient | None = None,
    ) -> Runtime:
        """The runtime of a process; tests give their own clock and outbound client (one with
        a stub resolver, say)."""
        db = Database(settings.db_url)
        metrics = Metrics()
        return cls(
            settings=settings,
            db=db,
            pages=PageCache(settings.feed_cache_bytes, settings.feed_cache_entries),
            visits=VisitBuffer(db, settings.visit_flush_interval, metrics.visits_buffered),
            reach=ReachBuffer(
                db,
                settings.reach_flush_interval,
                enabled=settings.reach_counting,
                max_items=settings.reach_buffer_max,
            ),
            items=ItemCache(settings.item_cache_bytes),
            push=PushContext(db, settings, clock=clock, outbound=outbound, metrics=metrics),
            limiter=RateLimiter(db, clock),
            metrics=metrics,
            clock=clock,
        )

    def close(self) -> None:
        self.visits.close()
        self.reach.close()
        self.push.close()
        self.db.dispose()


def runtime() -> Runtime:
    """The Runtime of the Flask app handling the current request."""
    return current_app.extensions["syndication"]
