"""Discovery for crawlers: the Google News sitemap, the sitemap index of story pages, robots.txt.

Knows nothing of HTTP: callers pass a Session, the Settings and `now`; documents come back as
bytes with the dates their validators need, or None when there is nothing to list (a sitemap
holds at least one URL, so an empty one would be invalid against sitemaps.org's schema).

Which URL is listed: a story's canonical URL, and only when it is on this site (it starts with
`base_url/`; a story without one is canonical at its own page). A story page whose canonical URL
is elsewhere says so in `<link rel="canonical">`, and Google asks for canonical URLs only in a
sitemap; the canonical URL cannot stand in for it either, since sitemaps.org lets a sitemap list
URLs of its own host only. Such stories belong in the sitemaps of the site they point to.

Invalidation, like feeds: every story change a sitemap could show (a visible story before or
after the change) bumps one counter, `sitemaps` in the sequences table, in the story's own
transaction (`bump`). Cached documents are keyed by it. Its value is also the time of that last
change in microseconds: max(previous + 1, now), so it grows on every bump whatever the clock.
The news sitemap also changes with time alone, when its oldest story turns 48 hours old: its
document says until when it holds (`valid_until`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import langcodes
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from feeds.sitemap import (
    MAX_LOC,
    MAX_URLS,
    NewsArticle,
    SitemapRef,
    SitemapUrl,
    render_sitemap_index,
    render_urlset,
)
from feeds.uri import to_uri
from syndication import stamps
from syndication.config import Settings
from syndication.models import Story
from syndication.stories.schema import page_url

VERSION_NAME = "sitemaps"
VERSION_SQL = "SELECT value FROM sequences WHERE name = 'sitemaps'"
NEWS_WINDOW = timedelta(hours=48)  # Google News: articles of the last two days
NEWS_MAX = 1000  # Google News: at most 1,000 URLs in a news sitemap
# Story ids per story sitemap file: file n holds ids (n-1)*IDS_PER_FILE+1 .. n*IDS_PER_FILE, so
# a file's content does not move when stories arrive (they get new ids, in the last file).
IDS_PER_FILE = MAX_URLS
MAX_FILE = (2**63 - 1) // IDS_PER_FILE  # beyond it the id range overflows a BIGINT
_GOOGLE_CODE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    last_modified: datetime
    valid_until: datetime | None = None  # holds while now < valid_until; None: until a bump


def bump(session: Session, now: datetime) -> None:
    """Mark every sitemap changed as of `now` (called in the transaction of the change)."""
    stamps.bump(session, VERSION_NAME, now)


def current_version(session: Session) -> int:
    """The counter as this transaction sees it (0 before the first story change)."""
    return stamps.current(session, VERSION_NAME)


def version_time(version: int) -> datetime:
    """When the last change that bumped the counter to `version` happened."""
    return stamps.as_time(version)


def publication_name(settings: Settings) -> str:
    """news:name: the `site_name` setting, else the host of base_url."""
    return settings.publication_name


def news_language(tag: str | None, settings: Settings) -> str:
    """A BCP 47 tag in the form Google News takes: the ISO 639 code alone (en-GB -> en), and
    zh-cn / zh-tw for Simplified / Traditional Chinese (by script, or the region's usual one)."""
    for candidate in (tag, settings.default_language):
        if not candidate:
            continue
        language = langcodes.Language.get(candidate)
        code = (language.language or "").lower()
        if code == "zh":
            return "zh-tw" if language.maximize().script == "Hant" else "zh-cn"
        if _GOOGLE_CODE.fullmatch(code):
            return code
    return "und"  # ISO 639-2 "undetermined"


def _on_site(settings: Settings) -> ColumnElement[bool]:
    """Stories canonical on this site: no URL of their own, or one under base_url/."""
    prefix = settings.base_url + "/"
    # substr, not LIKE: LIKE ignores case on SQLite and not on PostgreSQL.
    return or_(Story.url.is_(None), func.substr(Story.url, 1, len(prefix)) == prefix)


def _loc(settings: Settings, code: str, url: str | None) -> str | None:
    """The URI to list for a story, or None when it would not fit a <loc>."""
    loc = to_uri(url or page_url(settings, code))
    return loc if len(loc) <= MAX_LOC else None


def _changed(updated_at: datetime, published_at: datetime | None) -> datetime:
    # An archive import may date a story's publication after its last edit.
    return max(updated_at, published_at) if published_at else updated_at


def _last_modified(now: datetime, version: int, *times: datetime | None) -> datetime:
    newest = max([version_time(version), *(t for t in times if t is not None)])
    return min(newest, now)


def news_sitemap(
    session: Session, settings: Settings, now: datetime, version: int
) -> Document | None:
    """Published stories of the last 48 hours (published_at > now - 48 h: a story exactly two
    days old is out), newest first, at most 1,000, with Google's news:news; None if none."""
    cutoff = now - NEWS_WINDOW
    published = Story.status == "published"
    rows = session.execute(
        select(
            Story.code,
            Story.url,
            Story.title,
            Story.language,
            Story.published_at,
            Story.updated_at,
        )
        .where(published, Story.published_at > cutoff, _on_site(settings))
        .order_by(Story.published_at.desc(), Story.id.desc())
        .limit(NEWS_MAX)
    ).all()
    name = publication_name(settings)
    urls = []
    for code, url, title, language, published_at, _ in rows:
        loc = _loc(settings, code, url)
        if loc is not None:
            article = NewsArticle(name, news_language(language, settings), published_at, title)
            urls.append(SitemapUrl(loc, news=article))
    if not urls:
        return None
    # The document last changed at the last bump, or when the last story left the window.
    left = session.scalar(
        select(func.max(Story.published_at)).where(
            published, Story.published_at <= cutoff, _on_site(settings)
        )
    )
    return Document(
        render_urlset(urls),
        _last_modified(
            now,
            version,
            left + NEWS_WINDOW if left else None,
            *(_changed(row[5], row[4]) for row in rows),
        ),
        # The oldest listed story leaves when it is 48 hours old.
        valid_until=rows[-1][4] + NEWS_WINDOW,
    )


def story_sitemap_url(settings: Settings, number: int) -> str:
    return f"{settings.base_url}/sitemaps/stories-{number}.xml"


def stories_index(
    session: Session, settings: Settings, now: datetime, version: int
) -> Document | None:
    """The sitemap index: one story sitemap per id range holding a listed story; None if none.

    A file's lastmod is the latest change of any story in its range, whatever its state now: a
    story that left the file (retracted, moved off site) changed it too.
    """
    bucket = ((Story.id - 1) // IDS_PER_FILE).label("bucket")
    listed = and_(Story.status == "published", _on_site(settings))
    rows = session.execute(
        select(bucket, func.max(Story.updated_at), func.max(Story.published_at))
        .group_by(bucket)
        .having(func.sum(case((listed, 1), else_=0)) > 0)
        .order_by(bucket)
    ).all()
    if not rows:
        return None
    refs = [
        SitemapRef(story_sitemap_url(settings, int(n) + 1), _changed(updated, published))
        for n, updated, published in rows
    ]
    return Document(
        render_sitemap_index(refs),
        _last_modified(now, version, *(ref.lastmod for ref in refs)),
    )


def stories_sitemap(
    session: Session, settings: Settings, number: int, now: datetime, version: int
) -> Document | None:
    """Story sitemap `number` (from 1): the listed stories of its id range, by id, each with
    lastmod; None when the file does not exist (out of range, or nothing listed in it)."""
    if not 1 <= number <= MAX_FILE:
        return None
    first = (number - 1) * IDS_PER_FILE + 1
    rows = session.execute(
        select(Story.code, Story.url, Story.updated_at, Story.published_at)
        .where(
            Story.id.between(first, first + IDS_PER_FILE - 1),
            Story.status == "published",
            _on_site(settings),
        )
        .order_by(Story.id)
    ).all()
    urls = []
    for code, url, updated_at, published_at in rows:
        loc = _loc(settings, code, url)
        if loc is not None:
            urls.append(SitemapUrl(loc, lastmod=_changed(updated_at, published_at)))
    if not urls:
        return None
    return Document(
        render_urlset(urls),
        _last_modified(now, version, *(u.lastmod for u in urls)),
    )


def robots_txt(settings: Settings) -> str:
    """robots.txt (RFC 9309): public pages and feeds open, the admin and the API closed, both
    sitemaps named with absolute URLs as the Sitemap line requires."""
    base = settings.base_url
    return (
        "# Story pages, channel pages and feeds are public; the admin and the API are not.\n"
        "# Short links (/s/) only redirect to story pages, which the sitemaps list; crawling\n"
        "# them would add robot visits to every story's counts.\n"
        "User-agent: *\n"
        "Disallow: /admin/\n"
        "Disallow: /api/\n"
        "Disallow: /s/\n"
        "Allow: /\n"
        "\n"
        f"Sitemap: {to_uri(base)}/sitemap.xml\n"
        f"Sitemap: {to_uri(base)}/sitemaps/news.xml\n"
    )
