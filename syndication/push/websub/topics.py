"""What a WebSub notification carries: the topic's current first page, rendered as the feed
route serves it, once per channel version (one notification to 1,000 subscribers renders its
document once). Held by the process's push context: its caches are that process's."""

from __future__ import annotations

import hashlib
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

import feeds
from syndication.channels.cache import Page, PageCache
from syndication.channels.pages import ItemCache, build_feed
from syndication.config import Settings
from syndication.models import Channel


class TopicGone(LookupError):
    """The topic's channel (or its format) no longer exists."""


class TopicRenderer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Keyed like the feed routes' page cache (channel id, version, format) plus the
        # database: a channel's version grows with every change, so an entry is never stale.
        # Bounded in bytes by the same settings as the web workers' caches.
        self._pages = PageCache(settings.feed_cache_bytes)
        self._items: dict[str, ItemCache] = {}  # per database: story ids are not shared
        self._items_size = settings.item_cache_bytes
        self._lock = threading.Lock()

    def render(self, session: Session, slug: str, fmt: str) -> Page:
        """The topic's first page; TopicGone when the channel (or that format) is gone."""
        # One read of each channel per claim (session), not one per notification of a batch.
        known = session.info.setdefault("websub_channels", {})
        if slug not in known:
            known[slug] = session.scalars(select(Channel).where(Channel.slug == slug)).one_or_none()
        channel = known[slug]
        if channel is None or fmt not in feeds.CONTENT_TYPES or fmt not in (channel.formats or []):
            raise TopicGone(f"the topic's channel {slug!r} no longer publishes {fmt}")
        db_key = str(session.get_bind().engine.url)  # an Engine, or a Connection
        # changed_at too: a database emptied and filled again restarts ids and versions
        key = (db_key, channel.id, channel.version, channel.changed_at, fmt)
        page = self._pages.get(key)
        if page is not None:
            return page
        with self._lock:  # a burst of claims renders a document once, not once per thread
            page = self._pages.get(key)
            if page is None:
                items = self._items.setdefault(db_key, ItemCache(self._items_size))
                doc = build_feed(session, self.settings, channel, fmt, None, items)
                body = feeds.render(doc, fmt)
                page = Page.make(
                    body,
                    hashlib.sha256(body).hexdigest()[:32],
                    channel.changed_at,
                    feeds.CONTENT_TYPES[fmt],
                    [],
                    compress=False,  # posted to subscribers as is: a gzip twin would only cost
                )
                self._pages.put(key, page)
        return page
