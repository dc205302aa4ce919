"""Public HTML pages: the channel list, a channel's stories, a story's permanent page.

Errors on these pages are HTML pages too (error_page; http_error_page for the app's error handler),
in the language of the story or channel they are about when it is known, else the site's.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import Blueprint, Response, render_template, request
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import default_exceptions

from syndication.auth.access import public
from syndication.channels import pages as feed_pages
from syndication.channels.service import declared_language, get_channel, list_channels
from syndication.compression import encode_response
from syndication.errors import NotFound
from syndication.i18n import N_, isolate, local_time, ui_locale, ui_tag
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


def _render_in(template: str, lang: str | None, http_status: int = 200, **values) -> Response:
    """Render a public page whose content is in `lang` (a BCP 47 tag; None: the site's
    default), with its labels in the nearest language a catalog exists for."""
    settings = runtime().settings
    lang = lang or settings.default_language
    ui = ui_locale(lang, settings.default_language)
    ui_lang = lang if ui.language == lang.split("-")[0].lower() else ui_tag(ui)
    with force_locale(ui):
        body = render_template(
            template,
            settings=settings,
            site=view.site_name(settings),
            lang=lang,
            rtl=view.is_rtl(lang),
            ui_lang=ui_lang,
            ui_dir="rtl" if view.is_rtl(ui_lang) else "ltr",
            **values,
        )
    return _page(body, http_status)


def error_page(status: int, title: str, message: str, lang: str | None = None) -> Response:
    """An HTML error page; `lang` is the language of the channel or story it is about, when
    known (title and message already translated into it)."""
    settings = runtime().settings
    if lang is None or ui_locale(lang, settings.default_language).language == "en":
        # Nothing more is known of the page's language than that of its words.
        lang = ui_tag(ui_locale(lang, settings.default_language))
    return _render_in("error.html", lang, status, status=status, page_title=title, message=message)


def in_language(lang: str | None) -> AbstractContextManager[None]:
    """Translate the strings made inside this block into the page language of `lang`."""
    return force_locale(ui_locale(lang, runtime().settings.default_language))


# Werkzeug's names of the statuses the public pages answer with, in the catalogs.
_TITLES = {
    400: N_("Bad request"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    410: N_("Gone"),
}
# Said instead of Werkzeug's own description of a status, which is written for developers.
_MESSAGES = {
    400: N_("The request could not be understood."),
    404: N_("There is no page at this address."),
    405: N_("This page cannot be used that way."),
    410: N_("This page is gone for good."),
}


def http_error_page(status: int, name: str, description: str) -> Response:
    """The page for an HTTP error raised outside the API and the feeds (a short link's 404 or
    410, an unknown address): in the site's language when its words are in the catalogs, else
    as Werkzeug or the raiser said it, in English. The admin's errors stay English."""
    known = default_exceptions.get(status)
    if known is not None and description == known.description:
        description = _MESSAGES.get(status, description)
    if status in _TITLES and not request.path.startswith("/admin"):
        with in_language(None):
            title, message = _(_TITLES[status]), _(description)
            translated = message != description or get_locale().language == "en"
        if translated:
            return error_page(status, title, message)
    return error_page(status, name, description, lang="en")


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
        with in_language(None):
            title = _("Channels")
        return _render_in(
            "home.html",
            None,
            channels=channels,
            opml_url=f"{rt.settings.base_url}/feeds.opml",
            page_title=title,
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
    except feed_pages.BadCursor:
        # Said in the site's language: the channel, and so its language, is not looked up yet.
        with in_language(None):
            title, message = _("Bad request"), _("This page address has a bad “before” cursor.")
        return error_page(400, title, message)
    with rt.db.read() as session:
        try:
            channel = get_channel(session, slug)
        except NotFound:
            with in_language(None):
                title = _("Channel not found")
                message = _("There is no channel called “%(slug)s”.", slug=isolate(slug))
            return error_page(404, title, message)
        limit = channel.limit or settings.feed_limit
        stories, next_cursor = feed_pages.page_stories(session, channel, limit, before)
        here = view.channel_url(settings, channel.slug)
        lang = declared_language(channel, settings)
        ui = ui_locale(lang, settings.default_language)
        return _render_in(
            "channel.html",
            lang,
            channel=channel,
            page_title=channel.title,
            feeds=view.channel_feeds(settings, channel),
            items=[
                {
                    "story": s,
                    "url": f"{settings.base_url}/stories/{s.code}",
                    "when": local_time(s.published_at or s.updated_at, settings.tz, ui),
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
        if story is None or story.status not in ("published", "retracted", "killed"):
            with in_language(None):
                title, message = _("Story not found"), _("There is no story with this code.")
            return error_page(404, title, message)
        if story.status == "retracted":
            # The story is known, so its language is: the page is in it.
            with in_language(story.language):
                title = _("Story retracted")
                message = _(
                    "This story (%(code)s) was removed by its publisher.", code=isolate(story.code)
                )
            return error_page(410, title, message, lang=story.language)
        if story.status == "killed":
            # A takedown: the same short notice, nothing of the story (there is nothing left).
            with in_language(story.language):
                title = _("Story removed")
                message = _(
                    "This story (%(code)s) was taken down by its publisher.",
                    code=isolate(story.code),
                )
            return error_page(410, title, message, lang=story.language)
        values = view.story_view(session, rt.settings, story)
        values.pop("rtl")
        return _render_in("story.html", values.pop("lang"), **values)
