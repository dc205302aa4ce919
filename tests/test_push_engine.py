"""The delivery engine (push/dispatch.py, push/sender.py, push/jobs.py, `syndication worker`):
real HTTP receivers on 127.0.0.1, signatures checked by the independent `standardwebhooks`
package, real worker processes for crash safety and scale-out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook
from werkzeug.serving import make_server

from syndication.config import ConfigError, load_settings
from syndication.models import Delivery, DeliveryAttempt, Event, Story, Subscriber
from syndication.push import jobs, sender
from syndication.push.signing import generate_secret, sign
from syndication.push.urls import UnsafeURL, check_url
from syndication.runtime import utcnow
from syndication.scheduler import start_scheduler
from syndication.stories.service import create_story

from .conftest import make_settings

Respond = Callable[[str, int], tuple[int, dict[str, str], bytes]]


class Receiver:
    """A threaded HTTP server recording every request; `respond(path, n)` decides the answer to
    the n-th request on `path`."""

    def __init__(self, respond: Respond | None = None, delay: float = 0.0) -> None:
        self.respond = respond or (lambda path, n: (200, {}, b"ok"))
        self.delay = delay
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[float, str, dict[str, str], bytes]] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def app(self, environ, start_response):  # type: ignore[no-untyped-def]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        path = environ["PATH_INFO"]
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        with self.lock:
            self.counts[path] += 1
            n = self.counts[path]
            self.requests.append((time.time(), path, headers, body))
        status, extra, out = self.respond(path, n)
        if self.delay:
            time.sleep(self.delay)
        start_response(f"{status} Answer", list(extra.items()))
        return [out]

    def on(self, path: str) -> list[tuple[float, dict[str, str], bytes]]:
        with self.lock:
            return [(t, h, b) for t, p, h, b in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(
        db_url,
        tmp_path,
        outbound_allow="127.0.0.1",
        retry_schedule="0.2,0.2,0.2",
        poll_interval=0.5,
    )


@pytest.fixture(autouse=True)
def _close_senders():
    yield
    jobs.close_senders()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def add_subscriber(rt, url: str, **fields) -> Subscriber:
    with rt.db.write() as s:
        sub = Subscriber(
            name=fields.pop("name", "partner"),
            url=url,
            secret=fields.pop("secret", None) or generate_secret(),
            created_at=utcnow(),
            **fields,
        )
        s.add(sub)
    return sub


def publish(rt, code: str = "s1", **fields) -> None:
    data = {"code": code, "title": "Title " + code, "status": "published", "section": "Sport"}
    data.update(fields)
    with rt.db.write() as s:
        create_story(s, rt.settings, data, now=utcnow())


def pump(rt, until: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the push jobs in this process until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        jobs.dispatch_events(rt.db, rt.settings)
        jobs.send_due(rt.db, rt.settings)
        time.sleep(0.02)


def deliveries(rt) -> list[Delivery]:
    with rt.db.read() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def attempts(rt, delivery_id: int) -> list[DeliveryAttempt]:
    with rt.db.read() as s:
        return list(
            s.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        )


# -- signatures and payload ----------------------------------------------------------------------


def test_signatures_verify_with_standardwebhooks_also_during_rotation(rt, receiver):
    old, new = generate_secret(), generate_secret()
    add_subscriber(rt, receiver.url("/plain"), secret=old)
    add_subscriber(
        rt,
        receiver.url("/rotated"),
        secret=new,
        previous_secret=old,
        previous_secret_until=utcnow() + timedelta(hours=1),
        headers={"X-Partner": "p1", "webhook-id": "forged"},
    )
    add_subscriber(
        rt,
        receiver.url("/expired"),
        secret=new,
        previous_secret=old,
        previous_secret_until=utcnow() - timedelta(seconds=1),
    )
    publish(rt)
    pump(rt, lambda: len(receiver.requests) == 3)

    (_, h, body) = receiver.on("/plain")[0]
    assert h["content-type"] == "application/json"
    payload = Webhook(old).verify(body, h)
    assert payload["type"] == "story.published"
    assert payload["data"]["code"] == "s1" and payload["data"]["revision"] >= 1
    assert payload["timestamp"].endswith("Z")
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 30

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


def test_events_reach_only_matching_subscribers(rt, receiver):
    add_subscriber(rt, receiver.url("/all"))
    add_subscriber(rt, receiver.url("/sport"), filter={"sections": ["sport"]})
    add_subscriber(rt, receiver.url("/world"), filter={"sections": ["World"]})
    add_subscriber(rt, receiver.url("/retractions"), event_types=["story.retracted"])
    add_subscriber(rt, receiver.url("/off"), active=False)
    publish(rt)
    pump(rt, lambda: len(receiver.requests) == 2)
    time.sleep(0.1)
    jobs.dispatch_events(rt.db, rt.settings)
    jobs.send_due(rt.db, rt.settings)
    assert sorted(receiver.counts) == ["/all", "/sport"]
    with rt.db.read() as s:
        assert (
            s.scalar(select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None)))
            == 0
        )


# -- results and retries -------------------------------------------------------------------------


def test_fails_three_times_then_delivered_with_the_same_id_and_logged(rt):
    r = Receiver(lambda path, n: (500, {}, b"boom " * 500) if n <= 3 else (204, {}, b""))
    dead = Receiver(lambda path, n: (500, {}, "é".encode()[:1]))
    try:
        ok_sub = add_subscriber(rt, r.url())
        dead_sub = add_subscriber(rt, dead.url())
        publish(rt)
        pump(rt, lambda: all(d.status != "pending" for d in deliveries(rt)) and deliveries(rt))
        # Deliveries are created in no particular subscriber order: pick them by subscriber.
        by_sub = {d.subscriber_id: d for d in deliveries(rt)}
        ok, gone = by_sub[ok_sub.id], by_sub[dead_sub.id]
        assert ok.status == "delivered" and ok.attempts == 4
        assert len({h["webhook-id"] for _, h, _ in r.on("/hook")}) == 1
        assert [h["webhook-id"] for _, h, _ in r.on("/hook")][0] == ok.message_id
        log = attempts(rt, ok.id)
        assert [a.status_code for a in log] == [500, 500, 500, 204]
        assert len(log[0].response_excerpt) == 1024 and log[0].latency_ms is not None
        gaps = [b[0] - a[0] for a, b in zip(r.on("/hook"), r.on("/hook")[1:], strict=False)]
        assert all(g >= 0.15 for g in gaps), gaps  # 0.2 s ± 10 %, from the previous attempt
        assert gone.status == "dead" and gone.attempts == 4, "after the last retry: dead"
        assert attempts(rt, gone.id)[0].response_excerpt == "\ufffd"
        with rt.db.read() as s:
            subs = {x.url: x for x in s.scalars(select(Subscriber))}
        assert subs[r.url()].last_success_at and subs[r.url()].failing_since is None
        assert subs[dead.url()].failing_since and subs[dead.url()].active
    finally:
        r.close()
        dead.close()


def test_410_disables_the_subscriber(rt):
    r = Receiver(lambda path, n: (410, {}, b"gone"))
    try:
        add_subscriber(rt, r.url())
        publish(rt, "a")
        pump(rt, lambda: deliveries(rt) and deliveries(rt)[0].status != "pending")
        publish(rt, "b")
        jobs.dispatch_events(rt.db, rt.settings)
        jobs.send_due(rt.db, rt.settings)
        assert len(r.requests) == 1
        assert [d.status for d in deliveries(rt)] == ["dead"]
        with rt.db.read() as s:
            sub = s.scalars(select(Subscriber)).one()
        assert not sub.active and "410" in sub.disabled_reason
    finally:
        r.close()


def test_subscriber_failing_too_long_is_disabled(rt, monkeypatch):
    r = Receiver(lambda path, n: (500, {}, b""))
    try:
        add_subscriber(rt, r.url(), failing_since=utcnow() - timedelta(days=6))
        publish(rt)
        pump(rt, lambda: len(r.requests) >= 1)
        with rt.db.read() as s:
            sub = s.scalars(select(Subscriber)).one()
        assert not sub.active and "failing" in sub.disabled_reason
    finally:
        r.close()


def test_timeout_is_retried(rt, monkeypatch):
    monkeypatch.setattr(sender, "TIMEOUT", (2, 0.3))
    r = Receiver(lambda path, n: (time.sleep(1.0) if n == 1 else None) or (200, {}, b"ok"))
    try:
        add_subscriber(rt, r.url())
        publish(rt)
        pump(rt, lambda: deliveries(rt) and deliveries(rt)[0].status == "delivered")
        (d,) = deliveries(rt)
        log = attempts(rt, d.id)
        assert [a.status_code for a in log] == [None, 200]
        assert log[0].error.startswith("timeout")
    finally:
        r.close()


def test_redirect_is_not_followed(rt):
    r = Receiver(
        lambda path, n: (302, {"Location": "/target"}, b"") if path == "/hook" else (200, {}, b"")
    )
    try:
        add_subscriber(rt, r.url())
        publish(rt)
        pump(rt, lambda: deliveries(rt) and deliveries(rt)[0].attempts >= 2)
        assert r.on("/target") == []
        (d,) = deliveries(rt)
        assert d.status == "pending" and d.last_status_code == 302
        assert "not followed" in d.last_error
    finally:
        r.close()


def test_retry_after_is_honoured(rt):
    r = Receiver(lambda path, n: (429, {"Retry-After": "1"}, b"") if n == 1 else (200, {}, b""))
    try:
        add_subscriber(rt, r.url())
        publish(rt)
        pump(rt, lambda: deliveries(rt) and deliveries(rt)[0].status == "delivered")
        first, second = r.on("/hook")
        assert second[0] - first[0] >= 0.95, "Retry-After: 1 replaces the 0.2 s schedule"
        assert deliveries(rt)[0].attempts == 2
    finally:
        r.close()


def test_retry_after_http_date():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert sender.parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now) == 30
    assert sender.parse_retry_after("120", now) == 120
    assert sender.parse_retry_after("soon", now) is None


def test_private_address_refused_at_send_time(rt):
    add_subscriber(rt, "https://10.0.0.1/hook")
    publish(rt)
    pump(rt, lambda: deliveries(rt) and deliveries(rt)[0].attempts >= 1)
    (d,) = deliveries(rt)
    (a,) = attempts(rt, d.id)[:1]
    assert a.status_code is None and a.latency_ms is None
    assert a.error.startswith("refused") and "private" in a.error


def test_check_url():
    none = load_settings({}, environ={})
    allow = load_settings({"outbound_allow": "127.0.0.1, hooks.internal, 10.0.0.0/8"}, environ={})
    for url, reason in [
        ("http://example.com/h", "https"),
        ("ftp://example.com/h", "https"),
        ("https://127.0.0.1/h", "loopback"),
        ("https://localhost/h", "loopback"),
        ("https://10.1.2.3/h", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://0.0.0.0/h", "unspecified"),
        ("https://[::1]/h", "loopback"),
        ("https://[::ffff:192.168.0.1]/h", "private"),
        ("https://u:p@example.com/h", "credentials"),
    ]:
        with pytest.raises(UnsafeURL, match=reason):
            check_url(url, none)
    assert check_url("http://127.0.0.1:9/h", allow)
    assert check_url("http://10.9.9.9/h", allow)
    assert check_url("http://hooks.internal/h", allow, resolve=False)
    assert check_url("https://partner.example/h", none, resolve=False)
    with pytest.raises(UnsafeURL, match="private"):
        check_url("https://192.168.1.1/h", allow)
    with pytest.raises(ConfigError, match="outbound_allow"):
        load_settings({"outbound_allow": "10.0.0.0/99"}, environ={})
    with pytest.raises(ConfigError, match="retry_schedule"):
        load_settings({"retry_schedule": "5,soon"}, environ={})


# -- the scheduler, the wake-up and worker processes --------------------------------------------


def test_no_request_starts_without_lease_left_to_finish_it(rt, receiver):
    """A job that waited in the queue until its lease was nearly over is not sent: another
    worker may already have claimed it. It stays due and untouched, and is sent later."""
    short = load_settings({**_overrides(rt.settings), "lease_seconds": 2}, environ={})
    add_subscriber(rt, receiver.url())
    publish(rt)
    jobs.dispatch_events(rt.db, short)
    worker = sender.Sender(rt.db, short)
    try:
        (job,) = worker.claim(10)
        time.sleep(1.1)  # waited in the queue: 0.9 s of lease left, under half of it
        result = worker.send_one(job)
        assert result.lease_ran_out and result.status_code is None
        worker.record([result])
        (d,) = deliveries(rt)
        assert (d.status, d.attempts, d.lease_until) == ("pending", 0, job.lease_until)
        assert not receiver.requests and not attempts(rt, d.id)
        time.sleep(max(0.0, (job.lease_until - utcnow()).total_seconds()) + 0.05)
        (again,) = worker.claim(10)
        worker.record([worker.send_one(again)])
    finally:
        worker.close()
    assert len(receiver.requests) == 1 and deliveries(rt)[0].status == "delivered"


def test_an_update_reaches_who_had_the_story_and_who_gets_it_now(rt, receiver):
    """Moving a story from Sport to World: partners of Sport get the update (they have the
    story), partners of World too (it is theirs now), partners of Local nothing."""
    from syndication.stories.service import update_story

    for section in ("Sport", "World", "Local"):
        add_subscriber(rt, receiver.url(f"/{section}"), filter={"sections": [section]})
    publish(rt, "moved")  # section Sport
    pump(rt, lambda: len(receiver.requests) == 1)
    with rt.db.write() as s:
        update_story(s, rt.settings, "moved", {"section": "World"}, now=utcnow())
        update_story(s, rt.settings, "moved", {"title": "Retitled"}, now=utcnow())
    pump(rt, lambda: len(receiver.requests) == 4)
    time.sleep(0.1)
    jobs.dispatch_events(rt.db, rt.settings)
    jobs.send_due(rt.db, rt.settings)
    types = {
        path: [json.loads(body)["type"] for _, p, _, body in receiver.requests if p == path]
        for path in ("/Sport", "/World", "/Local")
    }
    assert types == {
        "/Sport": ["story.published", "story.updated"],
        "/World": ["story.updated", "story.updated"],
        "/Local": [],
    }


def test_environment_proxies_and_ca_bundle_but_never_netrc(monkeypatch, tmp_path):
    """The environment as requests reads it (CA bundle, proxies and no_proxy), read once; a
    .netrc never puts credentials on a webhook."""
    from types import SimpleNamespace

    db = SimpleNamespace(is_sqlite=True)
    settings = load_settings({}, environ={})
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "NETRC"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    plain = sender.Sender(db, settings)
    assert plain.verify == "/etc/ssl/bundle.pem"
    assert plain.proxies_for("https://partner.example/h") == {}
    plain.close()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    proxied = sender.Sender(db, settings)
    assert proxied.proxies_for("https://partner.example/h")["https"] == "http://proxy.example:3128"
    assert proxied.proxies_for("https://direct.example/h") == {}
    proxied.close()


def test_netrc_credentials_are_not_sent(monkeypatch, tmp_path, rt, receiver):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login partner password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    add_subscriber(rt, receiver.url())
    publish(rt, "netrc-story")
    pump(rt, lambda: len(receiver.requests) == 1)
    headers = {k.lower() for k in receiver.requests[0][2]}
    assert "authorization" not in headers and "webhook-signature" in headers


def test_in_process_change_is_pushed_at_once(rt, receiver):
    slow = load_settings({**_overrides(rt.settings), "poll_interval": 30}, environ={})
    add_subscriber(rt, receiver.url())
    running = start_scheduler(rt.db, slow)
    try:
        time.sleep(0.3)  # the first (immediate) run is over: the next poll is 30 s away
        started = time.time()
        publish(rt)
        deadline = time.monotonic() + 5
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiver.requests and receiver.requests[0][0] - started < 1.0
    finally:
        running.shutdown()


def test_scheduled_story_released_within_one_interval(rt, receiver):
    add_subscriber(rt, receiver.url())
    publish_at = (utcnow() + timedelta(seconds=1.0)).replace(microsecond=0) + timedelta(seconds=1)
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
            now=utcnow(),
        )
    running = start_scheduler(rt.db, rt.settings)
    try:
        deadline = time.monotonic() + 6
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        running.shutdown()
    assert receiver.requests
    with rt.db.read() as s:
        story = s.scalars(select(Story).where(Story.code == "later")).one()
        event = s.scalars(select(Event)).one()
    assert story.status == "published" and event.type == "story.published"
    late = (event.created_at - publish_at).total_seconds()
    assert 0 <= late <= rt.settings.poll_interval + 0.25, late
    assert receiver.requests[0][0] - publish_at.timestamp() <= rt.settings.poll_interval + 1.0


def _overrides(settings) -> dict:
    return {
        "database_url": settings.database_url,
        "base_url": settings.base_url,
        "instance_path": settings.instance_path,
        "outbound_allow": settings.outbound_allow,
        "retry_schedule": settings.retry_schedule,
    }


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
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _wait(cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_change_by_another_process_pushed_within_2_seconds(rt, receiver):
    add_subscriber(rt, receiver.url())
    worker = Worker(rt.settings, poll_interval=1.0)
    try:
        time.sleep(0.5)
        started = time.time()
        publish(rt)  # this process is not the worker's: only its polling can see the change
        _wait(lambda: bool(receiver.requests), 5)
        assert receiver.requests[0][0] - started < 2.0
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=15) == 0, "SIGTERM stops the worker cleanly"
    finally:
        worker.stop()


def test_another_process_change_wakes_the_worker_at_once(rt, receiver):
    """With a 30 s poll only the wake-up (NOTIFY on PostgreSQL, a datagram on SQLite) can bring
    the change to the worker in time."""
    add_subscriber(rt, receiver.url())
    worker = Worker(rt.settings, poll_interval=30)
    try:
        time.sleep(0.5)  # the worker's first (immediate) run is over
        started = time.time()
        publish(rt)
        _wait(lambda: bool(receiver.requests), 5)
        assert receiver.requests[0][0] - started < 1.0
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
    listener = wake.Listener(db).start()
    try:
        entries = [p.name for p in directory.iterdir()]
        assert entries == [f"{os.getpid()}-{entries[0].rpartition('-')[2]}"]
        wake.WAKE.clear()
        wake._send_datagrams(db.engine)
        assert wake.WAKE.wait(2)
    finally:
        listener.stop()
    assert not list(directory.iterdir())
    db.dispose()


def test_crash_mid_fan_out_loses_nothing(rt):
    r = Receiver(delay=0.05)
    try:
        with rt.db.write() as s:
            s.add_all(
                Subscriber(
                    name=f"p{i}",
                    url=r.url(f"/h/{i}"),
                    secret=generate_secret(),
                    created_at=utcnow(),
                )
                for i in range(200)
            )
        first = Worker(rt.settings, lease_seconds=2, push_concurrency=8, poll_interval=0.2)
        try:
            publish(rt)
            _wait(lambda: len(r.counts) >= 30, 10)
            first.kill()
            assert len(r.counts) < 200, "killed mid fan-out"
        finally:
            first.stop()
        second = Worker(rt.settings, lease_seconds=2, push_concurrency=16, poll_interval=0.2)
        try:
            _wait(
                lambda: (
                    len(r.counts) == 200 and all(d.status == "delivered" for d in deliveries(rt))
                ),
                30,
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


def test_two_workers_share_1000_deliveries_without_double_send(rt, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("scale-out is for PostgreSQL (SQLite runs one worker)")
    r = Receiver()
    try:
        with rt.db.write() as s:
            s.add_all(
                Subscriber(
                    name=f"p{i}",
                    url=r.url(f"/h/{i}"),
                    secret=generate_secret(),
                    created_at=utcnow(),
                )
                for i in range(1000)
            )
        workers = [Worker(rt.settings, poll_interval=0.2) for _ in range(2)]
        try:
            publish(rt)
            _wait(lambda: len(r.counts) == 1000, 30)
            time.sleep(0.5)
        finally:
            for w in workers:
                w.stop()
        assert len(r.requests) == 1000, Counter(r.counts.values())
        assert len({h["webhook-id"] for _, _, h, _ in r.requests}) == 1000
        assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(rt))
    finally:
        r.close()


def test_throttle_caps_deliveries_per_second(rt, receiver):
    add_subscriber(rt, receiver.url(), throttle=2.0)
    for i in range(5):
        publish(rt, f"t{i}")
    pump(rt, lambda: len(receiver.requests) == 5)
    times = sorted(t for t, _, _, _ in receiver.requests)
    assert times[-1] - times[0] >= 1.2, "2 at once (the bucket), then one every 0.5 s"
    assert all(d.attempts == 1 for d in deliveries(rt)), "a throttled delivery is not an attempt"
