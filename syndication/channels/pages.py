"""Feed pages: the channel's stories as format-neutral feed dataclasses, paged by cursor.

A cursor is the (published_at, id) of the last item of the previous page, so a page is one
index range scan whatever the archive size, and walking pages while new stories arrive neither
skips nor repeats anything (new stories go to the top, never between pages).
"""

from __future__ import annotations

import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, defer

import feeds
from syndication.channels.modified import http_instant
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


def hub_url(settings: Settings) -> str:
    return f"{settings.base_url}/hub"


def page_stories(
    session: Session, channel: Channel, limit: int, before: Cursor | None
) -> tuple[list[Story], Cursor | None]:
    """One page of the channel's published stories, newest first, and the next page's cursor.

    Without their bodies (loaded only if read): a list of fifty 1 MB stories is 50 MB for a page
    that shows titles and summaries."""
    query = (
        select(Story)
        .options(defer(Story.body_html))
        .where(Story.status == "published", StoryFilter.from_dict(channel.filter).sql())
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


# What a cached item costs besides its strings: the dataclass, its tuples, the stamp and the
# LRU's dict slot, rounded up.
_ITEM_OVERHEAD = 512


def item_nbytes(item: feeds.Item) -> int:
    """The memory a cached item holds (its strings as Python keeps them), as the cache counts it."""
    strings = [item.id, item.url, item.title, item.summary, item.content_html, item.language]
    strings += [c.text for c in item.corrections]
    strings += list(item.categories)
    strings += [p.name for p in item.authors]
    if item.image is not None:
        strings += [item.image.url, item.image.caption, item.image.type]
    return _ITEM_OVERHEAD + sum(sys.getsizeof(x) for x in strings if x is not None)


class ItemCache:
    """feeds.Item per story, built once and reused by every page and format that shows it.

    Keyed by story and by whether the body is shown; an entry carries what changes an item
    (updated_at, published_at, revision), so it is never stale, only unused; a page rebuilt after
    one new story maps one story, not fifty. Bounded by the bytes its items hold (a story body
    may be a megabyte), like the page cache.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, bool], tuple[tuple, feeds.Item, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, bool], stamp: tuple) -> feeds.Item | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._items.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[int, bool], stamp: tuple, item: feeds.Item) -> None:
        size = item_nbytes(item)
        if size * 4 > self.max_bytes:
            return  # one huge item would push out many small hot ones
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            self._items[key] = (stamp, item, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class ItemPage:
    items: list[feeds.Item]
    next_cursor: Cursor | None  # right after the last item held, when more follow
    limit: int
    max_bytes: int
    cut_by_bytes: bool  # fewer than `limit` items: the next one would have passed max_bytes


def page_items(
    session: Session,
    settings: Settings,
    channel: Channel,
    limit: int,
    before: Cursor | None,
    cache: ItemCache,
    fmt: str = "rss",
) -> ItemPage:
    """One page of the channel as feed items in `fmt`, filled up to `limit` items or
    `settings.feed_max_bytes` (always at least one item, so paging moves on).

    A narrow index query first, with the length of each story's text: a character is at least
    one byte, so the stories whose characters alone would pass the budget are never loaded.
    Then full rows only for the stories the item cache does not hold in their current state.
    """
    full = channel.content == "full"
    chars = func.length(Story.title) + func.coalesce(func.length(Story.summary), 0)
    if full:
        chars = chars + func.coalesce(func.length(Story.body_html), 0)
    query = select(
        Story.id, Story.published_at, Story.updated_at, Story.revision, chars.label("chars")
    ).where(Story.status == "published", StoryFilter.from_dict(channel.filter).sql())
    query = _page_where(query, before)
    rows = session.execute(
        query.order_by(Story.published_at.desc(), Story.id.desc()).limit(limit + 1)
    ).all()
    budget = settings.feed_max_bytes
    candidates, total = [], 0
    for row in rows[:limit]:
        total += row.chars or 0
        if candidates and total > budget:
            break
        candidates.append(row)
    stamps = {row.id: (row.updated_at, row.published_at, row.revision) for row in candidates}
    found = {sid: cache.get((sid, full), stamp) for sid, stamp in stamps.items()}
    missing = [sid for sid, item in found.items() if item is None]
    if missing:
        query = select(Story).where(Story.id.in_(missing))
        if not full:
            query = query.options(defer(Story.body_html))  # not shown: not loaded
        for story in session.scalars(query):
            item = to_item(story, settings, full=full)
            stamp = (story.updated_at, story.published_at, story.revision)
            if stamp == stamps[story.id]:  # else it changed in between: use it, don't keep it
                cache.put((story.id, full), stamp, item)
            found[story.id] = item
    items: list[feeds.Item] = []
    total = 0
    for row in candidates:
        item = found[row.id]
        total += feeds.item_size(item, fmt)
        if items and total > budget:
            break
        items.append(item)
    held = rows[: len(items)]
    next_cursor = None
    if len(items) < len(rows):
        next_cursor = Cursor(held[-1].published_at, held[-1].id)
    return ItemPage(
        items,
        next_cursor,
        limit,
        budget,
        cut_by_bytes=len(items) < min(limit, len(rows)),
    )


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
        corrections=tuple(
            feeds.Correction(text=c["text"], at=datetime.fromisoformat(c["at"]))
            for c in story.corrections or []
        ),
    )


def page_tombstones(
    session: Session, settings: Settings, channel: Channel, limit: int
) -> tuple[feeds.Tombstone, ...]:
    """The channel's stories killed or retracted within `tombstone_days` of its last change,
    newest first, at most `limit`: the first Atom page lists them as RFC 6721 deleted entries.

    Measured from the channel's `changed_at`, not the clock, so that a page is a function of
    what is stored and its cached copy stays right: a tombstone may outstay its days on a quiet
    channel until the channel next changes, which costs a reader nothing."""
    if settings.tombstone_days <= 0:
        return ()
    since = channel.changed_at - timedelta(days=settings.tombstone_days)
    rows = session.execute(
        select(Story.code, Story.updated_at)
        .where(
            Story.status.in_(("retracted", "killed")),
            Story.updated_at >= since,
            StoryFilter.from_dict(channel.filter).sql(),
        )
        .order_by(Story.updated_at.desc(), Story.id.desc())
        .limit(limit)
    ).all()
    return tuple(feeds.Tombstone(page_url(settings, code), when) for code, when in rows)


def feed_generator(settings: Settings) -> str:
    """The feeds' generator: the software, and the site it runs for when one is named."""
    return f"{settings.site_name} (syndication)" if settings.site_name else "syndication"


def build_feed(
    session: Session,
    settings: Settings,
    channel: Channel,
    fmt: str,
    before: Cursor | None,
    cache: ItemCache | None = None,
) -> feeds.Feed:
    return build_page(session, settings, channel, fmt, before, cache)[0]


def build_page(
    session: Session,
    settings: Settings,
    channel: Channel,
    fmt: str,
    before: Cursor | None,
    cache: ItemCache | None = None,
) -> tuple[feeds.Feed, ItemPage]:
    """The feed document of one page, and the page as it was cut (by count or by bytes)."""
    cache = cache if cache is not None else ItemCache(0)
    limit = channel.limit or settings.feed_limit
    page = page_items(session, settings, channel, limit, before, cache, fmt)
    items, next_cursor = page.items, page.next_cursor
    base = settings.base_url
    feed = feeds.Feed(
        title=channel.title,
        link=channel.link or f"{base}/channels/{channel.slug}",
        self_url=feed_url(settings, channel.slug, fmt, before),
        # The instant Last-Modified gives, so the document's date and the header's agree.
        updated=http_instant(channel.changed_at),
        # The channel's own text first; the site's branding fills what the channel leaves empty.
        description=channel.description or settings.site_description or channel.title,
        language=declared_language(channel, settings),
        # Only the first page is a WebSub topic (the hub refuses any other URL as one): a later
        # page links to it with rel="first" instead (RFC 5005 paging).
        hub_url=None if before else hub_url(settings),
        first_url=feed_url(settings, channel.slug, fmt) if before else None,
        next_url=feed_url(settings, channel.slug, fmt, next_cursor) if next_cursor else None,
        author=feeds.Person(name=channel.title),
        copyright=channel.copyright,
        logo=channel.logo or settings.logo_url,
        ttl=settings.feed_ttl,
        generator=feed_generator(settings),
        items=items,
        tombstones=(
            page_tombstones(session, settings, channel, limit)
            if fmt == "atom" and before is None
            else ()
        ),
    )
    return feed, page
