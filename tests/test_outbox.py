"""The transactional outbox: which story changes make which events, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syndication.errors import Conflict
from syndication.models import Event
from syndication.stories.service import (
    create_story,
    publish_story,
    release_due,
    retract_story,
    update_story,
    upsert_story,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _events(rt) -> list[tuple[str, str, int]]:
    with rt.db.read() as s:
        return [
            (e.type, e.story_code, e.snapshot["revision"])
            for e in s.scalars(select(Event).order_by(Event.id))
        ]


def test_life_cycle_events(rt):
    with rt.db.write() as s:
        create_story(s, rt.settings, {"code": "a", "title": "Draft", "section": "Sport"}, now=NOW)
        update_story(s, rt.settings, "a", {"title": "Draft 2"}, now=NOW)
    assert _events(rt) == [], "editing a draft makes no event"
    with rt.db.write() as s:
        publish_story(s, rt.settings, "a", now=NOW)
        update_story(s, rt.settings, "a", {"title": "Draft 2"}, now=NOW)  # identical: nothing
        update_story(s, rt.settings, "a", {"title": "Final", "section": "World"}, now=NOW)
        retract_story(s, rt.settings, "a", now=NOW)
        publish_story(s, rt.settings, "a", now=NOW)
    assert _events(rt) == [
        ("story.published", "a", 2),
        ("story.updated", "a", 3),
        ("story.retracted", "a", 4),  # a partner deduplicating on revision must see it
        ("story.published", "a", 5),
    ]
    with rt.db.read() as s:
        retraction = s.scalars(select(Event).where(Event.type == "story.retracted")).one()
        assert ["section", "world"] in retraction.terms, "matched by its last published fields"
        assert retraction.snapshot["status"] == "retracted"


def test_events_share_the_transaction_of_the_change(rt):
    with pytest.raises(Conflict), rt.db.write() as s:
        create_story(s, rt.settings, {"code": "x", "title": "T", "status": "published"}, now=NOW)
        create_story(s, rt.settings, {"code": "x", "title": "Dup", "status": "published"}, now=NOW)
    assert _events(rt) == []


def test_scheduled_release_and_past_schedule(rt):
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {
                "code": "s",
                "title": "Later",
                "status": "scheduled",
                "publish_at": (NOW + timedelta(hours=1)).isoformat(),
            },
            now=NOW,
        )
        upsert_story(
            s,
            rt.settings,
            {
                "code": "p",
                "title": "Past",
                "status": "scheduled",
                "publish_at": "2020-01-01T00:00:00Z",
            },
            now=NOW,
        )
    # The scheduled story is told to trusted partners at once (story.embargoed, tests/
    # test_embargo.py), so its publication is a version of its own.
    assert _events(rt) == [("story.embargoed", "s", 1), ("story.published", "p", 1)]
    with rt.db.write() as s:
        release_due(s, rt.settings, now=NOW + timedelta(hours=1, seconds=1))
    assert _events(rt)[-1] == ("story.published", "s", 2)
