"""Feed pages: the channel's stories as format-neutral feed dataclasses, paged by cursor.

A cursor is the (published_at, id) of the last item of the previous page, so a page is one
index range scan whatever the archive size, and walking pages while new stories arrive neither
skips nor repeats anything (new stories go to the top, never between pages).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

import feeds
from syndication.channels.service import declared_language
from syndication.config import Settings
from syndication.filters import StoryFilter
from syndication.models import Channel, Story
from syndication.stories.schema import page_url

# ASCII digits only (\d takes any script's digits) and matched whole (re.fullmatch: "$" would
# accept a trailing newline). Microseconds since the epoch may be negative (archives before 1970).
_CURSOR_RE = re.compile(r"(-?[0-9]{1,19})-([0-9]{1,19})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MAX_ID = 2**63 - 1  # BIGINT; a larger id overflows SQLite's INTEGER


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    published_at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.published_at - _EPOCH) // _MICROSECOND
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        match = _CURSOR_RE.fullmatch(raw)
        if not match:
            raise BadCursor("malformed cursor: expected the 'before' value of a next link")
        micros, story_id = int(match[1]), int(match[2])
        if story_id > _MAX_ID:
            raise BadCursor("malformed cursor: id out of range")
        try:
            when = _EPOCH + micros * _MICROSECOND
        except (OverflowError, OSError, ValueError):
            raise BadCursor("malformed cursor: date out of range") from None
        return cls(when, story_id)


def parse_before(raw: str | None) -> Cursor | None:
    """The `before` query parameter of a page: None for the first page; BadCursor if malformed."""
    return None if raw is None else Cursor.decode(raw)


def feed_url(settings: Settings, slug: str, fmt: str, before: Cursor | None = None) -> str:
    url = f"{settings.base_url}/feeds/{slug}.{fmt}"
    return f"{url}?before={quote(before.encode())}" if before else url


def page_stories(
    session: Session, channel: Channel, limit: int, before: Cursor | None
) -> tuple[list[Story], Cursor | None]:
    """One page of the channel's published stories, newest first, and the next page's cursor."""
    query = select(Story).where(
        Story.status == "published", StoryFilter.from_dict(channel.filter).sql()
    )
    query = _page_where(query, before)
    rows = list(
        session.scalars(query.order_by(Story.published_at.desc(), Story.id.desc()).limit(limit + 1))
    )
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return rows, Cursor(last.published_at, last.id)  # type: ignore[arg-type]
    return rows, None


def _page_where(query: Select, before: Cursor | None) -> Select:
    if before is not None:
        query = query.where(
            Story.published_at <= before.published_at,
            or_(
                Story.published_at < before.published_at,
                and_(Story.published_at == before.published_at, Story.id < before.id),
            ),
        )
    return query


class ItemCache:
    """feeds.Item per story, built once and reused by every page and format that shows it.

    Keyed by what changes an item (updated_at, published_at, revision), so an entry is never
    stale, only unused; a page rebuilt after one new story maps one story, not fifty.
    """

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._items: OrderedDict[int, tuple[tuple, feeds.Item]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, story_id: int, stamp: tuple) -> feeds.Item | None:
        with self._lock:
            entry = self._items.get(story_id)
            if entry is None or entry[0] != stamp:
                return None
            self._items.move_to_end(story_id)
            return entry[1]

    def put(self, story_id: int, stamp: tuple, item: feeds.Item) -> None:
        with self._lock:
            self._items[story_id] = (stamp, item)
            self._items.move_to_end(story_id)
            while len(self._items) > self._max:
                self._items.popitem(last=False)


def page_items(
    session: Session,
    settings: Settings,
    channel: Channel,
    limit: int,
    before: Cursor | None,
    cache: ItemCache,
) -> tuple[list[feeds.Item], Cursor | None]:
    """One page of the channel as feed items: a narrow index query, then full rows only for
    the stories the item cache does not hold in their current state."""
    query = select(Story.id, Story.published_at, Story.updated_at, Story.revision).where(
        Story.status == "published", StoryFilter.from_dict(channel.filter).sql()
    )
    query = _page_where(query, before)
    rows = session.execute(
        query.order_by(Story.published_at.desc(), Story.id.desc()).limit(limit + 1)
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1].published_at, rows[-1].id)
    stamps = {row.id: (row.updated_at, row.published_at, row.revision) for row in rows}
    found = {sid: cache.get(sid, stamp) for sid, stamp in stamps.items()}
    missing = [sid for sid, item in found.items() if item is None]
    if missing:
        for story in session.scalars(select(Story).where(Story.id.in_(missing))):
            item = to_item(story, settings, full=True)
            stamp = (story.updated_at, story.published_at, story.revision)
            if stamp == stamps[story.id]:  # else it changed in between: use it, don't keep it
                cache.put(story.id, stamp, item)
            found[story.id] = item
    items = [found[row.id] for row in rows]
    if channel.content != "full":
        items = [replace(item, content_html=None) for item in items]
    return items, next_cursor  # type: ignore[return-value]


def to_item(story: Story, settings: Settings, *, full: bool) -> feeds.Item:
    permanent = page_url(settings, story.code)
    image = None
    if story.image and story.image.get("url"):
        image = feeds.Image(
            **{
                k: story.image.get(k)
                for k in ("url", "type", "length", "width", "height", "caption")
            }
        )
    categories: list[str] = []
    for term in ([story.section] if story.section else []) + list(story.tags):
        if term not in categories:
            categories.append(term)
    published = story.published_at or story.updated_at
    return feeds.Item(
        id=permanent,
        url=story.url or permanent,
        title=story.title,
        published=published,
        updated=max(story.updated_at, published),
        summary=story.summary or None,
        content_html=(story.body_html or None) if full else None,
        authors=tuple(feeds.Person(name=a) for a in story.authors),
        categories=tuple(categories),
        image=image,
        language=story.language,
    )


def build_feed(
    session: Session,
    settings: Settings,
    channel: Channel,
    fmt: str,
    before: Cursor | None,
    cache: ItemCache | None = None,
) -> feeds.Feed:
    cache = cache if cache is not None else ItemCache(0)
    limit = channel.limit or settings.feed_limit
    items, next_cursor = page_items(session, settings, channel, limit, before, cache)
    base = settings.base_url
    return feeds.Feed(
        title=channel.title,
        link=channel.link or f"{base}/channels/{channel.slug}",
        self_url=feed_url(settings, channel.slug, fmt, before),
        updated=channel.changed_at,
        description=channel.description or channel.title,
        language=declared_language(channel, settings),
        hub_url=f"{base}/hub",
        first_url=feed_url(settings, channel.slug, fmt) if before else None,
        next_url=feed_url(settings, channel.slug, fmt, next_cursor) if next_cursor else None,
        author=feeds.Person(name=channel.title),
        copyright=channel.copyright,
        logo=channel.logo,
        ttl=settings.feed_ttl,
        items=items,
    )
