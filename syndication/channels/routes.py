"""Public feed routes: /feeds/<slug>.<fmt> and /feeds.opml, with conditional GET and caching.

The cache hit is the hottest path of the service: one indexed read of the channel's version on
a connection the thread keeps, a dict lookup, and headers made when the page was rendered.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from flask import Blueprint, Response, request

import feeds
from syndication.auth.access import public
from syndication.channels import pages as feed_pages
from syndication.channels.cache import Page
from syndication.channels.fastpath import HEAD_SQL
from syndication.channels.modified import date_settled, http_instant
from syndication.channels.service import declared_language, list_changed_at, list_channels
from syndication.compression import encode_response
from syndication.models import Channel
from syndication.runtime import Runtime, runtime

bp = Blueprint("feeds", __name__)
FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def respond(page: Page, now: datetime) -> Response:
    """A cached page as the request asks for it: its encoding, or 304 when the client has it
    (feeds here, sitemaps in syndication/sitemaps); Last-Modified once `now` has passed it."""
    headers = request.headers
    page = page.for_encoding(headers.get("Accept-Encoding"))
    if page.not_modified(headers.get("If-None-Match"), headers.get("If-Modified-Since"), now):
        return Response(status=304, headers=page.not_modified_headers)
    return Response(page.body, headers=page.headers_at(now))


def _render(
    rt: Runtime, channel_id: int, fmt: str, before: feed_pages.Cursor | None
) -> tuple[tuple, Page, tuple | None]:
    """The page, its cache key and the key of the page its next link leads to (or None)."""
    with rt.db.read() as session:
        channel = session.get(Channel, channel_id)
        if channel is None:  # removed between the two reads
            raise LookupError
        feed_doc, cut = feed_pages.build_page(session, rt.settings, channel, fmt, before, rt.items)
        version, changed_at = channel.version, channel.changed_at
    body = feeds.render(feed_doc, fmt)
    settings = rt.settings
    page = Page.make(
        body,
        hashlib.sha256(body).hexdigest()[:32],
        changed_at,
        feeds.CONTENT_TYPES[fmt],
        [
            ("Cache-Control", f"public, max-age={settings.feed_max_age}"),
            ("Link", _link_header(feed_doc)),
        ],
    )
    # Keyed by the version read in the same transaction as the stories, so a page is never
    # cached under a version newer than its content; by the cursor as the service writes it.
    key = _key(channel_id, version, fmt, before)
    follows = _key(channel_id, version, fmt, cut.next_cursor) if cut.next_cursor else None
    return key, page, follows


def _link_header(doc: feeds.Feed) -> str:
    """The document's own links as a Link header (RFC 8288): WebSub discovery on the first page
    (hub, self), RFC 5005 paging on every page (first on later pages, next when one follows);
    JSON Feed has no field for `first`, so this header is where its reader finds it."""
    pairs = [
        (doc.hub_url, "hub"),
        (doc.self_url, "self"),
        (doc.first_url, "first"),
        (doc.next_url, "next"),
    ]
    return ", ".join(f'<{url}>; rel="{rel}"' for url, rel in pairs if url)


def _key(channel_id: int, version: int, fmt: str, before: feed_pages.Cursor | None) -> tuple:
    return (channel_id, version, fmt, before.encode() if before else None)


@bp.get("/feeds/<slug>.<fmt>")
@public
def feed(slug: str, fmt: str) -> Response:
    rt = runtime()
    if fmt not in feeds.CONTENT_TYPES:
        return _plain(404, f"unknown feed format {fmt!r}: use rss, atom or json")
    raw_before = request.args.get("before")
    try:
        before = feed_pages.parse_before(raw_before)
    except feed_pages.BadCursor as exc:
        return _plain(400, str(exc))
    head = rt.db.fetch_one(HEAD_SQL, (slug,))
    if head is None:
        return _plain(404, f"no channel {slug!r}")
    channel_id, version, formats = head
    if fmt not in (json.loads(formats) if isinstance(formats, str) else formats):
        return _plain(404, f"channel {slug!r} does not publish {fmt}")
    page = rt.pages.get(_key(channel_id, version, fmt, before))
    rt.metrics.feed_cache_lookup(fmt, page is not None)
    if page is None:
        try:
            key, page, follows = _render(rt, channel_id, fmt, before)
        except LookupError:
            return _plain(404, f"no channel {slug!r}")
        # Kept only when the service itself links here: the first page, or the next page of a
        # page cached at this version. A cursor a client made up (any story's time and id will
        # do) is answered, never kept, so it can neither fill the cache nor evict hot pages.
        if before is None or rt.pages.is_linked(key):
            rt.pages.put(key, page, links_to=follows)
    now = rt.clock()
    if before is None and request.method == "GET":
        user_agent = request.headers.get("User-Agent", "")
        rt.reach.hit(channel_id, user_agent, request.remote_addr or "", now)
    return respond(page, now)


def _outline_format(wanted: str, formats: list[str]) -> str | None:
    if wanted in formats:
        return wanted
    return next((fmt for fmt in FORMAT_NAMES if fmt in formats), None)


@bp.get("/feeds.opml")
@public
def opml() -> Response:
    rt = runtime()
    base = rt.settings.base_url
    wanted = request.args.get("format", "rss")
    if wanted not in FORMAT_NAMES:
        return _plain(400, f"unknown OPML feed format {wanted!r}: use rss, atom or json")
    with rt.db.read() as session:
        channels = list_channels(session)
        # One outline per channel (a reader subscribes once per outline): in the format asked
        # for, or the channel's first in rss, atom, json order when it does not publish that one.
        # type="rss" on all: OPML's "subscription" type, whatever the feed's own format.
        outlines = [
            feeds.OutlineFeed(
                title=c.title,
                xml_url=feed_pages.feed_url(rt.settings, c.slug, fmt),
                html_url=c.link or f"{base}/channels/{c.slug}",
                type="rss",
                description=c.description or c.title,
                language=declared_language(c, rt.settings),
            )
            for c in channels
            if (fmt := _outline_format(wanted, c.formats))
        ]
        changed = list_changed_at(session, channels)
        newest = http_instant(changed) if changed else None
    if not outlines:
        # OPML 2.0 has no empty subscription list (a body holds one or more outlines).
        return Response("404 Not Found: no channels yet\n", status=404, mimetype="text/plain")
    # No <docs>: optional in OPML 2.0, and the W3C validator (OPML 1.0 rules) rejects it.
    body = feeds.render_opml("Channels", outlines, date_created=newest, docs="")
    response = Response(body, content_type="text/x-opml; charset=utf-8")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if newest and date_settled(newest, rt.clock()):  # see channels/modified.py
        response.last_modified = newest
    response.cache_control.public = True
    response.cache_control.max_age = rt.settings.feed_max_age
    encode_response(response, request.headers.get("Accept-Encoding"))
    return response.make_conditional(request)
