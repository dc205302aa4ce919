"""Public feed routes: /feeds/<slug>.<fmt> and /feeds.opml, with conditional GET and caching."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request
from sqlalchemy import select

import feeds
from syndication.channels import pages as feed_pages
from syndication.channels.cache import Page
from syndication.channels.service import declared_language, list_channels
from syndication.models import Channel
from syndication.runtime import runtime

bp = Blueprint("feeds", __name__)
FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _serve(page: Page, content_type: str, self_url: str, max_age: int) -> Response:
    rt = runtime()
    response = Response(page.body, content_type=content_type)
    response.set_etag(page.etag)
    response.last_modified = page.last_modified
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["Link"] = f'<{rt.settings.base_url}/hub>; rel="hub", <{self_url}>; rel="self"'
    response.headers["Vary"] = "Accept-Encoding"
    return response.make_conditional(request)


@bp.get("/feeds/<slug>.<fmt>")
def feed(slug: str, fmt: str) -> Response:
    rt = runtime()
    if fmt not in feeds.FORMATS:
        return _plain(404, f"unknown feed format {fmt!r}: use rss, atom or json")
    raw_before = request.args.get("before")
    before = None
    if raw_before is not None:
        try:
            before = feed_pages.Cursor.decode(raw_before)
        except feed_pages.BadCursor as exc:
            return _plain(400, str(exc))
    with rt.db.read() as session:
        # The one query of a cache hit: the channel's version says whether the page is current.
        head = session.execute(
            select(Channel.id, Channel.version, Channel.formats).where(Channel.slug == slug)
        ).first()
        if head is None:
            return _plain(404, f"no channel {slug!r}")
        if fmt not in head.formats:
            return _plain(404, f"channel {slug!r} does not publish {fmt}")
        key = (head.id, head.version, fmt, raw_before)
        page = rt.pages.get(key)
        if page is None:
            channel = session.get(Channel, head.id)
            feed_doc = feed_pages.build_feed(session, rt.settings, channel, fmt, before)
            body = feeds.render(feed_doc, fmt)
            page = Page(body, hashlib.sha256(body).hexdigest()[:32], channel.changed_at)
            # Cached under the version read in this transaction: a concurrent change bumps
            # the version, so this entry can never be served for newer content.
            rt.pages.put(key, page)
    self_url = feed_pages.feed_url(rt.settings, slug, fmt, before)
    return _serve(page, feeds.CONTENT_TYPES[fmt], self_url, rt.settings.feed_max_age)


@bp.get("/feeds.opml")
def opml() -> Response:
    rt = runtime()
    base = rt.settings.base_url
    with rt.db.read() as session:
        channels = list_channels(session)
        outlines = [
            feeds.OutlineFeed(
                title=f"{c.title} ({FORMAT_NAMES[fmt]})",
                xml_url=feed_pages.feed_url(rt.settings, c.slug, fmt),
                html_url=c.link or f"{base}/channels/{c.slug}",
                type="rss" if fmt in ("rss", "atom") else "json",
                description=c.description or c.title,
                language=declared_language(c, rt.settings),
            )
            for c in channels
            for fmt in c.formats
        ]
        newest = max((c.changed_at for c in channels), default=None)
    body = feeds.render_opml("Channels", outlines, date_created=newest)
    response = Response(body, content_type="text/x-opml; charset=utf-8")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if newest:
        response.last_modified = newest
    response.cache_control.public = True
    response.cache_control.max_age = rt.settings.feed_max_age
    return response.make_conditional(request)
