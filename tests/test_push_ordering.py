"""One story's events reach a partner in version order (issue 14, point 4): a later event waits
while an earlier one to the same partner is pending or retrying, and goes once that one is
delivered, dead or cancelled; other stories, and other partners, never wait for it. Replays keep
the order among what is pending again. The delivery engine against a real receiver on
127.0.0.1, a clock moved by hand (`settle`: retries come due without waiting), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from syndication.models import Delivery, Event
from syndication.push.subscribers import replay_delivery
from syndication.stories.service import update_story

from .conftest import make_settings
from .pushkit import Receiver, add_subscriber, publish, settle


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1", retry_schedule="5,300")


def _failing(times: int | None):
    """A receiver answering 500 to story s1's `story.published` (the first `times` of them, or
    all), 200 to everything else."""
    state = {"failed": 0}

    def respond(path: str, n: int) -> tuple[int, dict[str, str], bytes]:
        payload = json.loads(r.local.body)
        if payload["type"] == "story.published" and payload["data"]["code"] == "s1":
            if times is None or state["failed"] < times:
                state["failed"] += 1
                return 500, {}, b"try again"
        return 200, {}, b"ok"

    r = Receiver(respond)
    return r


def _seen(r: Receiver, path: str = "/hook") -> list[tuple[str, str, int]]:
    out = []
    for _, _, body in r.on(path):
        payload = json.loads(body)
        out.append((payload["type"], payload["data"]["code"], payload["data"]["revision"]))
    return out


def _statuses(rt) -> dict[tuple[str, str], str]:
    with rt.db.read() as s:
        rows = s.execute(
            select(Event.story_code, Event.type, Delivery.status).join(
                Event, Event.id == Delivery.event_id
            )
        ).all()
    return {(code, kind): status for code, kind, status in rows}


def _all_done(rt) -> bool:
    return all(status != "pending" for status in _statuses(rt).values())


def test_an_update_waits_for_the_publication_being_retried(rt, ctx, clock):
    r = _failing(times=2)
    try:
        add_subscriber(rt, r.url())
        publish(rt, "s1", now=clock())
        ctx.engine.drain()  # the first attempt: 500, retried in 5 s
        clock.advance(1)
        with rt.db.write() as s:
            update_story(s, rt.settings, "s1", {"title": "Two"}, now=clock())
        publish(rt, "s2", now=clock())
        ctx.engine.drain()
        # The update waits (never attempted); the other story goes at once.
        assert _seen(r) == [("story.published", "s1", 1), ("story.published", "s2", 1)]
        assert _statuses(rt)[("s1", "story.updated")] == "pending"
        with rt.db.read() as s:
            waiting = s.scalar(
                select(Delivery.attempts)
                .join(Event, Event.id == Delivery.event_id)
                .where(Event.type == "story.updated")
            )
        assert waiting == 0

        settle(ctx, lambda: _all_done(rt))
        s1 = [(t, v) for t, code, v in _seen(r) if code == "s1"]
        assert s1 == [
            ("story.published", 1),
            ("story.published", 1),
            ("story.published", 1),
            ("story.updated", 2),
        ]
        assert set(_statuses(rt).values()) == {"delivered"}
    finally:
        r.close()


def test_a_dead_earlier_delivery_releases_the_later_one(rt, ctx, clock):
    r = _failing(times=None)
    try:
        add_subscriber(rt, r.url())
        publish(rt, "s1", now=clock())
        ctx.engine.drain()
        clock.advance(1)
        with rt.db.write() as s:
            update_story(s, rt.settings, "s1", {"title": "Two"}, now=clock())
        settle(ctx, lambda: _all_done(rt))
        assert [t for t, _, _ in _seen(r)] == ["story.published"] * 3 + ["story.updated"]
        assert _statuses(rt) == {
            ("s1", "story.published"): "dead",
            ("s1", "story.updated"): "delivered",
        }
    finally:
        r.close()


def test_another_partner_is_not_held_back(rt, ctx, clock):
    """The wait is per partner: a partner that answers at once gets both events at once."""
    r = _failing(times=2)
    ok = Receiver()
    try:
        add_subscriber(rt, r.url(), name="slow")
        add_subscriber(rt, ok.url("/fine"), name="fine")
        publish(rt, "s1", now=clock())
        ctx.engine.drain()
        clock.advance(1)
        with rt.db.write() as s:
            update_story(s, rt.settings, "s1", {"title": "Two"}, now=clock())
        ctx.engine.drain()
        assert _seen(ok, "/fine") == [("story.published", "s1", 1), ("story.updated", "s1", 2)]
        assert [t for t, _, _ in _seen(r)] == ["story.published"]
    finally:
        r.close()
        ok.close()


def test_replays_keep_the_order_of_what_is_pending_again(rt, ctx, clock):
    """Replayed in the wrong order, a story's deliveries still go out in version order; a replay
    of an older delivery alone goes at once (newer ones already delivered do not wait for it:
    a receiver keeps the higher `version`)."""
    r = Receiver()
    try:
        add_subscriber(rt, r.url())
        publish(rt, "s1", now=clock())
        clock.advance(1)
        with rt.db.write() as s:
            update_story(s, rt.settings, "s1", {"title": "Two"}, now=clock())
        ctx.engine.drain()
        ctx.engine.drain()
        assert [t for t, _, _ in _seen(r)] == ["story.published", "story.updated"]
        with rt.db.read() as s:
            first, second = s.scalars(select(Delivery.id).order_by(Delivery.event_id)).all()

        clock.advance(1)
        with rt.db.write() as s:
            replay_delivery(s, second, clock())
            replay_delivery(s, first, clock())
        ctx.engine.drain()
        ctx.engine.drain()
        assert [t for t, _, _ in _seen(r)][2:] == ["story.published", "story.updated"]

        clock.advance(1)
        with rt.db.write() as s:
            replay_delivery(s, first, clock())
        ctx.engine.drain()
        assert [t for t, _, _ in _seen(r)][4:] == ["story.published"]
        assert set(_statuses(rt).values()) == {"delivered"}
    finally:
        r.close()
