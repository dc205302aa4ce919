"""Sending due deliveries: claim, commit, send, record — never a transaction open during HTTP.

Claiming: pending deliveries whose next attempt is due and whose lease (a crashed worker's claim)
has expired. On PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` lets any number of workers share
the work, each claim leasing its rows for `lease_seconds`; on SQLite the claim is one BEGIN
IMMEDIATE transaction (one worker is expected). A worker killed after sending but before
recording sends again once the lease expires, with the same webhook-id (at least once).

Sending: requests' connection pool (one HTTPAdapter) the size of `push_concurrency`, as many
threads, timeouts (connect 5 s, read 15 s), no redirects, a token bucket per subscriber
(`throttle` deliveries per second), and the URL checked again (DNS) right before the request.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Table,
    Update,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from syndication.config import Settings
from syndication.db import Database
from syndication.models import Delivery, DeliveryAttempt, Event, Subscriber
from syndication.push import websub_notify
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
    # A WebSub notification: `headers` are sent exactly as websub_notify built them.
    websub: bool = False
    lease_until: datetime | None = None


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
    # Not attempted: too little of the claim's lease was left (another worker may take it).
    lease_ran_out: bool = False


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
        # Requests go straight to requests' connection pool (HTTPAdapter) with a request
        # prepared here: Session.request would merge cookies, hooks, auth and the environment
        # on every call (a third of the send path's CPU, under the GIL the other sends need).
        self.adapter = HTTPAdapter(
            pool_connections=max(10, self.concurrency),
            pool_maxsize=self.concurrency,
            max_retries=0,
        )
        self.base_headers = {**requests.utils.default_headers(), "User-Agent": USER_AGENT}
        # The environment as requests would read it, once: the CA bundle variables, and proxies
        # (looked up per URL only when some are configured, for no_proxy). Credentials from
        # .netrc are never sent: a webhook carries its signature and the subscriber's headers.
        self.verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self._env_proxies = bool(urllib.request.getproxies())
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="push-send")
        self._buckets: dict[int, TokenBucket] = {}
        self._buckets_lock = threading.Lock()
        # Payload bodies by (event id, format): events never change, and a fan-out claims the
        # same event's deliveries dozens of times.
        self._bodies: dict[tuple[int, str], bytes] = {}

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.adapter.close()

    # -- claim ---------------------------------------------------------------------------------

    def claim(self, limit: int, now: datetime | None = None) -> list[Job]:
        """Lease up to `limit` due deliveries and prepare their requests (then commit).

        Core statements, no ORM objects. On PostgreSQL one UPDATE sets the lease of the due rows
        it locks (`FOR UPDATE OF deliveries SKIP LOCKED`) and returns them with what their
        requests need of the subscriber; on SQLite a joined SELECT, then an UPDATE … WHERE id IN
        (…) (the transaction is BEGIN IMMEDIATE: nobody else claims meanwhile). Bodies are
        built once per event and format. Websub deliveries that must not be sent are
        cancelled."""
        if limit <= 0:
            return []
        with self.db.write() as session:
            now = now or utcnow()
            conn = session.connection()
            lease = now + timedelta(seconds=self.settings.lease_seconds)
            params = {"now": now, "limit": limit, "lease": lease}
            if self.db.is_sqlite:
                rows = conn.execute(_CLAIM_QUERY, params).all()
                if rows:
                    conn.execute(_LEASE_UPDATE, {"lease": lease, "ids": [r.id for r in rows]})
            else:
                rows = sorted(
                    conn.execute(_PG_CLAIM, params).all(), key=lambda r: (r.next_attempt_at, r.id)
                )
            if not rows:
                return []
            bodies = self._bodies_for(conn, rows, now)
            jobs: list[Job] = []
            cancelled: list[dict] = []
            for r in rows:
                if r.kind == websub_notify.KIND:
                    d = _ClaimedDelivery(r.id, lease)
                    built = websub_notify.prepare(session, self.settings, d, r, now)
                    if built is not None:
                        body, headers = built
                        jobs.append(
                            Job(
                                delivery_id=r.id,
                                subscriber_id=r.subscriber_id,
                                message_id=r.message_id,
                                url=r.url,
                                secrets=[],
                                headers=headers,
                                body=body,
                                throttle=None,
                                websub=True,
                                lease_until=lease,
                            )
                        )
                    else:  # cancelled: lease expired, topic gone
                        cancelled.append({"_id": r.id, "reason": d.last_error})
                    continue
                secrets = [r.secret]
                if (
                    r.previous_secret
                    and r.previous_secret_until is not None
                    and r.previous_secret_until > now
                ):
                    secrets.append(r.previous_secret)
                jobs.append(
                    Job(
                        delivery_id=r.id,
                        subscriber_id=r.subscriber_id,
                        message_id=r.message_id,
                        url=r.url,
                        secrets=secrets,
                        headers=dict(r.headers or {}),
                        body=bodies[(r.event_id, r.format)],
                        throttle=r.throttle,
                        lease_until=lease,
                    )
                )
            if cancelled:
                conn.execute(_CANCEL_UPDATE, cancelled)
            return jobs

    def _bodies_for(
        self, conn: Connection, rows: list[Row], now: datetime
    ) -> dict[tuple[int, str], bytes]:
        """The body of each webhook row's (event, format): from the cache, or built now."""
        keys = {(r.event_id, r.format) for r in rows if r.kind != websub_notify.KIND}
        found = {k: body for k in keys if (body := self._bodies.get(k)) is not None}
        missing = keys - found.keys()
        if missing:
            ids = sorted({event_id for event_id, _ in missing})
            events = {e.id: e for e in conn.execute(_EVENT_QUERY, {"ids": ids})}
            if len(self._bodies) > _BODY_CACHE_SIZE:
                self._bodies.clear()
            for event_id, fmt in missing:
                body = payload_bytes(events[event_id], _Format(fmt), now)
                found[(event_id, fmt)] = self._bodies[(event_id, fmt)] = body
        return found

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
        if job.websub:
            return dict(job.headers)
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

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxies the environment sets for `url` (none when it sets none at all)."""
        return requests.utils.get_environ_proxies(url) if self._env_proxies else {}

    def send_one(self, job: Job) -> Result:
        """One HTTP attempt (or a throttle deferral, or a refusal of an unsafe URL, or nothing
        when the claim's lease is nearly over)."""
        if job.lease_until is not None:
            # A request starts only with time left to finish within the lease (its timeouts,
            # or half the lease if shorter): after it, another worker may send the delivery.
            timeout = self.timeout or TIMEOUT
            margin = min(sum(timeout), self.settings.lease_seconds / 2)
            if (job.lease_until - utcnow()).total_seconds() < margin:
                return Result(job, utcnow(), lease_ran_out=True)
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
            request = requests.PreparedRequest()
            request.prepare(
                method="POST",
                url=job.url,
                headers={**self.base_headers, **self.headers_for(job, timestamp)},
                data=job.body,
            )
            # The adapter never follows redirects (only Session does).
            resp = self.adapter.send(
                request,
                stream=True,
                timeout=self.timeout or TIMEOUT,
                verify=self.verify,
                proxies=self.proxies_for(job.url),
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
        """Log the attempts and move each delivery on: one transaction of a few bulk statements
        (the attempt log in one executemany INSERT; the deliveries, then the subscribers, in
        executemany UPDATEs keyed by id, each row updated once with only what changed)."""
        # A delivery whose lease ran out is left as it is: due, and free for any worker.
        results = sorted(
            (r for r in results if not r.lease_ran_out),
            key=lambda r: (r.job.subscriber_id, r.job.delivery_id),
        )
        if not results:
            return
        with self.db.write() as session:
            now = utcnow()
            sub_query = (
                select(*_SUB_COLUMNS)
                .where(Subscriber.id.in_(sorted({r.job.subscriber_id for r in results})))
                .order_by(Subscriber.id)
            )
            if not self.db.is_sqlite:
                sub_query = sub_query.with_for_update()  # in id order: no deadlock
            subscribers = {row.id: row._asdict() for row in session.execute(sub_query)}
            deliveries = {
                row.id: row._asdict()
                for row in session.execute(
                    select(*_DELIVERY_COLUMNS).where(
                        Delivery.id.in_({r.job.delivery_id for r in results})
                    )
                )
            }
            sub_loaded = {i: dict(s) for i, s in subscribers.items()}
            delivery_loaded = {i: dict(d) for i, d in deliveries.items()}
            attempts = self._apply(results, subscribers, deliveries, now)
            if attempts:
                log_insert = insert(DeliveryAttempt.__table__)
                if not self.db.is_sqlite:
                    # RETURNING turns on SQLAlchemy's "insertmanyvalues": multi-row INSERTs
                    # instead of one statement per row.
                    log_insert = log_insert.returning(DeliveryAttempt.id)
                session.execute(log_insert, attempts)
            _update_changed(session, Delivery.__table__, delivery_loaded, deliveries)
            _update_changed(session, Subscriber.__table__, sub_loaded, subscribers)

    def _apply(
        self,
        results: list[Result],
        subscribers: dict[int, dict],
        deliveries: dict[int, dict],
        now: datetime,
    ) -> list[dict]:
        """Move the deliveries and subscribers (rows as dicts, changed in place) on by the
        results, in order; returns the attempt log rows to insert."""
        settings = self.settings
        attempts: list[dict] = []
        for r in results:
            d = deliveries.get(r.job.delivery_id)
            sub = subscribers.get(r.job.subscriber_id)
            if d is None or sub is None:
                continue  # deleted meanwhile
            d["lease_until"] = None
            if r.deferred is not None:
                d["next_attempt_at"] = now + timedelta(seconds=r.deferred)
                continue
            attempts.append(
                {
                    "delivery_id": d["id"],
                    "at": r.at,
                    "status_code": r.status_code,
                    "latency_ms": r.latency_ms,
                    "error": r.error,
                    "response_excerpt": r.excerpt,
                }
            )
            d["attempts"] += 1
            d["last_status_code"] = r.status_code
            d["last_error"] = r.error
            code = r.status_code
            if code is not None and 200 <= code < 300:
                d["status"] = "delivered"
                d["delivered_at"] = r.at
                d["next_attempt_at"] = None
                if sub["last_success_at"] is None or sub["last_success_at"] < r.at:
                    sub["last_success_at"] = r.at
                sub["failing_since"] = None
                continue
            if code == 410:
                d["status"] = "dead"
                d["next_attempt_at"] = None
                if sub["active"]:
                    sub["active"] = False
                    sub["disabled_reason"] = f"the endpoint answered 410 Gone at {r.at.isoformat()}"
                    log.warning("subscriber %s disabled: 410 Gone", sub["id"])
                continue
            delay = retry_delay(settings, d["attempts"])
            if delay is not None and r.retry_after is not None:
                delay = r.retry_after
            if delay is None:
                d["status"] = "dead"
                d["next_attempt_at"] = None
            else:
                d["next_attempt_at"] = r.at + timedelta(seconds=delay)
            failing_since = sub["failing_since"]
            if failing_since is None:
                sub["failing_since"] = r.at
            elif sub["active"] and (r.at - failing_since).total_seconds() >= (
                settings.subscriber_disable_after
            ):
                sub["active"] = False
                sub["disabled_reason"] = (
                    f"failing without a success since {failing_since.isoformat()}"
                )
                log.warning("subscriber %s disabled: failing since %s", sub["id"], failing_since)
        return attempts

    # -- the loop ------------------------------------------------------------------------------

    def send_due(self, stop: threading.Event | None = None) -> int:
        """Send everything due now, keeping the pool busy; returns how many results were
        recorded (attempts and deferrals). Returns once nothing is due or in flight.

        This thread claims (keeping up to four times `push_concurrency` jobs in flight, claiming
        at least twice that at a time: each claim is a transaction, which a busy process pays
        for in GIL waits) and gathers
        the results; a second thread records them, one transaction at a time, each taking
        everything that finished while the previous one ran. So neither claiming nor recording
        waits for the other, and the batches grow with the load."""
        events: queue.SimpleQueue[Future[Result] | None] = queue.SimpleQueue()
        inflight = 0
        finished: list[Result] = []
        recording: Future[None] | None = None
        recording_count = 0
        first_finished = 0.0  # when the oldest result in `finished` came in
        done_count = 0
        exhausted = False
        with ThreadPoolExecutor(1, thread_name_prefix="push-record") as recorder:
            while True:
                if recording is not None and recording.done():
                    recording.result()  # a failure to record ends the run, as it always did
                    done_count += recording_count
                    recording = None
                    exhausted = False  # something moved on: look for due work again
                if not exhausted and (stop is None or not stop.is_set()):
                    if inflight <= 2 * self.concurrency:
                        jobs = self.claim(4 * self.concurrency - inflight)
                        exhausted = not jobs
                        for job in jobs:
                            self.pool.submit(self._safe_send, job).add_done_callback(events.put)
                        inflight += len(jobs)
                if (
                    recording is None
                    and finished
                    and (
                        len(finished) >= self.concurrency
                        or not inflight
                        or time.monotonic() - first_finished >= _RECORD_DELAY
                    )
                ):
                    recording = recorder.submit(self.record, finished)
                    recording.add_done_callback(lambda _: events.put(None))
                    recording_count = len(finished)
                    finished = []
                if not inflight and recording is None:
                    return done_count
                timeout = 1.0
                if finished and recording is None:
                    timeout = max(0.0, first_finished + _RECORD_DELAY - time.monotonic())
                try:
                    item = events.get(timeout=timeout)
                except queue.Empty:
                    continue
                while True:
                    if item is not None:  # None: the recorder is free (seen at the top)
                        inflight -= 1
                        if not finished:
                            first_finished = time.monotonic()
                        finished.append(item.result())
                    try:
                        item = events.get_nowait()
                    except queue.Empty:
                        break

    def _safe_send(self, job: Job) -> Result:
        try:
            return self.send_one(job)
        except Exception as exc:  # noqa: BLE001 - any bug must still be recorded as a failure
            log.exception("sending delivery %s failed", job.delivery_id)
            return Result(job, utcnow(), error=f"internal error: {exc!r}"[:1000])


@dataclass
class _Format:
    """What payload_bytes reads of a subscriber."""

    format: str


@dataclass
class _ClaimedDelivery:
    """What websub_notify.prepare may change on a claimed delivery (to cancel it)."""

    id: int
    lease_until: datetime | None
    status: str = "pending"
    next_attempt_at: datetime | None = None
    last_error: str | None = None


_D = Delivery.__table__
_S = Subscriber.__table__
_E = Event.__table__
# Due, unleased deliveries of active subscribers, oldest first, with what their requests need
# (websub ones: what websub_notify.prepare reads of the subscription).
_CLAIM_QUERY = (
    select(
        _D.c.id,
        _D.c.subscriber_id,
        _D.c.event_id,
        _D.c.message_id,
        _S.c.kind,
        _S.c.url,
        _S.c.secret,
        _S.c.previous_secret,
        _S.c.previous_secret_until,
        _S.c.format,
        _S.c.headers,
        _S.c.throttle,
        _S.c.active,
        _S.c.channels,
        _S.c.topic,
        _S.c.topic_format,
        _S.c.verified_at,
        _S.c.lease_expires_at,
    )
    .select_from(_D.join(_S, _S.c.id == _D.c.subscriber_id))
    .where(
        _D.c.status == "pending",
        _D.c.next_attempt_at <= bindparam("now", type_=_D.c.next_attempt_at.type),
        or_(
            _D.c.lease_until.is_(None),
            _D.c.lease_until < bindparam("now", type_=_D.c.lease_until.type),
        ),
        _S.c.active.is_(True),
    )
    .order_by(_D.c.next_attempt_at, _D.c.id)
    .limit(bindparam("limit", type_=Integer))
)
# PostgreSQL: lease the due rows in the statement that locks them, returning what the requests
# need (and next_attempt_at, to send in due order). The locking SELECT is a MATERIALIZED CTE so
# it runs once: LIMIT rows, no more.
_DUE = (
    _CLAIM_QUERY.with_only_columns(_D.c.id)
    .with_for_update(skip_locked=True, of=_D)
    .cte("due")
    .prefix_with("MATERIALIZED")
)
_PG_CLAIM = (
    update(_D)
    .where(_D.c.id == _DUE.c.id, _S.c.id == _D.c.subscriber_id)
    .values(lease_until=bindparam("lease", type_=_D.c.lease_until.type))
    .returning(*_CLAIM_QUERY.selected_columns, _D.c.next_attempt_at)
)
_BODY_CACHE_SIZE = 256
_EVENT_QUERY = select(_E.c.id, _E.c.type, _E.c.snapshot, _E.c.created_at).where(
    _E.c.id.in_(bindparam("ids", expanding=True))
)
_LEASE_UPDATE = (
    update(_D)
    .where(_D.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("lease", type_=_D.c.lease_until.type))
)
_CANCEL_UPDATE = (
    update(_D)
    .where(_D.c.id == bindparam("_id"))
    .values(
        status="cancelled",
        next_attempt_at=None,
        lease_until=None,
        last_error=bindparam("reason", type_=_D.c.last_error.type),
    )
)
# A result waits at most this long (seconds) for others to be recorded with it.
_RECORD_DELAY = 0.02
_PG_UPDATES: dict[tuple[str, tuple[str, ...]], Update] = {}
# What record() reads and may change, per delivery and per subscriber.
_DELIVERY_COLUMNS = (
    Delivery.id,
    Delivery.attempts,
    Delivery.status,
    Delivery.next_attempt_at,
    Delivery.lease_until,
    Delivery.last_status_code,
    Delivery.last_error,
    Delivery.delivered_at,
)
_SUB_COLUMNS = (
    Subscriber.id,
    Subscriber.active,
    Subscriber.disabled_reason,
    Subscriber.last_success_at,
    Subscriber.failing_since,
)


def _update_changed(
    session: Session, table: Table, loaded: dict[int, dict], rows: dict[int, dict]
) -> None:
    """UPDATE each row whose values differ from those loaded, setting only the changed columns
    (as the ORM would): one executemany per set of changed columns, keyed by id."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row_id, row in rows.items():
        before = loaded[row_id]
        changed = {k: v for k, v in row.items() if v != before[k]}
        if changed:
            changed["_id"] = row_id
            groups.setdefault(tuple(sorted(changed)), []).append(changed)
    for keys, params in groups.items():
        if session.get_bind().dialect.name == "postgresql":
            # One UPDATE … FROM (VALUES …) per group: psycopg's executemany costs ~50 µs of
            # Python per row, under the GIL the HTTP threads need.
            session.execute(
                _update_from_arrays(table, keys), {f"a_{k}": [p[k] for p in params] for k in keys}
            )
        else:
            session.execute(update(table).where(table.c.id == bindparam("_id")), params)


def _update_from_arrays(table: Table, keys: tuple[str, ...]) -> Update:
    """UPDATE table SET c = v.c … FROM unnest(:a__id, :a_c, …) AS v(_id, c, …) WHERE id = v._id:
    one statement for any number of rows, compiled once per set of columns."""
    stmt = _PG_UPDATES.get((table.name, keys))
    if stmt is None:
        cols = [k for k in keys if k != "_id"]
        arrays = [
            cast(
                bindparam(f"a_{k}", type_=ARRAY(table.c[k if k != "_id" else "id"].type)),
                ARRAY(table.c[k if k != "_id" else "id"].type),
            )
            for k in ("_id", *cols)
        ]
        rows = func.unnest(*arrays).table_valued("_id", *cols).render_derived(name="v")
        stmt = update(table).where(table.c.id == rows.c._id).values({k: rows.c[k] for k in cols})
        _PG_UPDATES[(table.name, keys)] = stmt
    return stmt


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
