"""What the push tests share: a clock they move by hand, real HTTP receivers on 127.0.0.1 (a
recording one, a trickling one), and small helpers to add subscribers, publish and read back."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from syndication.clock import utcnow
from syndication.models import Delivery, DeliveryAttempt, Subscriber
from syndication.push.webhooks.signing import generate_secret
from syndication.stories.service import create_story

Respond = Callable[[str, int], tuple[int, dict[str, str], bytes]]


class FakeClock:
    """A clock that moves only when told. Starts at the real time (whole seconds), so that
    signatures checked by independent libraries against the real clock still verify."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow().replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=seconds)
            return self.now


class Receiver:
    """A threaded HTTP server recording every request; `respond(path, n)` decides the answer to
    the n-th request on `path` (the request's body is `self.local.body` meanwhile: each request
    has a thread of its own). `gate`, when given, holds every request until it is set."""

    def __init__(self, respond: Respond | None = None, gate: threading.Event | None = None) -> None:
        self.respond = respond or (lambda path, n: (200, {}, b"ok"))
        self.gate = gate
        self.lock = threading.Lock()
        self.local = threading.local()
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[float, str, dict[str, str], bytes]] = []
        self.active = 0
        self.max_active: Counter[str] = Counter()  # most requests at once, per path prefix
        self._active: Counter[str] = Counter()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def app(self, environ, start_response):  # type: ignore[no-untyped-def]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        path = environ["PATH_INFO"]
        prefix = path.rsplit("/", 1)[0] or path
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        with self.lock:
            self.counts[path] += 1
            n = self.counts[path]
            self.requests.append((time.time(), path, headers, body))
            self._active[prefix] += 1
            self.max_active[prefix] = max(self.max_active[prefix], self._active[prefix])
        try:
            if self.gate is not None:
                self.gate.wait(30)
            self.local.body = body
            status, extra, out = self.respond(path, n)
        finally:
            with self.lock:
                self._active[prefix] -= 1
        start_response(f"{status} Answer", list(extra.items()))
        return [out]

    def on(self, path: str) -> list[tuple[float, dict[str, str], bytes]]:
        with self.lock:
            return [(t, h, b) for t, p, h, b in self.requests if p == path]

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A Receiver answering 200 to everything, closed after the test."""
    r = Receiver()
    yield r
    r.close()


class Trickler:
    """A server that reads a request, then answers one byte a second and never finishes: the
    slowest kind of partner. `open` counts connections it is still trickling to."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/slow") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000000
            for byte in answer:
                if self._stop.wait(1.0):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            pass  # the client gave up: what a deadline is for
        finally:
            with self.lock:
                self.open -= 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def add_subscriber(rt, url: str, **fields) -> Subscriber:
    """A webhook subscriber written directly (no URL check: tests use loopback receivers)."""
    with rt.db.write() as s:
        sub = Subscriber(
            name=fields.pop("name", "partner"),
            url=url,
            secret=fields.pop("secret", None) or generate_secret(),
            created_at=fields.pop("created_at", None) or utcnow(),
            **fields,
        )
        s.add(sub)
    return sub


def publish(rt, code: str = "s1", now: datetime | None = None, **fields) -> None:
    data = {"code": code, "title": "Title " + code, "status": "published", "section": "Sport"}
    data.update(fields)
    with rt.db.write() as s:
        create_story(s, rt.settings, data, now=now or utcnow())


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


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for something another thread or process does. The timeout only stops a broken test
    from hanging: no test asserts how long anything took."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def pump(ctx, until: Callable[[], bool], timeout: float = 10.0) -> None:
    """Drain the engine until `until()` holds (for retries the real clock must bring due)."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        ctx.engine.drain()
        time.sleep(0.02)


def settle(ctx, until: Callable[[], bool], rounds: int = 20) -> None:
    """Drain the engine; while `until()` does not hold, move the context's (fake) clock to the
    next pending delivery's due time and drain again: retries without waiting for them. (A
    delivery due already but left pending by a drain waits for an earlier one of its story: the
    clock moves to the next one due later.)"""
    for _ in range(rounds):
        ctx.engine.drain()
        if until():
            return
        with ctx.db.read() as s:
            due = s.scalar(
                select(Delivery.next_attempt_at)
                .where(Delivery.status == "pending", Delivery.next_attempt_at > ctx.clock())
                .order_by(Delivery.next_attempt_at)
                .limit(1)
            )
        if due is None:
            break
        ctx.clock.advance(max(0.0, (due - ctx.clock()).total_seconds()))
    assert until(), "the engine settled without it"
