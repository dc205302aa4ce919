"""/api/v1/stories: create, list (filters, cursor pages), read, change, delete drafts,
publish, retract and correct. Thin: each handler parses, calls stories.service, shapes the
answer."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from syndication.api.common import Blueprint, created, cursor_id, patch_schema
from syndication.api.idempotency import idempotent
from syndication.api.story_schemas import (
    CorrectionIn,
    KillIn,
    StoryIn,
    StoryOut,
    StoryPage,
    StoryQuery,
)
from syndication.auth.access import requires
from syndication.config import Settings
from syndication.links.qr_fastpath import forget_images as forget_qr_images
from syndication.links.service import qr_url, short_url, story_link_codes
from syndication.models import Story
from syndication.runtime import runtime
from syndication.stories import kill as takedown
from syndication.stories import service

blp = Blueprint(
    "stories", __name__, url_prefix="/api/v1/stories", description="Stories and their life cycle"
)
LOCATION = {"Location": {"description": "URL of the new story", "schema": {"type": "string"}}}


def story_body(settings: Settings, story: Story, link_code: str | None) -> dict[str, Any]:
    """story_to_dict plus the News Link and its QR images (null until first published)."""
    body = service.story_to_dict(story, settings)
    body["short_url"] = short_url(settings, link_code) if link_code else None
    body["qr_svg"] = qr_url(settings, link_code, "svg") if link_code else None
    body["qr_png"] = qr_url(settings, link_code, "png") if link_code else None
    return body


def one_story(session: Session, settings: Settings, story: Story) -> dict[str, Any]:
    return story_body(settings, story, story_link_codes(session, [story.id]).get(story.id))


def _location(code: str) -> str:
    return url_for("stories.story", code=code, _external=False)


@blp.route("", methods=["POST"])
@requires("editor")
@idempotent
@blp.arguments(StoryIn)
@blp.response(201, StoryOut, headers=LOCATION)
@blp.alt_response(409, response="CONFLICT")
def create(data: dict[str, Any]) -> Any:
    """Create a story

    `status` may be `published`, or `scheduled` with `publish_at`; the default is `draft`.
    """
    rt = runtime()
    # Validated and sanitised before the write transaction opens: no writer waits for it.
    story_in = service.prepare_story(data, rt.settings)
    with rt.db.write() as session:
        story = service.create_story(session, rt.settings, story_in, now=rt.clock())
        body = one_story(session, rt.settings, story)
    return created(body, _location(story.code))


@blp.route("", methods=["GET"])
@requires("reader")
@blp.arguments(StoryQuery, location="query", as_kwargs=True)
@blp.response(200, StoryPage)
def index(limit: int, cursor: str | None = None, **filters: str) -> Any:
    """List stories, newest first

    Filters combine (AND). Pages are cursor-based: follow `next` until it is null.
    """
    after = cursor_id(cursor)
    rt = runtime()
    with rt.db.read() as session:
        rows, after = service.list_stories(session, filters, limit=limit, after=after)
        codes = story_link_codes(session, [s.id for s in rows])
        items = [story_body(rt.settings, s, codes.get(s.id)) for s in rows]
    nxt = None
    if after is not None:
        nxt = rt.settings.base_url + url_for("stories.index", limit=limit, cursor=after, **filters)
    return {"items": items, "next": nxt}


@blp.route("/<code>", methods=["GET"])
@requires("reader")
@blp.response(200, StoryOut)
@blp.alt_response(404, response="NOT_FOUND")
def story(code: str) -> Any:
    """Read a story"""
    rt = runtime()
    with rt.db.read() as session:
        return one_story(session, rt.settings, service.get_story(session, code))


@blp.route("/<code>", methods=["PATCH"])
@requires("editor")
@blp.arguments(patch_schema(StoryIn))
@blp.response(200, StoryOut)
@blp.alt_response(404, response="NOT_FOUND")
def patch(data: dict[str, Any], code: str) -> Any:
    """Change some fields of a story

    Only the fields sent change; `null` clears an optional field.
    """
    rt = runtime()
    story_in = service.prepare_story(data, rt.settings, partial=True)
    with rt.db.write() as session:
        story, _ = service.update_story(session, rt.settings, code, story_in, now=rt.clock())
        return one_story(session, rt.settings, story)


@blp.route("/<code>", methods=["DELETE"])
@requires("editor")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="The story is not a draft or scheduled")
def delete(code: str) -> Any:
    """Delete a draft or a scheduled story

    Partners told of a scheduled story's embargo get `story.killed`. Anything ever published
    stays: retract it instead.
    """
    rt = runtime()
    with rt.db.write() as session:
        service.delete_story(session, code, settings=rt.settings, now=rt.clock())
    return "", 204


@blp.route("/<code>/publish", methods=["POST"])
@requires("editor")
@idempotent
@blp.response(200, StoryOut)
@blp.alt_response(404, response="NOT_FOUND")
def publish(code: str) -> Any:
    """Publish a story now (or at its publish_at, if that is in the future)"""
    rt = runtime()
    with rt.db.write() as session:
        story = service.publish_story(session, rt.settings, code, now=rt.clock())
        return one_story(session, rt.settings, story)


@blp.route("/<code>/retract", methods=["POST"])
@requires("editor")
@idempotent
@blp.response(200, StoryOut)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="The story was never published")
def retract(code: str) -> Any:
    """Retract a published story: it leaves every feed; its page says it was retracted"""
    rt = runtime()
    with rt.db.write() as session:
        story = service.retract_story(session, rt.settings, code, now=rt.clock())
        return one_story(session, rt.settings, story)


@blp.route("/<code>/kill", methods=["POST"])
@requires("admin")
@idempotent
@blp.arguments(KillIn)
@blp.response(200, StoryOut)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="The story was killed already")
def kill(data: dict[str, Any], code: str) -> Any:
    """Take a story down for good (admin)

    Unlike a retraction, the content is erased everywhere: the story page, its News Link and
    QR images answer 410, feeds drop it (the Atom feed lists it as an RFC 6721 deleted entry),
    partners receive `story.killed`, and only a tombstone stays (code, `killed_at`,
    `kill_reason`, revision).
    """
    rt = runtime()
    with rt.db.write() as session:
        story = takedown.kill_story(session, rt.settings, code, data["reason"], now=rt.clock())
        body = one_story(session, rt.settings, story)
    forget_qr_images()
    return body


@blp.route("/<code>/corrections", methods=["POST"])
@requires("editor")
@idempotent
@blp.arguments(CorrectionIn)
@blp.response(200, StoryOut)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="The story is not published")
def correct(data: dict[str, Any], code: str) -> Any:
    """Append a public correction to a published story

    The story gets a new revision and updated time; its page and feeds show the correction and
    partners receive `story.corrected`. The same text sent again adds nothing (200, the story
    as it is).
    """
    rt = runtime()
    text = service.correction_text(data.get("text"))  # before the write transaction opens
    with rt.db.write() as session:
        story, _ = service.correct_story(session, rt.settings, code, text, now=rt.clock())
        return one_story(session, rt.settings, story)
