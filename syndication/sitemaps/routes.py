"""Public discovery routes: /sitemap.xml, /sitemaps/stories-<n>.xml, /sitemaps/news.xml and
/robots.txt, cached in the feeds' page cache and answered with conditional GET like feeds.

Every answer goes out through `channels.routes.respond`, from a `Page` made by `Page.make`,
as feeds do: gzip (once, when cached), ETags per encoding and 304s alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response
from sqlalchemy.orm import Session

from syndication.auth.access import public
from syndication.channels.cache import Page
from syndication.channels.routes import respond
from syndication.config import Settings
from syndication.runtime import Runtime, runtime
from syndication.sitemaps import service

bp = Blueprint("sitemaps", __name__)
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

Build = Callable[[Session, Settings, datetime, int], service.Document | None]


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached page and the time it holds until (the news sitemap's window moves)."""

    page: Page
    valid_until: datetime | None

    @property
    def nbytes(self) -> int:
        return self.page.nbytes


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _page(rt: Runtime, body: bytes, last_modified: datetime, content_type: str) -> Page:
    return Page.make(
        body,
        hashlib.sha256(body).hexdigest()[:32],
        last_modified,
        content_type,
        [("Cache-Control", f"public, max-age={rt.settings.feed_max_age}")],
    )


def _cached(rt: Runtime, key: tuple, build: Build) -> Page | None:
    """The page for `key` at the sitemaps' current version: from the cache, or built and kept."""
    now = rt.clock()
    head = rt.db.fetch_one(service.VERSION_SQL, ())
    entry = rt.pages.get(("sitemaps", *key, int(head[0]) if head else 0))
    if isinstance(entry, _Entry) and (entry.valid_until is None or now < entry.valid_until):
        return entry.page
    with rt.db.read() as session:
        # Read before the stories, in the same transaction: a page is never cached under a
        # version newer than its content.
        version = service.current_version(session)
        document = build(session, rt.settings, now, version)
    if document is None:
        return None
    page = _page(rt, document.body, document.last_modified, XML)
    rt.pages.put(("sitemaps", *key, version), _Entry(page, document.valid_until))
    return page


@bp.get("/sitemaps/news.xml")
@public
def news() -> Response:
    page = _cached(runtime(), ("news",), service.news_sitemap)
    if page is None:
        return _plain(404, "no stories published in the last 48 hours")
    return respond(page, runtime().clock())


@bp.get("/sitemap.xml")
@public
def index() -> Response:
    page = _cached(runtime(), ("index",), service.stories_index)
    if page is None:
        return _plain(404, "no published stories yet")
    return respond(page, runtime().clock())


@bp.get("/sitemaps/stories-<int:number>.xml")
@public
def stories(number: int) -> Response:
    if not 1 <= number <= service.MAX_FILE:
        return _plain(404, f"no story sitemap {number}")

    def build(session: Session, settings: Settings, now: datetime, version: int):
        return service.stories_sitemap(session, settings, number, now, version)

    page = _cached(runtime(), ("stories", number), build)
    if page is None:
        return _plain(404, f"no story sitemap {number}")
    return respond(page, runtime().clock())


@bp.get("/robots.txt")
@public
def robots() -> Response:
    rt = runtime()
    entry = rt.pages.get(("robots",))
    if not isinstance(entry, _Entry):
        # It depends on the settings alone: made once per process, dated at that moment.
        body = service.robots_txt(rt.settings).encode()
        entry = _Entry(_page(rt, body, rt.clock(), TEXT), None)
        rt.pages.put(("robots",), entry)
    return respond(entry.page, rt.clock())
