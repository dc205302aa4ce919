"""Takedown: a story killed for legal reasons leaves every output and every table at once.

Unlike a retraction (the story stays stored; its page says it was withdrawn) a kill keeps only a
tombstone: the story row with its code, status "killed", `killed_at`, `kill_reason` and
revision. Its title, summary, body, canonical URL, image (caption included), corrections and
authors are erased from the story, its author terms, its News Link's title, the snapshots and
terms of every outbox event of the story, the response excerpts of its delivery attempts and the
stored API answers replayed for an Idempotency-Key — in the one transaction that records
`story.killed`. Section, tags, language and source stay: they say which channels and partners
the tombstone and the event go to. Pending deliveries of the story's earlier events are
cancelled, not sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndication.channels import service as channels
from syndication.config import Settings
from syndication.errors import Conflict, ValidationError
from syndication.models import Delivery, DeliveryAttempt, Event, IdempotencyKey, Link, StoryTerm
from syndication.push import outbox
from syndication.sitemaps import service as sitemaps
from syndication.stories.schema import KILLED
from syndication.stories.service import _terms_of, cancel_embargo, get_story, story_to_dict

REASON_MAX = 500
# Terms that name a person: erased with the authors.
_PERSONAL_TERMS = frozenset({"author"})
CANCELLED = "cancelled"


def clean_reason(raw: Any) -> str:
    """The reason, stripped; required, plain text, at most REASON_MAX characters."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError({"reason": "is required (why the story is taken down)"})
    reason = raw.strip()
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"must be at most {REASON_MAX} characters"})
    if any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) < 0xA0 for c in reason):
        raise ValidationError({"reason": "must not contain control characters"})
    return reason


def _public_terms(terms: Any) -> list[list[str]]:
    return [list(t) for t in terms or [] if t and t[0] not in _PERSONAL_TERMS]


def kill_story(
    session: Session, settings: Settings, code: str, reason: Any, *, now: datetime
) -> Any:
    """Take the story down and purge its content; returns the story (now its tombstone)."""
    reason = clean_reason(reason)
    story = get_story(session, code)
    if story.status == KILLED:
        raise Conflict(f"story {code} was already killed", {"status": "is killed"})
    was_visible = story.status == "published"
    announced = story.published_at is not None
    terms = _terms_of(story)
    public = {(k, v) for k, v in terms if k not in _PERSONAL_TERMS}
    if was_visible:
        channels.touch(session, terms, None, now)
        sitemaps.bump(session, now)
    elif story.status == "retracted":
        # Its channels show a tombstone now (or a newer one): their pages change.
        channels.touch(session, terms, None, now)

    story.title = ""
    story.summary = ""
    story.body_html = ""
    story.url = None
    story.authors = []
    story.image = None
    story.corrections = []
    story.content_hash = ""
    story.terms = [StoryTerm(kind=k, value=v) for k, v in sorted(public)]
    story.status = KILLED
    story.killed_at = now
    story.kill_reason = reason
    story.updated_at = now
    story.revision += 1
    session.flush()
    tombstone = story_to_dict(story, settings)

    session.execute(update(Link).where(Link.story_id == story.id).values(title=None))
    event_ids = list(session.scalars(select(Event.id).where(Event.story_id == story.id)))
    for event in session.scalars(select(Event).where(Event.story_id == story.id)):
        event.snapshot = {**tombstone, "revision": event.snapshot.get("revision", 0)}
        event.terms = _public_terms(event.terms)
        event.previous_terms = (
            _public_terms(event.previous_terms) if event.previous_terms else None
        )
    if event_ids:
        deliveries = select(Delivery.id).where(Delivery.event_id.in_(event_ids))
        session.execute(
            update(Delivery)
            .where(Delivery.event_id.in_(event_ids), Delivery.status.in_(("pending", "skipped")))
            .values(
                status=CANCELLED,
                next_attempt_at=None,
                lease_until=None,
                # A result of a send already under way is not recorded over the cancellation.
                claim_token=None,
                last_error=f"cancelled: story {code} was killed",
            )
        )
        session.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(deliveries))
            .values(response_excerpt=None)
        )
    _scrub_replays(session, code, tombstone)
    if announced or was_visible:
        # The json payload names the version and reason plainly, beside the tombstone fields.
        payload = {**tombstone, "version": story.revision, "reason": reason}
        outbox.record_event(session, outbox.KILLED, story, payload, public, now)
    else:
        # Never public, but trusted partners may hold it under embargo: they are told it is gone.
        cancel_embargo(session, settings, story, reason, now)
    return story


def _scrub_replays(session: Session, code: str, tombstone: dict[str, Any]) -> None:
    """Stored API answers about the story (kept to replay an Idempotency-Key) now tell of
    the tombstone."""
    rows = session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.body.contains(code))
    ).all()
    for row in rows:
        try:
            body = json.loads(row.body or "")
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("code") == code:
            body.update(tombstone)
            row.body = json.dumps(body, ensure_ascii=False)
