"""Sending due deliveries: claim, commit, send, record — never a transaction open during HTTP.

Claiming: pending deliveries whose next attempt is due and whose lease (a crashed worker's claim)
has expired. On PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` lets any number of workers share
the work, each claim leasing its rows for `lease_seconds`; on SQLite the claim is one BEGIN
IMMEDIATE transaction (one worker is expected). A worker killed after sending but before
recording sends again once the lease expires, with the same webhook-id (at least once).

Sending: one `requests.Session` with a connection pool the size of `push_concurrency`, as many
threads, timeouts (connect 5 s, read 15 s), no redirects, a token bucket per subscriber
(`throttle` deliveries per second), and the URL checked again (DNS) right before the request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import or_, select

from syndication.config import Settings
from syndication.db import Database
from syndication.models import Delivery, DeliveryAttempt, Event, Subscriber
from syndication.push.formats import payload_bytes
from syndication.push.signing import signature_header
from syndication.push.urls import UnsafeURL, check_url
from syndication.runtime import utcnow

log = logging.getLogger(__name__)

# (connect, read) seconds. Module-level so tests can shorten it.
TIMEOUT: tuple[float, float] = (5, 15)
EXCERPT_BYTES = 1024
MAX_READ = 64 * 1024  # more of a response body than this is not read (the connection is closed)
JITTER = 0.10
USER_AGENT = "syndication-webhooks/1"
_RESERVED_HEADERS = {"content-type", "content-length", "host", "transfer-encoding"}


@dataclass
class Job:
    delivery_id: int
    subscriber_id: int
    message_id: str
    url: str
    secrets: list[str]
    headers: dict[str, str]
    body: bytes
    throttle: float | None


@dataclass
class Result:
    job: Job
    at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after: float | None = None
    deferred: float | None = None  # throttled: not attempted, due again in this many seconds


@dataclass
class TokenBucket:
    rate: float
    tokens: float = 0.0
    last: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate)

    def take(self) -> float:
        """0 when a token was taken, else the seconds until the next one."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def retry_delay(settings: Settings, attempts: int) -> float | None:
    """Seconds before the next try after `attempts` failed ones (±10 %), None = give up."""
    delays = settings.retry_delays
    if attempts > len(delays):
        return None
    return delays[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def _decode(data: bytes) -> str:
    return data[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "")


class Sender:
    """One per process: the HTTP session, the thread pool and the throttles."""

    def __init__(
        self, db: Database, settings: Settings, *, timeout: tuple[float, float] | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.timeout = timeout
        self.concurrency = settings.push_concurrency
        self.http = requests.Session()
        adapter = HTTPAdapter(
            pool_connections=max(10, self.concurrency),
            pool_maxsize=self.concurrency,
            max_retries=0,
        )
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers["User-Agent"] = USER_AGENT
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="push-send")
        self._buckets: dict[int, TokenBucket] = {}
        self._buckets_lock = threading.Lock()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.http.close()

    # -- claim ---------------------------------------------------------------------------------

    def claim(self, limit: int, now: datetime | None = None) -> list[Job]:
        """Lease up to `limit` due deliveries and prepare their requests (then commit)."""
        if limit <= 0:
            return []
        with self.db.write() as session:
            now = now or utcnow()
            query = (
                select(Delivery)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= now,
                    or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                    Subscriber.active.is_(True),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True, of=Delivery)
            deliveries = list(session.scalars(query).all())
            if not deliveries:
                return []
            lease = now + timedelta(seconds=self.settings.lease_seconds)
            subscribers = {
                s.id: s
                for s in session.scalars(
                    select(Subscriber).where(
                        Subscriber.id.in_({d.subscriber_id for d in deliveries})
                    )
                )
            }
            events = {
                e.id: e
                for e in session.scalars(
                    select(Event).where(Event.id.in_({d.event_id for d in deliveries}))
                )
            }
            bodies: dict[tuple[int, str], bytes] = {}
            jobs = []
            for d in deliveries:
                d.lease_until = lease
                sub = subscribers[d.subscriber_id]
                event = events[d.event_id]
                key = (event.id, sub.format)
                if key not in bodies:
                    bodies[key] = payload_bytes(event, sub, now)
                secrets = [sub.secret]
                if (
                    sub.previous_secret
                    and sub.previous_secret_until is not None
                    and sub.previous_secret_until > now
                ):
                    secrets.append(sub.previous_secret)
                jobs.append(
                    Job(
                        delivery_id=d.id,
                        subscriber_id=sub.id,
                        message_id=d.message_id,
                        url=sub.url,
                        secrets=secrets,
                        headers=dict(sub.headers or {}),
                        body=bodies[key],
                        throttle=sub.throttle,
                    )
                )
            return jobs

    # -- send ----------------------------------------------------------------------------------

    def _bucket(self, job: Job) -> TokenBucket | None:
        if not job.throttle or job.throttle <= 0:
            return None
        with self._buckets_lock:
            bucket = self._buckets.get(job.subscriber_id)
            if bucket is None or bucket.rate != job.throttle:
                bucket = self._buckets[job.subscriber_id] = TokenBucket(job.throttle)
            return bucket

    def headers_for(self, job: Job, timestamp: int) -> dict[str, str]:
        headers = {
            k: v
            for k, v in job.headers.items()
            if not k.lower().startswith("webhook-") and k.lower() not in _RESERVED_HEADERS
        }
        headers["Content-Type"] = "application/json"
        headers["webhook-id"] = job.message_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = signature_header(
            job.secrets, job.message_id, timestamp, job.body
        )
        return headers

    def send_one(self, job: Job) -> Result:
        """One HTTP attempt (or a throttle deferral, or a refusal of an unsafe URL)."""
        bucket = self._bucket(job)
        if bucket is not None:
            wait_for = bucket.take()
            if wait_for > 0:
                return Result(job, utcnow(), deferred=wait_for)
        at = utcnow()
        try:
            check_url(job.url, self.settings)
        except UnsafeURL as exc:
            return Result(job, at, error=f"refused: {exc}"[:1000])
        timestamp = int(time.time())
        started = time.monotonic()
        try:
            resp = self.http.post(
                job.url,
                data=job.body,
                headers=self.headers_for(job, timestamp),
                timeout=self.timeout or TIMEOUT,
                allow_redirects=False,
                stream=True,
            )
            try:
                data = bytearray()
                for chunk in resp.iter_content(8192):
                    data += chunk
                    if len(data) > MAX_READ:
                        break
            finally:
                resp.close()
        except requests.Timeout as exc:
            return Result(job, at, latency_ms=_ms(started), error=f"timeout: {exc}"[:1000])
        except requests.ConnectionError as exc:
            return Result(job, at, latency_ms=_ms(started), error=f"connection error: {exc}"[:1000])
        except requests.RequestException as exc:
            return Result(job, at, latency_ms=_ms(started), error=f"request failed: {exc}"[:1000])
        result = Result(
            job,
            at,
            status_code=resp.status_code,
            latency_ms=_ms(started),
            excerpt=_decode(bytes(data)),
        )
        if resp.status_code in (429, 503):
            result.retry_after = parse_retry_after(resp.headers.get("Retry-After"), utcnow())
        if not 200 <= resp.status_code < 300:
            reason = resp.reason or ""
            location = resp.headers.get("Location")
            result.error = f"HTTP {resp.status_code} {reason}".strip()
            if 300 <= resp.status_code < 400 and location:
                result.error += f" (redirect to {location[:300]} not followed)"
        return result

    # -- record --------------------------------------------------------------------------------

    def record(self, results: list[Result]) -> None:
        """Log the attempts and move each delivery on (one transaction)."""
        if not results:
            return
        settings = self.settings
        results = sorted(results, key=lambda r: (r.job.subscriber_id, r.job.delivery_id))
        with self.db.write() as session:
            now = utcnow()
            sub_ids = sorted({r.job.subscriber_id for r in results})
            sub_query = select(Subscriber).where(Subscriber.id.in_(sub_ids)).order_by(Subscriber.id)
            if not self.db.is_sqlite:
                sub_query = sub_query.with_for_update()  # in id order: no deadlock
            subscribers = {s.id: s for s in session.scalars(sub_query)}
            deliveries = {
                d.id: d
                for d in session.scalars(
                    select(Delivery).where(Delivery.id.in_([r.job.delivery_id for r in results]))
                )
            }
            for r in results:
                d = deliveries.get(r.job.delivery_id)
                sub = subscribers.get(r.job.subscriber_id)
                if d is None or sub is None:
                    continue  # deleted meanwhile
                d.lease_until = None
                if r.deferred is not None:
                    d.next_attempt_at = now + timedelta(seconds=r.deferred)
                    continue
                session.add(
                    DeliveryAttempt(
                        delivery_id=d.id,
                        at=r.at,
                        status_code=r.status_code,
                        latency_ms=r.latency_ms,
                        error=r.error,
                        response_excerpt=r.excerpt,
                    )
                )
                d.attempts += 1
                d.last_status_code = r.status_code
                d.last_error = r.error
                code = r.status_code
                if code is not None and 200 <= code < 300:
                    d.status = "delivered"
                    d.delivered_at = r.at
                    d.next_attempt_at = None
                    if sub.last_success_at is None or sub.last_success_at < r.at:
                        sub.last_success_at = r.at
                    sub.failing_since = None
                    continue
                if code == 410:
                    d.status = "dead"
                    d.next_attempt_at = None
                    if sub.active:
                        sub.active = False
                        sub.disabled_reason = (
                            f"the endpoint answered 410 Gone at {r.at.isoformat()}"
                        )
                        log.warning("subscriber %s disabled: 410 Gone", sub.id)
                    continue
                delay = retry_delay(settings, d.attempts)
                if delay is not None and r.retry_after is not None:
                    delay = r.retry_after
                if delay is None:
                    d.status = "dead"
                    d.next_attempt_at = None
                else:
                    d.next_attempt_at = r.at + timedelta(seconds=delay)
                if sub.failing_since is None:
                    sub.failing_since = r.at
                elif sub.active and (r.at - sub.failing_since).total_seconds() >= (
                    settings.subscriber_disable_after
                ):
                    sub.active = False
                    sub.disabled_reason = (
                        f"failing without a success since {sub.failing_since.isoformat()}"
                    )
                    log.warning(
                        "subscriber %s disabled: failing since %s", sub.id, sub.failing_since
                    )  # noqa: E501

    # -- the loop ------------------------------------------------------------------------------

    def send_due(self, stop: threading.Event | None = None) -> int:
        """Send everything due now, keeping the pool busy; returns how many results were
        recorded (attempts and deferrals). Returns once nothing is due or in flight."""
        inflight: set[Future[Result]] = set()
        done_count = 0
        exhausted = False
        while True:
            if not exhausted and (stop is None or not stop.is_set()):
                if len(inflight) <= self.concurrency:
                    jobs = self.claim(2 * self.concurrency - len(inflight))
                    exhausted = not jobs
                    inflight.update(self.pool.submit(self._safe_send, job) for job in jobs)
            if not inflight:
                return done_count
            done, inflight = wait(inflight, timeout=1.0, return_when=FIRST_COMPLETED)
            # Gather whatever else finished meanwhile, to record in one transaction.
            more = {f for f in inflight if f.done()}
            inflight -= more
            results = [f.result() for f in (done | more)]
            if results:
                self.record(results)
                done_count += len(results)
                exhausted = False

    def _safe_send(self, job: Job) -> Result:
        try:
            return self.send_one(job)
        except Exception as exc:  # noqa: BLE001 - any bug must still be recorded as a failure
            log.exception("sending delivery %s failed", job.delivery_id)
            return Result(job, utcnow(), error=f"internal error: {exc!r}"[:1000])


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
