"""The transactional outbox: a story change and its event are written in one transaction, so a
crash can delay a push but never lose it. The dispatcher (push/queue.py) expands events into
deliveries afterwards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from syndication.filters import StoryFilter
from syndication.models import Event, Story
from syndication.push import wake

PUBLISHED = "story.published"
UPDATED = "story.updated"
RETRACTED = "story.retracted"
# A takedown (stories/kill.py): the snapshot is the tombstone, content erased. Also the end of
# an embargo (unscheduled or deleted before publish_at), then only to those who were told.
KILLED = "story.killed"
# A public correction appended to a published story (stories/service.correct_story).
CORRECTED = "story.corrected"
# Partners with `receives_embargoed` are told of a scheduled story at once.
EMBARGOED = "story.embargoed"
EVENT_TYPES = (PUBLISHED, UPDATED, RETRACTED, CORRECTED, EMBARGOED, KILLED)
# The snapshot key of a story.killed that cancels an embargo: it goes only to the told ones.
EMBARGO_AUDIENCE = "embargo_cancelled"


def embargo_only(event: Event) -> bool:
    """Is this event for trusted partners only (never WebSub, never other subscribers)?"""
    snapshot = event.snapshot if isinstance(event.snapshot, dict) else {}
    return event.type == EMBARGOED or (
        event.type == KILLED and bool(snapshot.get(EMBARGO_AUDIENCE))
    )


def event_type(
    was_visible: bool, is_visible: bool, status: str, content_changed: bool, was_created: bool
) -> str | None:
    """Which event a change makes, if any: editing a draft makes none."""
    if is_visible and (not was_visible or was_created):
        return PUBLISHED  # also a retracted story published again
    if was_visible and is_visible:
        return UPDATED if content_changed else None
    if was_visible and not is_visible:
        # Retracted, or taken back to draft: either way subscribers must remove it.
        return RETRACTED
    return None


def term_sets(event: Event) -> list[set[tuple[str, str]]]:
    """The term sets a subscriber's filter is tried on: the event's, and for an update that
    changed them, the story's previous ones (a match on either is a match)."""
    sets = [{(k, v) for k, v in (event.terms or [])}]
    if event.previous_terms:
        sets.append({(k, v) for k, v in event.previous_terms})
    return sets


def in_channels(event: Event, slugs: Iterable[str], filters: Mapping[str, StoryFilter]) -> bool:
    """Is the event's story in one of the channels `slugs` (by their `filters`; a slug without
    a filter is a channel that no longer exists)?"""
    sets = term_sets(event)
    return any(slug in filters and filters[slug].matches(t) for slug in slugs for t in sets)


def record_event(
    session: Session,
    kind: str,
    story: Story,
    snapshot: dict[str, Any],
    terms: Iterable[tuple[str, str]],
    now: datetime,
    previous_terms: Iterable[tuple[str, str]] | None = None,
) -> Event:
    """Write the event with `snapshot`, the story as it is now (the API story schema). `terms`
    are what subscribers are matched on: for a retraction, the story's last published ones; an
    update is matched on `previous_terms` too when they differ."""
    event = Event(
        type=kind,
        story_id=story.id,
        story_code=story.code,
        snapshot=snapshot,
        terms=sorted([k, v] for k, v in terms),
        created_at=now,
    )
    before = sorted([k, v] for k, v in previous_terms) if previous_terms is not None else None
    event.previous_terms = before if before != event.terms else None
    session.add(event)
    wake.mark(session)
    return event
