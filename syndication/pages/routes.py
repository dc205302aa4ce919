"""Public HTML pages. Minimal for now: the story page is every feed item's permanent link."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from sqlalchemy import select

from syndication.channels import pages as feed_pages
from syndication.channels.service import declared_language, get_channel, list_channels
from syndication.errors import NotFound
from syndication.models import Story
from syndication.runtime import runtime

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    with runtime().db.read() as session:
        session.execute(select(1))
    return Response("ok\n", mimetype="text/plain")


@bp.get("/")
def home() -> str:
    rt = runtime()
    with rt.db.read() as session:
        channels = list_channels(session)
        return render_template("home.html", channels=channels, settings=rt.settings)


@bp.get("/channels/<slug>")
def channel_page(slug: str) -> str:
    rt = runtime()
    with rt.db.read() as session:
        try:
            channel = get_channel(session, slug)
        except NotFound:
            abort(404, f"no channel {slug!r}")
        stories, _ = feed_pages.page_stories(
            session, channel, channel.limit or rt.settings.feed_limit, None
        )
        return render_template(
            "channel.html",
            channel=channel,
            stories=stories,
            language=declared_language(channel, rt.settings),
            settings=rt.settings,
            tz=rt.settings.tz,
        )


@bp.get("/stories/<code>")
def story_page(code: str) -> str:
    rt = runtime()
    with rt.db.read() as session:
        story = session.scalar(select(Story).where(Story.code == code))
        if story is None or story.status in ("draft", "scheduled"):
            abort(404, f"no story {code!r}")
        if story.status == "retracted":
            abort(410, f"story {code} has been retracted")
        return render_template("story.html", story=story, settings=rt.settings, tz=rt.settings.tz)
