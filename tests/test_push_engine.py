"""The delivery engine (push/engine.py, push/queue.py, the webhook transmitter, `syndication
worker`): real HTTP receivers on 127.0.0.1, signatures checked by the independent
`standardwebhooks` package, a clock moved by hand for every schedule (retries, Retry-After,
leases, throttles), real worker processes for crash safety and scale-out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from syndication.models import Delivery, Event, Story, Subscriber
from syndication.push import retention
from syndication.push.retry import RetryPolicy, TokenBucket, parse_retry_after
from syndication.push.subscribers import recover, replay_delivery
from syndication.push.webhooks.signing import generate_secret, sign
from syndication.scheduler import release_due_stories
from syndication.stories.service import create_story

from .conftest import make_settings
from .pushkit import (
    Receiver,
    Trickler,
    add_subscriber,
    attempts,
    deliveries,
    publish,
    receiver,  # noqa: F401 - a fixture
    wait_for,
)

SCHEDULE = "5,300,1800"


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1", retry_schedule=SCHEDULE)


def drain(ctx) -> int:
    return ctx.engine.drain()


# -- signatures and payload ----------------------------------------------------------------------


def test_signatures_verify_with_standardwebhooks_also_during_rotation(rt, ctx, clock, receiver):
    old, new = generate_secret(), generate_secret()
    add_subscriber(rt, receiver.url("/plain"), secret=old)
    add_subscriber(
        rt,
        receiver.url("/rotated"),
        secret=new,
        previous_secret=old,
        previous_secret_until=clock() + timedelta(hours=1),
        headers={"X-Partner": "p1", "webhook-id": "forged"},
    )
    add_subscriber(
        rt,
        receiver.url("/expired"),
        secret=new,
        previous_secret=old,
        previous_secret_until=clock() - timedelta(seconds=1),
    )
    publish(rt, now=clock())
    drain(ctx)
    assert len(receiver.requests) == 3

    (_, h, body) = receiver.on("/plain")[0]
    assert h["content-type"] == "application/json"
    payload = Webhook(old).verify(body, h)
    assert payload["type"] == "story.published"
    assert payload["data"]["code"] == "s1" and payload["data"]["revision"] >= 1
    assert payload["timestamp"].endswith("Z")
    assert int(h["webhook-timestamp"]) == int(clock().timestamp()), "signed at send time"

    (_, h, body) = receiver.on("/rotated")[0]
    assert len(h["webhook-signature"].split()) == 2
    assert Webhook(new).verify(body, h) == Webhook(old).verify(body, h)
    assert h["x-partner"] == "p1" and h["webhook-id"].startswith("msg_")

    (_, h, body) = receiver.on("/expired")[0]
    assert h["webhook-signature"].split() == [
        sign(new, h["webhook-id"], int(h["webhook-timestamp"]), body)
    ]
    Webhook(new).verify(body, h)
    with pytest.raises(Exception):  # noqa: B017 - the library's own verification error
        Webhook(old).verify(body, h)


def test_events_reach_only_matching_subscribers(rt, ctx, receiver):
    add_subscriber(rt, receiver.url("/all"))
    add_subscriber(rt, receiver.url("/sport"), filter={"sections": ["sport"]})
    add_subscriber(rt, receiver.url("/world"), filter={"sections": ["World"]})
    add_subscriber(rt, receiver.url("/retractions"), event_types=["story.retracted"])
    off = add_subscriber(rt, receiver.url("/off"), active=False, disabled_reason="paused")
    publish(rt)
    drain(ctx)
    assert sorted(receiver.counts) == ["/all", "/sport"]
    with rt.db.read() as s:
        assert s.scalars(select(Event).where(Event.dispatched_at.is_(None))).all() == []
    (skipped,) = [d for d in deliveries(rt) if d.subscriber_id == off.id]
    assert skipped.status == "skipped" and "paused" in skipped.last_error
    assert skipped.next_attempt_at is None and not attempts(rt, skipped.id)


# -- results and retries -------------------------------------------------------------------------


def test_retries_follow_the_schedule_exactly_with_the_same_id_then_deliver(rt, ctx, clock):
    r = Receiver(lambda path, n: (500, {}, b"boom " * 500) if n <= 3 else (204, {}, b""))
    try:
        add_subscriber(rt, r.url())
        start = clock()
        publish(rt, now=start)
        drain(ctx)
        seen = [clock()]
        for delay in (5, 300, 1800):
            (d,) = deliveries(rt)
            assert d.status == "pending" and d.next_attempt_at == clock() + timedelta(seconds=delay)
            clock.advance(delay - 0.001)
            drain(ctx)
            assert len(r.requests) == len(seen), "not due a millisecond early"
            clock.advance(0.001)
            drain(ctx)
            seen.append(clock())
        (d,) = deliveries(rt)
        assert d.status == "delivered" and d.attempts == 4 and d.delivered_at == seen[-1]
        assert (
            len({h["webhook-id"] for _, h, _ in r.on("/hook")})
            == 1
            == len({d.message_id, r.on("/hook")[0][1]["webhook-id"]})
        )
        log = attempts(rt, d.id)
        assert [a.status_code for a in log] == [500, 500, 500, 204]
        assert [a.at for a in log] == seen
        assert len(log[0].response_excerpt) == 1024 and log[0].latency_ms is not None
    finally:
        r.close()


def test_a_retry_is_counted_from_the_end_of_the_attempt(rt, ctx, clock):
    """An attempt that took 15 s (the clock moves while the partner answers) is retried 5 s
    after it ended, not at once."""
    r = Receiver(lambda path, n: (clock.advance(15), (500, {}, b""))[1])
    try:
        add_subscriber(rt, r.url())
        start = clock()
        publish(rt, now=start)
        drain(ctx)
        (d,) = deliveries(rt)
        assert attempts(rt, d.id)[0].at == start, "logged at its start"
        assert d.next_attempt_at == start + timedelta(seconds=15 + 5)
        assert len(r.requests) == 1
    finally:
        r.close()


def test_dead_after_the_last_retry(rt, ctx, clock):
    r = Receiver(lambda path, n: (500, {}, "é".encode()[:1]))
    try:
        sub = add_subscriber(rt, r.url())
        publish(rt, now=clock())
        for delay in (0, 5, 300, 1800):
            clock.advance(delay)
            drain(ctx)
        (d,) = deliveries(rt)
        assert d.status == "dead" and d.attempts == 4 and d.next_attempt_at is None
        assert attempts(rt, d.id)[0].response_excerpt == "\ufffd"
        with rt.db.read() as s:
            row = s.get(Subscriber, sub.id)
        assert row.failing_since is not None and row.active
    finally:
        r.close()


def test_jitter_spreads_retries_within_ten_percent():
    lowest = RetryPolicy((100.0,), rand=lambda: 0.0).delay(1)
    highest = RetryPolicy((100.0,), rand=lambda: 0.999999).delay(1)
    assert lowest == pytest.approx(90.0) and highest == pytest.approx(110.0, abs=1e-3)
    assert RetryPolicy((100.0,), rand=lambda: 0.5).delay(2) is None


def test_410_disables_the_subscriber_and_later_events_are_skipped(rt, ctx):
    r = Receiver(lambda path, n: (410, {}, b"gone"))
    try:
        add_subscriber(rt, r.url())
        publish(rt, "a")
        drain(ctx)
        publish(rt, "b")
        drain(ctx)
        assert len(r.requests) == 1
        assert [d.status for d in deliveries(rt)] == ["dead", "skipped"]
        with rt.db.read() as s:
            sub = s.scalars(select(Subscriber)).one()
        assert not sub.active and "410" in sub.disabled_reason
    finally:
        r.close()


def test_subscriber_failing_too_long_is_disabled(rt, ctx, clock):
    r = Receiver(lambda path, n: (500, {}, b""))
    try:
        add_subscriber(rt, r.url(), failing_since=clock() - timedelta(days=6))
        publish(rt, now=clock())
        drain(ctx)
        with rt.db.read() as s:
            sub = s.scalars(select(Subscriber)).one()
        assert not sub.active and "failing" in sub.disabled_reason
    finally:
        r.close()


def test_a_peer_that_never_finishes_is_cut_off_by_the_deadline_and_retried(rt, clock):
    slow = Trickler()
    ctx = rt.push.derive(
        make_settings(
            rt.settings.database_url,
            _tmp(rt),
            outbound_allow="127.0.0.1",
            retry_schedule=SCHEDULE,
            outbound_timeout=0.5,
        ),
        clock=clock,
        rand=lambda: 0.5,
    )
    try:
        add_subscriber(rt, slow.url())
        publish(rt, now=clock())
        ctx.engine.drain()
        (d,) = deliveries(rt)
        (a,) = attempts(rt, d.id)
        assert a.status_code is None and a.error.startswith("timeout")
        assert d.status == "pending" and d.next_attempt_at == clock() + timedelta(seconds=5)
    finally:
        ctx.close()
        slow.close()


def test_redirect_is_not_followed(rt, ctx):
    r = Receiver(
        lambda path, n: (302, {"Location": "/target"}, b"") if path == "/hook" else (200, {}, b"")
    )
    try:
        add_subscriber(rt, r.url())
        publish(rt)
        drain(ctx)
        assert r.on("/target") == []
        (d,) = deliveries(rt)
        assert d.status == "pending" and d.last_status_code == 302
        assert "redirect to /target not followed" in d.last_error
    finally:
        r.close()


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("120", 120),
        ("0", 1),  # at least a second
        ("300000000000", 86400),  # at most a day (it used to overflow and drop the batch)
        ("9" * 400, 86400),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),  # a date gone by means now
        ("soon", 5),  # unreadable: the schedule
        ("-5", 5),
    ],
)
def test_retry_after_is_honoured_within_bounds(rt, ctx, clock, header, wait):
    r = Receiver(lambda path, n: (429, {"Retry-After": header}, b"") if n == 1 else (200, {}, b""))
    try:
        add_subscriber(rt, r.url())
        start = clock()
        publish(rt, now=start)
        drain(ctx)
        if wait:
            (d,) = deliveries(rt)
            assert d.next_attempt_at == start + timedelta(seconds=wait)
            assert d.attempts == 1 and d.status == "pending"
            clock.advance(wait)
            drain(ctx)
        (d,) = deliveries(rt)
        assert d.status == "delivered"
        assert [a.at for a in attempts(rt, d.id)] == [start, start + timedelta(seconds=wait)]
    finally:
        r.close()


def test_parse_retry_after():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now) == 30
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:00.5 GMT", now) is None
    assert parse_retry_after("Sun, 01 Mar 2125 12:00:30 GMT", now) == 86400
    assert parse_retry_after("Fri, 28 Feb 2025 12:00:00 GMT", now) == 0
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("١٢", now) is None  # Arabic-Indic digits are not delta-seconds
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("Mon, 99 Xyz 99999 99:99:99 GMT", now) is None


def test_odd_answers_cost_only_their_own_delivery(rt, ctx):
    """Each endpoint answers something odd; every delivery is recorded, each with its own
    outcome, in the same batch."""
    answers = {
        "/huge-retry": (503, {"Retry-After": "9" * 40}, b""),
        "/nul": (500, {}, b"\x00bad\x00body\xff\xfe"),
        "/odd-status": (299, {}, b"odd but 2xx"),
        "/five-nine-nine": (599, {}, b""),
        "/latin1": (400, {"X-Reason": "caf\xe9"}, b"\xe9t\xe9"),
        "/ok": (200, {}, b"fine"),
    }
    r = Receiver(lambda path, n: answers[path])
    try:
        subs = {path: add_subscriber(rt, r.url(path)).id for path in answers}
        publish(rt)
        drain(ctx)
        by_sub = {d.subscriber_id: d for d in deliveries(rt)}
        status = {path: by_sub[i].status for path, i in subs.items()}
        assert status == {
            "/huge-retry": "pending",
            "/nul": "pending",
            "/odd-status": "delivered",
            "/five-nine-nine": "pending",
            "/latin1": "pending",
            "/ok": "delivered",
        }
        assert all(len(attempts(rt, d.id)) == 1 for d in by_sub.values())
        assert "\x00" not in attempts(rt, by_sub[subs["/nul"]].id)[0].response_excerpt
    finally:
        r.close()


def test_a_result_that_cannot_be_written_does_not_cost_the_batch(rt, ctx, clock, receiver):
    """A result the database refuses (here a latency beyond PostgreSQL's integer) is written
    without what it cannot hold; the other results of its batch are written as they are."""
    from dataclasses import replace

    from syndication.push.queue import dispatch_events

    for i in range(3):
        add_subscriber(rt, receiver.url(f"/h/{i}"))
    publish(rt, now=clock())
    dispatch_events(rt.db, ctx.transmitters, clock)
    jobs = ctx.engine.claim(10)
    results = [ctx.outbound.run(ctx.engine.attempt(job)) for job in jobs]
    results[1] = replace(results[1], latency_ms=2**40, excerpt="x" * 2000)
    ctx.engine.record(results)
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(rt))
    odd = attempts(rt, jobs[1].delivery_id)
    assert len(odd) == 1 and odd[0].status_code == 200
    if rt.db.is_sqlite:  # SQLite holds any integer
        assert odd[0].latency_ms == 2**40
    else:
        assert odd[0].latency_ms is None and "could not be recorded" in odd[0].error


def test_a_stored_header_the_client_cannot_send_fails_only_its_delivery(rt, ctx, receiver):
    bad = add_subscriber(rt, receiver.url("/bad"), headers={"X-Price": "10 €"})
    good = add_subscriber(rt, receiver.url("/good"), headers={"X-Partner": "p1"})
    publish(rt)
    drain(ctx)
    by_sub = {d.subscriber_id: d for d in deliveries(rt)}
    assert by_sub[good.id].status == "delivered"
    failed = by_sub[bad.id]
    assert failed.status == "pending" and "X-Price" in failed.last_error
    assert "visible ASCII" in failed.last_error
    assert list(receiver.counts) == ["/good"]


def test_private_address_refused_at_send_time(rt, ctx):
    add_subscriber(rt, "https://10.0.0.1/hook")
    add_subscriber(rt, "https://127.0.0.1\\.attacker.test/h")
    publish(rt)
    drain(ctx)
    for d in deliveries(rt):
        (a,) = attempts(rt, d.id)
        assert a.status_code is None and a.latency_ms is None
        assert a.error.startswith("refused")
    errors = sorted(attempts(rt, d.id)[0].error for d in deliveries(rt))
    assert "backslash" in errors[0] and "private" in errors[1]


# -- claims, leases and stale results ------------------------------------------------------------


def test_no_request_starts_without_lease_left_to_finish_it(rt, clock, receiver):
    """A job that waited until its lease was nearly over is not sent: another worker may
    already have claimed it. It stays due and untouched, and is sent later."""
    short = rt.push.derive(_settings(rt, lease_seconds=10), clock=clock, rand=lambda: 0.5)
    try:
        add_subscriber(rt, receiver.url())
        publish(rt, now=clock())
        engine = short.engine
        from syndication.push.queue import dispatch_events

        dispatch_events(rt.db, short.transmitters, clock)
        (job,) = engine.claim(10)
        clock.advance(5.5)  # 4.5 s of lease left: under half of it
        result = short.outbound.run(engine.attempt(job))
        assert result.lease_ran_out and result.status_code is None
        engine.record([result])
        (d,) = deliveries(rt)
        assert (d.status, d.attempts, d.lease_until) == ("pending", 0, job.lease_until)
        assert not receiver.requests and not attempts(rt, d.id)
        assert engine.claim(10) == [], "still leased"
        clock.advance(4.6)
        engine.drain()
    finally:
        short.close()
    assert len(receiver.requests) == 1 and deliveries(rt)[0].status == "delivered"


def test_a_replay_during_an_attempt_is_not_overwritten_by_its_result(rt, ctx, clock):
    gate = threading.Event()
    r = Receiver(lambda path, n: (500, {}, b"") if n == 1 else (200, {}, b""), gate=gate)
    try:
        add_subscriber(rt, r.url())
        publish(rt, now=clock())
        from syndication.push.queue import dispatch_events

        dispatch_events(rt.db, ctx.transmitters, clock)
        (job,) = ctx.engine.claim(10)
        in_flight = ctx.outbound.submit(ctx.engine.attempt(job))
        wait_for(lambda: len(r.requests) == 1)
        with rt.db.write() as s:
            replay_delivery(s, job.delivery_id, clock())
        gate.set()
        ctx.engine.record([in_flight.result(10)])
        (d,) = deliveries(rt)
        assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 0, clock())
        (logged,) = attempts(rt, d.id)
        assert logged.status_code == 500 and "not applied" in logged.error
        ctx.engine.drain()
        (d,) = deliveries(rt)
        assert d.status == "delivered" and d.attempts == 1
    finally:
        r.close()


def test_a_lease_taken_over_is_decided_by_the_new_claim(rt, clock):
    """Worker A's request hangs past its lease; worker B claims the delivery and delivers it;
    A's late answer (410) must not mark the delivered delivery dead nor disable anyone."""
    gate = threading.Event()
    r = Receiver(lambda path, n: (410, {}, b"") if n == 1 else (200, {}, b""))
    first = rt.push.derive(_settings(rt, lease_seconds=30), clock=clock, rand=lambda: 0.5)
    second = rt.push.derive(_settings(rt, lease_seconds=30), clock=clock, rand=lambda: 0.5)
    try:
        add_subscriber(rt, r.url())
        publish(rt, now=clock())
        from syndication.push.queue import dispatch_events

        dispatch_events(rt.db, first.transmitters, clock)
        (job_a,) = first.engine.claim(10)
        r.gate = gate
        in_flight = first.outbound.submit(first.engine.attempt(job_a))
        wait_for(lambda: len(r.requests) == 1)
        clock.advance(31)  # A's lease ran out
        r.gate = None
        second.engine.drain()  # B claims and delivers
        (d,) = deliveries(rt)
        assert d.status == "delivered"
        gate.set()
        late = in_flight.result(10)
        assert late.status_code == 410
        first.engine.record([late])
        (d,) = deliveries(rt)
        assert d.status == "delivered" and d.attempts == 1
        with rt.db.read() as s:
            assert s.scalars(select(Subscriber)).one().active
        assert [a.status_code for a in attempts(rt, d.id)] == [200, 410]
    finally:
        first.close()
        second.close()
        r.close()


def test_a_successful_answer_to_a_replayed_delivery_is_logged_not_applied(rt, ctx, clock):
    """A batch of 2xx answers is recorded without reading the rows first (Engine's fast
    path); the claim is still the fence there: of two deliveries answered 200 in one batch,
    the one replayed meanwhile stays pending with its attempt logged as not applied, and only
    the other's subscriber gets a last success."""
    gate = threading.Event()
    r = Receiver(lambda path, n: (200, {}, b"fine"), gate=gate)
    try:
        kept = add_subscriber(rt, r.url("/kept"))
        replayed = add_subscriber(rt, r.url("/replayed"))
        publish(rt, now=clock())
        from syndication.push.queue import dispatch_events

        dispatch_events(rt.db, ctx.transmitters, clock)
        jobs = {j.subscriber_id: j for j in ctx.engine.claim(10)}
        in_flight = [ctx.outbound.submit(ctx.engine.attempt(j)) for j in jobs.values()]
        wait_for(lambda: len(r.requests) == 2)
        with rt.db.write() as s:
            replay_delivery(s, jobs[replayed.id].delivery_id, clock())
        gate.set()
        results = [f.result(10) for f in in_flight]
        assert [x.status_code for x in results] == [200, 200]
        ctx.engine.record(results)
        by_sub = {d.subscriber_id: d for d in deliveries(rt)}
        done, again = by_sub[kept.id], by_sub[replayed.id]
        assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 200)
        assert done.claim_token is None and done.lease_until is None
        assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, clock())
        (ok,) = attempts(rt, done.id)
        assert (ok.status_code, ok.error, ok.response_excerpt) == (200, None, "fine")
        (lost,) = attempts(rt, again.id)
        assert lost.status_code == 200 and "not applied" in lost.error
        with rt.db.read() as s:
            subs = {x.id: x for x in s.scalars(select(Subscriber))}
        kept_result = next(x for x in results if x.job.subscriber_id == kept.id)
        assert subs[kept.id].last_success_at == kept_result.at
        assert subs[replayed.id].last_success_at is None
        ctx.engine.drain()
        assert {d.status for d in deliveries(rt)} == {"delivered"}
    finally:
        r.close()


def test_a_late_success_after_a_take_over_is_only_logged(rt, clock):
    """Worker A's 200 arrives after its lease ran out and worker B delivered the delivery:
    A's answer is logged, not applied (attempts stay 1), and a result for a delivery deleted
    meanwhile is dropped without breaking its batch."""
    gate = threading.Event()
    r = Receiver(lambda path, n: (200, {}, b""))
    first = rt.push.derive(_settings(rt, lease_seconds=30), clock=clock, rand=lambda: 0.5)
    second = rt.push.derive(_settings(rt, lease_seconds=30), clock=clock, rand=lambda: 0.5)
    try:
        add_subscriber(rt, r.url("/a"))
        gone = add_subscriber(rt, r.url("/gone"))
        publish(rt, now=clock())
        from syndication.push.queue import dispatch_events

        dispatch_events(rt.db, first.transmitters, clock)
        jobs = first.engine.claim(10)
        assert len(jobs) == 2
        r.gate = gate
        in_flight = [first.outbound.submit(first.engine.attempt(j)) for j in jobs]
        wait_for(lambda: len(r.requests) == 2)
        clock.advance(31)  # A's lease ran out
        r.gate = None
        with rt.db.write() as s:
            s.delete(s.get(Subscriber, gone.id))  # its delivery goes with it
        second.engine.drain()  # B claims and delivers the other
        gate.set()
        late = [f.result(10) for f in in_flight]
        assert [x.status_code for x in late] == [200, 200]
        first.engine.record(late)
        (d,) = deliveries(rt)
        assert d.status == "delivered" and d.attempts == 1
        logged = attempts(rt, d.id)
        assert [(a.status_code, a.error is None) for a in logged] == [(200, True), (200, False)]
        assert "not applied" in logged[1].error
    finally:
        first.close()
        second.close()
        r.close()


# -- isolation -----------------------------------------------------------------------------------


def test_one_subscriber_gets_at_most_its_share_of_requests_at_once(rt, clock):
    gate = threading.Event()
    r = Receiver(gate=gate)
    ctx = rt.push.derive(_settings(rt, push_per_subscriber=3), clock=clock, rand=lambda: 0.5)
    try:
        busy = add_subscriber(rt, r.url("/busy/x"))
        other = add_subscriber(rt, r.url("/other/x"))
        for i in range(10):
            publish(rt, f"s{i}", now=clock())
        done = threading.Thread(target=ctx.engine.drain)
        done.start()
        wait_for(lambda: r.max_active["/busy"] == 3 and r.max_active["/other"] == 3)
        gate.set()
        done.join(30)
        assert r.max_active == Counter({"/busy": 3, "/other": 3})
        assert all(d.status == "delivered" for d in deliveries(rt))
        assert {d.subscriber_id for d in deliveries(rt)} == {busy.id, other.id}
    finally:
        ctx.close()
        r.close()


def test_a_failing_subscriber_gets_one_request_at_a_time(rt, ctx, clock):
    r = Receiver(lambda path, n: (500, {}, b""))
    try:
        add_subscriber(rt, r.url("/failing/x"), failing_since=clock())
        for i in range(6):
            publish(rt, f"s{i}", now=clock())
        ctx.engine.drain()
        assert r.max_active["/failing"] == 1 and len(r.requests) == 6
    finally:
        r.close()


def test_trickling_partners_cost_only_themselves(rt):
    """20 endpoints that answer one byte a second and 100 healthy ones: every healthy one gets
    the story while every trickling request is still open, and so does a story published
    after the trickles took their places."""
    slow = Trickler()
    healthy = Receiver()
    ctx = rt.push.derive(_settings(rt, outbound_timeout=120))
    try:
        for i in range(20):
            add_subscriber(rt, slow.url(f"/slow/{i}"), name=f"slow {i}")
        for i in range(100):
            add_subscriber(
                rt, healthy.url(f"/ok/{i}"), name=f"ok {i}", filter={"sections": ["Sport"]}
            )
        ctx.engine.start()
        publish(rt, "first", section="Sport")
        wait_for(lambda: slow.open == 20 and len(healthy.requests) == 100, timeout=20)
        assert slow.open == 20, "every trickle still holds its request"
        publish(rt, "second", section="Sport")
        wait_for(lambda: len(healthy.requests) == 200, timeout=20)
        assert slow.open == slow.accepted >= 20, "no trickle has finished"
        codes = Counter(json.loads(b)["data"]["code"] for _, _, _, b in healthy.requests)
        assert codes == {"first": 100, "second": 100}
    finally:
        slow.close()
        ctx.close()
        healthy.close()


def test_throttle_caps_deliveries_per_second(rt, ctx, clock, receiver):
    add_subscriber(rt, receiver.url(), throttle=2.0)
    for i in range(5):
        publish(rt, f"t{i}", now=clock())
    sent = []
    for _ in range(4):
        before = len(receiver.requests)
        ctx.engine.drain()
        sent.append(len(receiver.requests) - before)
        clock.advance(0.5)
    assert sent == [2, 1, 1, 1], "2 at once (the bucket), then one every 0.5 s"
    assert all(d.attempts == 1 and d.status == "delivered" for d in deliveries(rt))


def test_token_bucket():
    bucket = TokenBucket(2.0, now=100.0)
    assert [bucket.take(100.0), bucket.take(100.0)] == [0.0, 0.0]
    assert bucket.take(100.0) == 0.5
    assert bucket.take(100.25) == 0.25
    assert bucket.take(100.5) == 0.0
    assert bucket.take(99.0) == 0.5, "a clock going back gives nothing away"


# -- recover and retention -----------------------------------------------------------------------


def test_recover_resends_what_a_disabled_subscriber_missed_in_order(rt, ctx, clock, receiver):
    sub = add_subscriber(rt, receiver.url(), active=False, disabled_reason="maintenance")
    start = clock()
    for i in range(3):
        publish(rt, f"missed{i}", now=clock())
        drain(ctx)
        clock.advance(1)
    assert not receiver.requests
    assert [d.status for d in deliveries(rt)] == ["skipped"] * 3
    with rt.db.write() as s:
        s.get(Subscriber, sub.id).active = True
        assert recover(s, sub.id, start - timedelta(seconds=1), None, clock()) == 3
    drain(ctx)
    codes = [json.loads(b)["data"]["code"] for _, _, _, b in receiver.requests]
    assert sorted(codes) == ["missed0", "missed1", "missed2"]
    assert all(d.status == "delivered" for d in deliveries(rt))
    with rt.db.read() as s:
        order = list(s.scalars(select(Delivery.id).order_by(Delivery.next_attempt_at, Delivery.id)))
    assert order == sorted(order), "queued in the order the events came"


def test_retention_prunes_finished_deliveries_but_never_pending_ones(rt, ctx, clock):
    r = Receiver(lambda path, n: (200, {}, b"") if path == "/ok" else (500, {}, b""))
    try:
        add_subscriber(rt, r.url("/ok"))
        add_subscriber(rt, r.url("/failing"))
        publish(rt, now=clock())
        drain(ctx)
        assert sorted(d.status for d in deliveries(rt)) == ["delivered", "pending"]
        clock.advance(rt.settings.delivery_retention - 1)
        assert retention.prune(rt.db, rt.settings, clock) == 0
        clock.advance(2)
        assert retention.prune(rt.db, rt.settings, clock) == 1
        (left,) = deliveries(rt)
        assert left.status == "pending" and len(attempts(rt, left.id)) == 1
        with rt.db.read() as s:
            assert len(s.scalars(select(Event)).all()) == 1, "its event stays"
    finally:
        r.close()


# -- the scheduler, the wake-up and worker processes --------------------------------------------


def test_in_process_change_is_pushed_at_once(rt, receiver):
    """With a one-hour poll, only the wake-up of the commit can bring the story."""
    ctx = rt.push.derive(_settings(rt, poll_interval=3600))
    try:
        add_subscriber(rt, receiver.url())
        publish(rt, "before")
        ctx.engine.start()
        wait_for(lambda: len(receiver.requests) == 1)
        publish(rt, "after")
        wait_for(lambda: len(receiver.requests) == 2)
    finally:
        ctx.close()


def test_scheduled_story_released_at_its_time_and_pushed(rt, ctx, clock, receiver):
    add_subscriber(rt, receiver.url())
    publish_at = clock() + timedelta(minutes=10)
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {
                "code": "later",
                "title": "Later",
                "status": "scheduled",
                "publish_at": publish_at.isoformat(),
            },
            now=clock(),
        )
    clock.advance(599)
    assert release_due_stories(rt.db, rt.settings, clock) == 0
    clock.advance(2)
    assert release_due_stories(rt.db, rt.settings, clock) == 1
    drain(ctx)
    assert receiver.requests
    with rt.db.read() as s:
        story = s.scalars(select(Story).where(Story.code == "later")).one()
        # The first event is the story.embargoed of trusted partners (tests/test_embargo.py).
        event = s.scalars(select(Event).where(Event.type != "story.embargoed")).one()
    assert story.status == "published" and story.published_at == publish_at
    assert event.type == "story.published" and event.created_at == clock()


def _settings(rt, **overrides):
    return make_settings(
        rt.settings.database_url,
        _tmp(rt),
        outbound_allow=rt.settings.outbound_allow,
        retry_schedule=rt.settings.retry_schedule,
        **overrides,
    )


def _tmp(rt):
    from pathlib import Path

    return Path(rt.settings.instance_path).parent


class Worker:
    def __init__(self, settings, **env: str) -> None:
        full = {
            **os.environ,
            "SYNDICATION_DATABASE_URL": settings.database_url,
            "SYNDICATION_INSTANCE_PATH": settings.instance_path,
            "SYNDICATION_BASE_URL": settings.base_url,
            "SYNDICATION_OUTBOUND_ALLOW": "127.0.0.1",
            "SYNDICATION_RETRY_SCHEDULE": "0.2,0.2,0.2",
            "SYNDICATION_LOG_LEVEL": "WARNING",
            **{f"SYNDICATION_{k.upper()}": str(v) for k, v in env.items()},
        }
        full.pop("SYNDICATION_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syndication", "worker"],
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert "worker running" in line, (
            line,
            self.proc.poll() is not None and self.proc.communicate(),
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def test_another_process_change_wakes_the_worker(rt, receiver):
    """With a one-hour poll only the wake-up (NOTIFY on PostgreSQL, a datagram on SQLite) can
    bring a change made by this process to the worker; SIGTERM then stops it cleanly."""
    add_subscriber(rt, receiver.url())
    publish(rt, "before")
    worker = Worker(rt.settings, poll_interval=3600)
    try:
        wait_for(lambda: len(receiver.requests) == 1)  # the worker's first pass
        publish(rt, "after")
        wait_for(lambda: len(receiver.requests) == 2)
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=30) == 0, "SIGTERM stops the worker cleanly"
    finally:
        worker.stop()


def test_sqlite_listener_registers_and_drops_dead_entries(tmp_path):
    from syndication.db import Database
    from syndication.push import wake

    db = Database(f"sqlite:///{tmp_path}/w.db")
    directory = wake.wake_dir(db.engine)
    directory.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (directory / f"{dead.pid}-9").touch()
    waker = wake.Waker(db)
    woken = threading.Event()
    waker.subscribe(woken.set)
    waker.listen()
    try:
        entries = [p.name for p in directory.iterdir()]
        assert entries == [f"{os.getpid()}-{entries[0].rpartition('-')[2]}"]
        woken.clear()
        waker._send_datagrams()
        assert woken.wait(5)
    finally:
        waker.close()
    assert not list(directory.iterdir())
    db.dispose()


def test_crash_mid_fan_out_loses_nothing(rt):
    gate = threading.Event()
    r = Receiver(gate=gate)
    try:
        with rt.db.write() as s:
            s.add_all(
                Subscriber(
                    name=f"p{i}",
                    url=r.url(f"/h/{i}"),
                    secret=generate_secret(),
                    created_at=datetime.now(UTC),
                )
                for i in range(200)
            )
        first = Worker(rt.settings, lease_seconds=2, push_concurrency=30, poll_interval=0.2)
        try:
            publish(rt)
            wait_for(lambda: len(r.counts) >= 30, 20)
            first.kill()  # 30 requests on the wire, none answered
            assert len(r.counts) < 200, "killed mid fan-out"
        finally:
            first.stop()
        gate.set()
        second = Worker(rt.settings, lease_seconds=2, poll_interval=0.2)
        try:
            wait_for(
                lambda: (
                    len(r.counts) == 200 and all(d.status == "delivered" for d in deliveries(rt))
                ),
                60,
            )
        finally:
            second.stop()
        ids: dict[str, set[str]] = defaultdict(set)
        for _, path, h, _ in r.requests:
            ids[path].add(h["webhook-id"])
        assert len(ids) == 200 and all(len(v) == 1 for v in ids.values()), "duplicates share the id"
        assert len(deliveries(rt)) == 200
    finally:
        r.close()


@pytest.fixture
def pg_only(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("scale-out is PostgreSQL's (an embedded SQLite file has one worker)")


def test_two_workers_share_1000_deliveries_without_double_send(rt, pg_only):
    r = Receiver()
    try:
        with rt.db.write() as s:
            s.add_all(
                Subscriber(
                    name=f"p{i}",
                    url=r.url(f"/h/{i}"),
                    secret=generate_secret(),
                    created_at=datetime.now(UTC),
                )
                for i in range(1000)
            )
        workers = [Worker(rt.settings, poll_interval=0.2) for _ in range(2)]
        try:
            publish(rt)
            wait_for(lambda: len(r.counts) == 1000, 60)
            wait_for(lambda: all(d.status == "delivered" for d in deliveries(rt)), 30)
        finally:
            for w in workers:
                w.stop()
        assert len(r.requests) == 1000, Counter(r.counts.values())
        assert len({h["webhook-id"] for _, _, h, _ in r.requests}) == 1000
        assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(rt))
    finally:
        r.close()


def test_an_expansion_cut_short_is_finished_by_another_worker_after_its_lease(rt, ctx, clock):
    """A big fan-out is written a chunk at a time; a worker that dies after the first chunk
    leaves the event leased, and once the lease has run out another expands it again: every
    subscriber gets exactly one delivery."""
    from syndication.push.queue import dispatch_events, start_expansion

    for i in range(5):
        add_subscriber(rt, f"https://p{i}.example/h")
    publish(rt, now=clock())
    first = start_expansion(rt.db, ctx.transmitters, clock, lease_seconds=60, chunk=2)
    assert first is not None and first.created == 2 and len(first.rows) == 3
    # ...and that worker dies here: nobody inserts the other three.
    with rt.db.read() as s:
        (event,) = s.scalars(select(Event)).all()
    assert event.dispatched_at is None and event.expand_lease_until == clock() + timedelta(
        seconds=60
    )
    assert dispatch_events(rt.db, ctx.transmitters, clock, chunk=2) == 0, "still leased"
    clock.advance(61)
    dispatch_events(rt.db, ctx.transmitters, clock, chunk=2)
    pairs = Counter(d.subscriber_id for d in deliveries(rt))
    assert len(pairs) == 5 and set(pairs.values()) == {1}
    with rt.db.read() as s:
        (event,) = s.scalars(select(Event)).all()
    assert event.dispatched_at == clock() and event.expand_lease_until is None
