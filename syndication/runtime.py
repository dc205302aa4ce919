"""What a running process shares: settings, the database, caches and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app

from syndication.channels.cache import PageCache
from syndication.channels.pages import ItemCache
from syndication.config import Settings
from syndication.db import Database
from syndication.links.visits import VisitBuffer


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    pages: PageCache
    visits: VisitBuffer
    items: ItemCache
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        db = Database(settings.db_url)
        return cls(
            settings=settings,
            db=db,
            pages=PageCache(settings.feed_cache_entries),
            visits=VisitBuffer(db, settings.visit_flush_interval),
            items=ItemCache(settings.feed_cache_entries * 50),
        )


def runtime() -> Runtime:
    """The Runtime of the Flask app handling the current request."""
    return current_app.extensions["syndication"]
