"""Story storage and life cycle. Knows nothing of HTTP: callers pass a Session and `now`.

Every change that a feed could show bumps the version of the channels that show (or just stopped
showing) the story, in the same transaction, so cached feed pages are invalidated exactly then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndication.channels import service as channels
from syndication.config import Settings
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.filters import story_terms, term_key
from syndication.links.service import ensure_story_link
from syndication.models import Event, Link, Sequence, Story, StoryTerm
from syndication.push import outbox
from syndication.sitemaps import service as sitemaps
from syndication.stories.schema import (
    CONTENT_FIELDS,
    KILLED,
    STATUSES,
    StoryInput,
    page_url,
    prepare_story,
)
from syndication.validation import iso
from syndication.validation import text as v_text

Outcome = Literal["created", "updated", "unchanged"]
# A "published" story dated this far in the future is really scheduled (clock skew allowance).
FUTURE_SKEW = timedelta(seconds=60)
_DEFAULTS: dict[str, Any] = {
    "summary": "",
    "body_html": "",
    "url": None,
    "authors": [],
    "source": None,
    "section": None,
    "tags": [],
    "language": None,
    "image": None,
}


def _content_hash(content: Mapping[str, Any]) -> str:
    blob = json.dumps([content.get(k) for k in CONTENT_FIELDS], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _terms_of(story: Story) -> set[tuple[str, str]]:
    return story_terms(
        section=story.section,
        tags=story.tags,
        language=story.language,
        source=story.source,
        authors=story.authors,
    )


def _visible(story: Story) -> bool:
    return story.status == "published"


def next_code(session: Session, settings: Settings) -> str:
    """The next free numeric story code; the counter row is locked until commit."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Sequence)
        .values(name="story_code", value=settings.code_start)
        .on_conflict_do_nothing()
    )
    row = session.execute(
        select(Sequence).where(Sequence.name == "story_code").with_for_update()
    ).scalar_one()
    while True:
        code = str(row.value)
        row.value += 1
        if session.scalar(select(Story.id).where(Story.code == code)) is None:
            return code


def get_story(session: Session, code: str) -> Story:
    story = session.scalar(select(Story).where(Story.code == code))
    if story is None:
        raise NotFound(f"no story with code {code!r}")
    return story


class _Change:
    """Remembers what a story looked like before a change, to find the channels it touches."""

    def __init__(self, story: Story | None) -> None:
        self.was_visible = story is not None and _visible(story)
        self.terms = _terms_of(story) if story is not None and self.was_visible else None
        # Once published a story keeps its published_at (retracting or unpublishing keeps it),
        # so this says whether partners may already have received an event for it.
        self.announced = story is not None and story.published_at is not None
        self.was_scheduled = story is not None and story.status == "scheduled"
        self.publish_at = story.publish_at if story is not None else None

    def finish(
        self,
        session: Session,
        settings: Settings,
        story: Story,
        now: datetime,
        *,
        content_changed: bool,
        created: bool,
    ) -> None:
        after = _terms_of(story) if _visible(story) else None
        if self.was_visible or _visible(story):
            channels.touch(session, self.terms, after, now)
            sitemaps.bump(session, now)
        kind = outbox.event_type(
            self.was_visible, _visible(story), story.status, content_changed, created
        )
        if kind is None:
            self._embargo(session, settings, story, now, content_changed=content_changed)
        else:
            if (self.announced or _told_of_embargo(session, story)) and not content_changed:
                # Partners deduplicate on uri + version: every event they receive for a story
                # must carry a greater revision than the one before, so a retraction or a
                # re-publication with the same content is a revision of its own.
                story.revision += 1
            terms = self.terms if kind == outbox.RETRACTED else after
            previous = self.terms if kind == outbox.UPDATED else None
            snapshot = story_to_dict(story, settings)
            outbox.record_event(session, kind, story, snapshot, terms or (), now, previous)

    def _embargo(
        self,
        session: Session,
        settings: Settings,
        story: Story,
        now: datetime,
        *,
        content_changed: bool,
    ) -> None:
        """Trusted partners hear of a scheduled story at once, again when its time or content
        changes, and get story.killed when it goes back to draft before publish_at."""
        scheduled = story.status == "scheduled"
        if scheduled and (
            not self.was_scheduled or story.publish_at != self.publish_at or content_changed
        ):
            if not content_changed and _told_of_embargo(session, story):
                story.revision += 1  # the new time is a version of its own
            snapshot = {**story_to_dict(story, settings), "embargoed": iso(story.publish_at)}
            outbox.record_event(session, outbox.EMBARGOED, story, snapshot, _terms_of(story), now)
        elif self.was_scheduled and not scheduled and not _visible(story):
            cancel_embargo(session, settings, story, "unscheduled", now)


def _told_of_embargo(session: Session, story: Story) -> bool:
    """Has a story.embargoed of this story been recorded (partners may hold its version)?"""
    if story.id is None:
        return False
    found = session.scalar(
        select(Event.id).where(Event.story_id == story.id, Event.type == outbox.EMBARGOED).limit(1)
    )
    return found is not None


def cancel_embargo(
    session: Session, settings: Settings, story: Story, reason: str, now: datetime
) -> None:
    """story.killed to the partners told of the story's embargo, if any were."""
    if not _told_of_embargo(session, story):
        return
    story.revision += 1
    snapshot = {
        "code": story.code,
        "version": story.revision,
        "reason": reason,
        "page_url": page_url(settings, story.code),
        outbox.EMBARGO_AUDIENCE: True,
    }
    outbox.record_event(session, outbox.KILLED, story, snapshot, (), now)


def _apply_content(story: Story, content: Mapping[str, Any], settings: Settings) -> bool:
    """Set content fields; return True when the content really changed."""
    merged = {k: content.get(k, getattr(story, k, None)) for k in CONTENT_FIELDS}
    for key, default in _DEFAULTS.items():
        if merged.get(key) is None and default is not None:
            merged[key] = type(default)()
    if merged["url"] == page_url(settings, story.code):
        merged["url"] = None  # the default, stored as such so it follows the base URL
    if "body_html" in content:
        # Sanitised already (prepare_story); only the base URL had to wait for the story.
        base = merged["url"] or page_url(settings, story.code)
        merged["body_html"] = content["body_html"].resolve(base)
    digest = _content_hash(merged)
    if digest == story.content_hash:
        return False
    for key, value in merged.items():
        setattr(story, key, value)
    story.content_hash = digest
    story.terms = [StoryTerm(kind=k, value=val) for k, val in sorted(_terms_of(story))]
    return True


def _apply_status(
    story: Story, fields: Mapping[str, Any], status: str | None, now: datetime
) -> bool:
    """Move the story along its life cycle; return True when status or dates changed."""
    before = (story.status, story.publish_at, story.published_at)
    if "publish_at" in fields:
        story.publish_at = fields["publish_at"]
    if fields.get("published_at"):
        story.published_at = fields["published_at"]
    if status == "scheduled":
        if story.publish_at is None:
            raise ValidationError({"publish_at": "is required when status is scheduled"})
        if story.publish_at <= now:
            # Already due: publish now, dated as scheduled.
            status = "published"
            story.published_at = fields.get("published_at") or story.publish_at
    if status == "published":
        if story.published_at is None:
            story.published_at = now
        if story.published_at > now + FUTURE_SKEW:
            story.publish_at, status = story.published_at, "scheduled"
    if status is not None:
        story.status = status
    return (story.status, story.publish_at, story.published_at) != before


def _fields(data: Any, settings: Settings, *, partial: bool) -> dict[str, Any]:
    """The prepared fields of `data`. Callers holding a write transaction should pass a
    StoryInput from prepare_story, made before it began: given raw data, the validation and
    sanitising run here, inside the transaction."""
    if not isinstance(data, StoryInput):
        data = prepare_story(data, settings, partial=partial)
    elif data.partial != partial:
        raise TypeError(f"a story prepared with partial={data.partial} where {partial} is needed")
    return data.fields


def create_story(
    session: Session, settings: Settings, data: Any, *, now: datetime, default_status: str = "draft"
) -> Story:
    """Create a story from a record (raw, or a StoryInput from prepare_story)."""
    fields = _fields(data, settings, partial=False)
    story, _ = _save(session, settings, None, fields, now=now, default_status=default_status)
    return story


def update_story(
    session: Session, settings: Settings, code: str, data: Any, *, now: datetime
) -> tuple[Story, Outcome]:
    """Partial update: only the fields given change (raw, or prepare_story(partial=True))."""
    fields = _fields(data, settings, partial=True)
    if fields.get("code") not in (None, code):
        raise ValidationError({"code": "cannot be changed"})
    story = get_story(session, code)
    return _save(session, settings, story, fields, now=now, default_status=None)


def upsert_story(
    session: Session,
    settings: Settings,
    data: Any,
    *,
    now: datetime,
    default_status: str = "draft",
) -> tuple[Story, Outcome]:
    """Create or update by story code (else by external id): the import path, idempotent.

    A record's own status wins; `default_status` applies to new stories without one, and to
    existing drafts when it is "published". A retracted story is not revived without an
    explicit status. `data` is raw, or a StoryInput from prepare_story.
    """
    fields = _fields(data, settings, partial=False)
    story = None
    if fields.get("code"):
        story = session.scalar(select(Story).where(Story.code == fields["code"]))
    elif fields.get("external_id"):
        story = session.scalar(select(Story).where(Story.external_id == fields["external_id"]))
    if (
        story is not None
        and fields.get("external_id")
        and story.external_id not in (None, fields["external_id"])
    ):
        raise Conflict(
            f"story {story.code} belongs to another source record",
            {"code": "already used by a different source record"},
        )
    status = default_status
    if story is not None and (default_status != "published" or story.status != "draft"):
        status = None
    return _save(session, settings, story, fields, now=now, default_status=status)


def _save(
    session: Session,
    settings: Settings,
    story: Story | None,
    fields: dict[str, Any],
    *,
    now: datetime,
    default_status: str | None,
) -> tuple[Story, Outcome]:
    if story is not None and story.status == KILLED:
        # Taken down for good: nothing brings its content back under this code.
        raise Conflict(f"story {story.code} was killed", {"status": "is killed"})
    change = _Change(story)
    created = story is None
    if fields.get("external_id"):
        _check_external_id_free(session, story, fields["external_id"])
    if story is None:
        code = fields.get("code") or next_code(session, settings)
        story = Story(
            code=code,
            external_id=fields.get("external_id"),
            status="draft",
            created_at=now,
            updated_at=now,
            revision=1,
            content_hash="",
        )
        if session.scalar(select(Story.id).where(Story.code == code)) is not None:
            raise Conflict(f"a story with code {code!r} already exists", {"code": "already exists"})
        session.add(story)
    elif fields.get("external_id") and story.external_id is None:
        story.external_id = fields["external_id"]
    content = {k: fields[k] for k in CONTENT_FIELDS if k in fields}
    content_changed = _apply_content(story, content, settings)
    status_changed = _apply_status(story, fields, fields.get("status") or default_status, now)
    if created:
        # An archive import keeps its own dates: the story was last changed when published.
        if story.published_at and story.published_at < now:
            story.updated_at = story.published_at
    elif content_changed or status_changed:
        if content_changed:
            story.revision += 1
        story.updated_at = now
    else:
        return story, "unchanged"
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "the story conflicts with one already stored (duplicate code or source id)",
            {"code": "already exists"},
        ) from exc
    if story.status == "published":
        # The News Link is made on first publication and stays for the life of the story.
        ensure_story_link(session, story, now)
    change.finish(session, settings, story, now, content_changed=content_changed, created=created)
    return story, "created" if created else "updated"


def _check_external_id_free(session: Session, story: Story | None, external_id: str | None) -> None:
    """Conflict when another story has this source id: said before the write, as a 409 naming
    the field, on create, change and import alike (a unique-index error would be a 500 on
    PATCH, and "code: already exists" on an import)."""
    if not external_id:
        return
    with session.no_autoflush:
        owner = session.scalar(select(Story.code).where(Story.external_id == external_id))
    if owner is not None and (story is None or owner != story.code):
        raise Conflict(
            f"duplicate external_id: story {owner} already has {external_id!r}",
            {"external_id": f"duplicate external_id (story {owner} already has it)"},
        )


def publish_story(session: Session, settings: Settings, code: str, *, now: datetime) -> Story:
    story = get_story(session, code)
    _save(session, settings, story, {}, now=now, default_status="published")
    return story


def retract_story(session: Session, settings: Settings, code: str, *, now: datetime) -> Story:
    story = get_story(session, code)
    if story.status not in ("published", "retracted"):
        raise Conflict(
            f"story {code} is {story.status}; only published stories can be retracted",
            {"status": f"is {story.status}"},
        )
    _save(session, settings, story, {}, now=now, default_status="retracted")
    return story


# A correction is a short note (a sentence or a paragraph), not a second body.
CORRECTION_MAX = 2000
# Each one is shown on the page and in every feed item: a story needing more is a new story.
CORRECTIONS_MAX = 50


def correction_text(value: Any) -> str:
    """The correction as stored: plain text like a summary (markup removed, entities decoded),
    required, at most CORRECTION_MAX characters; ValidationError on `text` otherwise."""
    try:
        return v_text(value, max_len=CORRECTION_MAX, required=True, single_line=False)
    except ValueError as exc:
        raise ValidationError({"text": str(exc)}) from None


def correct_story(
    session: Session, settings: Settings, code: str, text: Any, *, now: datetime
) -> tuple[Story, bool]:
    """Append a dated public correction to a published story: a new revision, its updated time
    now, the channels showing it changed and a `story.corrected` event, in this transaction.

    Returns (story, appended). The same text sent again (a form submitted twice) appends
    nothing. Conflict unless the story is published: a draft has nothing public to correct, a
    retracted story is no longer shown."""
    clean = correction_text(text)
    story = get_story(session, code)
    if story.status != "published":
        raise Conflict(
            f"story {code} is {story.status}; only published stories can be corrected",
            {"status": f"is {story.status}"},
        )
    existing = list(story.corrections or [])
    same = " ".join(clean.split())  # a resubmission that differs only in spacing is the same
    if any(" ".join(str(c.get("text")).split()) == same for c in existing):
        return story, False
    if len(existing) >= CORRECTIONS_MAX:
        raise ValidationError({"text": f"a story holds at most {CORRECTIONS_MAX} corrections"})
    story.corrections = [*existing, {"text": clean, "at": iso(now)}]
    story.revision += 1
    story.updated_at = now
    terms = _terms_of(story)
    channels.touch(session, terms, terms, now)
    sitemaps.bump(session, now)
    session.flush()
    outbox.record_event(
        session, outbox.CORRECTED, story, story_to_dict(story, settings), terms, now
    )
    return story, True


def release_due(
    session: Session, settings: Settings, *, now: datetime, batch: int = 100
) -> list[str]:
    """Publish scheduled stories whose time has come, dated at their publish_at."""
    due = session.scalars(
        select(Story)
        .where(Story.status == "scheduled", Story.publish_at <= now)
        .order_by(Story.publish_at, Story.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for story in due:
        _save(
            session,
            settings,
            story,
            {"published_at": story.publish_at},
            now=now,
            default_status="published",
        )
    return [s.code for s in due]


def story_to_dict(story: Story, settings: Settings) -> dict[str, Any]:
    """The story in the API / export schema (re-importable as is)."""

    return {
        "code": story.code,
        "title": story.title,
        "summary": story.summary,
        "body_html": story.body_html,
        "url": story.url or page_url(settings, story.code),
        "page_url": page_url(settings, story.code),
        "authors": list(story.authors),
        "source": story.source,
        "section": story.section,
        "tags": list(story.tags),
        "language": story.language,
        "image": story.image,
        "status": story.status,
        "publish_at": iso(story.publish_at),
        "published_at": iso(story.published_at),
        "updated_at": iso(story.updated_at),
        "revision": story.revision,
        "corrections": [dict(c) for c in story.corrections or []],
        **(
            {"killed_at": iso(story.killed_at), "kill_reason": story.kill_reason}
            if story.status == KILLED
            else {}
        ),
    }


LIST_FILTERS = ("status", "section", "tag", "language", "source", "q")


def list_stories(
    session: Session, filters: Mapping[str, str], *, limit: int = 50, after: int | None = None
) -> tuple[list[Story], int | None]:
    """Stories newest first (by id: creation order, stable for paging), filtered; returns the
    page and the id to pass as `after` for the next one (None on the last page).

    Filters: status, section, tag, language (matches en-GB for en), source (case-insensitive),
    q (text in the title).
    """
    query = select(Story)
    status = filters.get("status")
    if status:
        if status not in (*STATUSES, KILLED):
            raise ValidationError({"status": f"must be one of {', '.join((*STATUSES, KILLED))}"})
        query = query.where(Story.status == status)
    for key, kind in (
        ("section", "section"),
        ("tag", "tag"),
        ("language", "language"),
        ("source", "source"),
    ):
        value = filters.get(key)
        if value:
            query = query.where(
                Story.terms.any((StoryTerm.kind == kind) & (StoryTerm.value == term_key(value)))
            )
    text = filters.get("q")
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Story.title.ilike(f"%{escaped}%", escape="\\"))
    if after is not None:
        query = query.where(Story.id < after)
    rows = list(session.scalars(query.order_by(Story.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1].id
    return rows, None


def delete_story(
    session: Session,
    code: str,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> None:
    """Delete a draft, or (given `settings` and `now`) a scheduled story never published: the
    partners told of its embargo get story.killed. Anything ever published stays (retract it
    instead): its code, page and News Link have been seen by readers."""
    story = get_story(session, code)
    deletable = ("draft", "scheduled") if settings is not None and now is not None else ("draft",)
    if (
        story.status not in deletable
        or session.scalar(select(Link.id).where(Link.story_id == story.id)) is not None
    ):
        raise Conflict(
            f"story {code} is {story.status}; only drafts and scheduled stories can be deleted",
            {"status": f"is {story.status}"},
        )
    if story.status == "scheduled" and settings is not None and now is not None:
        cancel_embargo(session, settings, story, "deleted", now)
    session.delete(story)
