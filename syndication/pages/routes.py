"""Public HTML pages: the channel list, a channel's stories, a story's permanent page.

Errors on these pages are HTML pages too (see error_page, used by the app's error handler).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from syndication.auth.access import public
from syndication.channels import pages as feed_pages
from syndication.channels.service import declared_language, get_channel, list_channels
from syndication.compression import encode_response
from syndication.errors import NotFound
from syndication.models import Story
from syndication.pages import view
from syndication.runtime import runtime

bp = Blueprint("pages", __name__)


def _page(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    if status == 200:
        response.cache_control.public = True
        response.cache_control.max_age = runtime().settings.feed_max_age
    # Public pages only (no secret to leak to a compression side channel); per request, as
    # they are not cached: ~0.3 ms for a 30 KB page, beside several to render it.
    return encode_response(response, request.headers.get("Accept-Encoding"))


def error_page(status: int, title: str, message: str) -> Response:
    settings = runtime().settings
    body = render_template(
        "error.html",
        status=status,
        page_title=title,
        message=message,
        settings=settings,
        site=view.site_name(settings),
        lang="en",
    )
    return _page(body, status)


def _render(template: str, **values) -> Response:
    settings = runtime().settings
    values.setdefault("lang", settings.default_language)
    values.setdefault("rtl", view.is_rtl(values["lang"]))
    return _page(
        render_template(template, settings=settings, site=view.site_name(settings), **values)
    )


@bp.get("/brand.css")
@public
def brand_css() -> Response:
    """--accent from `site_accent` (empty without one); linked with ?v=<colour>, so cacheable."""
    response = Response(view.accent_css(runtime().settings), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 86_400
    return response


@bp.get("/healthz")
@public
def healthz() -> Response:
    with runtime().db.read() as session:
        session.execute(select(1))
    return Response("ok\n", mimetype="text/plain")


@bp.get("/")
@public
def home() -> Response:
    rt = runtime()
    with rt.db.read() as session:
        channels = [
            {
                "channel": c,
                "url": view.channel_url(rt.settings, c.slug),
                "feeds": view.channel_feeds(rt.settings, c),
                "lang": declared_language(c, rt.settings),
                "rtl": view.is_rtl(declared_language(c, rt.settings)),
            }
            for c in list_channels(session)
        ]
        return _render(
            "home.html",
            channels=channels,
            opml_url=f"{rt.settings.base_url}/feeds.opml",
            page_title="Channels",
            description=rt.settings.site_description or None,
        )


@bp.get("/channels/<slug>")
@public
def channel_page(slug: str) -> Response:
    rt = runtime()
    settings = rt.settings
    raw_before = request.args.get("before")
    try:
        before = feed_pages.parse_before(raw_before)
    except feed_pages.BadCursor as exc:
        return error_page(400, "Bad request", f"{exc}.")
    with rt.db.read() as session:
        try:
            channel = get_channel(session, slug)
        except NotFound:
            return error_page(404, "Channel not found", f"There is no channel called {slug!r}.")
        limit = channel.limit or settings.feed_limit
        stories, next_cursor = feed_pages.page_stories(session, channel, limit, before)
        here = view.channel_url(settings, channel.slug)
        return _render(
            "channel.html",
            channel=channel,
            page_title=channel.title,
            lang=declared_language(channel, settings),
            feeds=view.channel_feeds(settings, channel),
            items=[
                {
                    "story": s,
                    "url": f"{settings.base_url}/stories/{s.code}",
                    "when": view.local_time(s.published_at or s.updated_at, settings.tz),
                    "lang": s.language,
                    "rtl": view.is_rtl(s.language) if s.language else None,
                }
                for s in stories
            ],
            canonical=here if before is None else f"{here}?before={before.encode()}",
            first_url=here if before is not None else None,
            next_url=f"{here}?before={next_cursor.encode()}" if next_cursor else None,
        )


@bp.get("/stories/<code>")
@public
def story_page(code: str) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        story = session.scalar(select(Story).where(Story.code == code))
        # Only published stories are public; a scheduled one becomes visible when released.
        if story is None or story.status not in ("published", "retracted"):
            return error_page(404, "Story not found", "There is no story with this code.")
        if story.status == "retracted":
            return error_page(
                410, "Story retracted", f"Story {story.code} was retracted by its publisher."
            )
        return _render("story.html", **view.story_view(session, rt.settings, story))
