"""The delivery engine: claim due deliveries, lease them, send them through the outbound client,
record the results, retry on a schedule. It knows no kinds of subscriber: a transmitter per
kind (push/transmitter.py) says what each request is.

Claiming. Pending deliveries whose next attempt is due and whose lease (a worker's claim) has
expired, of active subscribers, oldest first — but at most `push_per_subscriber` in flight per
subscriber in this process (1 while the subscriber is failing), so one partner's backlog or slowness
never holds the others' places. In order: a story's event to a subscriber is not claimed while an
earlier event of that story to that subscriber is still pending (`_IN_ORDER`), so a partner's
retries of `story.published` hold its `story.updated` back. On PostgreSQL one statement picks each
subscriber's first due rows (a LATERAL probe per active subscriber: the cost follows the
subscribers, not the backlog), locks them `FOR UPDATE SKIP LOCKED` and leases them; on SQLite a
window query in one BEGIN IMMEDIATE transaction. Every claim carries a fresh token: a result is
applied only while the delivery still carries its token, so a replay, or another worker's claim
after the lease ran out, is never overwritten by an older attempt's result.

Sending. Requests run on the outbound client's event loop (syndication/outbound): up to
`push_concurrency` in flight per process, each bounded by one deadline (`outbound_timeout`,
connect to last byte), so a peer that trickles or hangs holds one place for at most that long,
and only its own. A request starts only with enough lease left to finish it (else it is left,
untouched, for any worker). A throttled subscriber (`throttle` deliveries per second) is
deferred without counting an attempt.

Recording. Results are written in batches on a thread of their own, so neither claiming nor
recording waits for the other. A receiver's answer is untrusted input: whatever its status,
headers or body, it decides only its own delivery; a batch that cannot be written is written
one result at a time, so one bad result never drops the others.

Time comes from the injected clock (leases, schedules, throttles); only the network's own
deadline and the loop's waits are real time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    Row,
    Select,
    Table,
    Update,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from syndication import bulk
from syndication.clock import Clock
from syndication.config import Settings
from syndication.db import Database, PinnedWriter
from syndication.i18n import local_time
from syndication.models import Delivery, DeliveryAttempt, Event, Subscriber
from syndication.ops.metrics import Metrics
from syndication.outbound import OutboundClient, OutboundError, TimedOut, UnsafeURL
from syndication.push.queue import Expansion, continue_expansion, start_expansion
from syndication.push.retry import RetryPolicy, TokenBucket, parse_retry_after
from syndication.push.transmitter import Prepared, Transmitter

log = logging.getLogger(__name__)

EXCERPT_BYTES = 1024
MAX_TEXT = 1000  # error messages, as stored
# A result waits at most this long (seconds) for others to be recorded with it.
RECORD_DELAY = 0.05
# On stop, requests in flight get this long (seconds) to finish; the rest are abandoned, still
# leased: another worker (or this one, restarted) sends them once the lease has run out.
STOP_GRACE = 5.0


@dataclass
class Job:
    """A claimed delivery and its prepared request."""

    delivery_id: int
    subscriber_id: int
    kind: str
    message_id: str
    claim: str  # the claim's token: the result applies only while the delivery carries it
    lease_until: datetime
    prepared: Prepared
    throttle: float | None = None


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
    # When the attempt ended (a retry is counted from here: a 15 s timeout followed by a 5 s
    # retry waits 5 s after the cut, not none); None: when it started.
    ended: datetime | None = None


class Engine:
    """One per process (held by its push context): the claim, send and record loop."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        outbound: OutboundClient,
        transmitters: Mapping[str, Transmitter],
        retry: RetryPolicy,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.settings = settings
        self.clock = clock
        self.outbound = outbound
        self.transmitters = transmitters
        self.retry = retry
        columns = dict.fromkeys(ENGINE_COLUMNS)
        for transmitter in transmitters.values():
            columns.update(dict.fromkeys(transmitter.columns))
        self._sqlite_claim, self._pg_claim = claim_statements(tuple(columns))
        self._json_columns = tuple(c for c in columns if isinstance(_S.c[c].type, JSON))
        self._json = bulk.JsonMemo()
        self.concurrency = settings.push_concurrency
        self.per_subscriber = settings.push_per_subscriber
        self.timeout = settings.outbound_timeout
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._woken = threading.Event()
        self._inflight: dict[int, Job] = {}
        self._batches: list[Future[None]] = []
        self._busy: Counter[int] = Counter()  # requests in flight per subscriber
        self._buckets: dict[int, TokenBucket] = {}
        self._running = threading.Lock()  # one loop at a time
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the loop ------------------------------------------------------------------------------

    def wake(self) -> None:
        """New work was committed: dispatch and claim at once (callable from any thread)."""
        if not self._woken.is_set():
            self._woken.set()
            self._inbox.put(_WAKE)

    def start(self) -> None:
        """Run the loop on a thread of its own until `stop()`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.serve, args=(self._stop,), name="push-engine", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, let the requests in flight finish (each within its deadline), record
        them, and end the loop."""
        self._stop.set()
        self._inbox.put(_WAKE)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def serve(self, stop: threading.Event) -> int:
        """The loop of a scheduler or worker process; returns when `stop` is set."""
        return self._run(stop, until_idle=False)

    def drain(self) -> int:
        """Dispatch new events, then send everything due now, until nothing is due, in flight
        or waiting to be recorded (by the clock: a retry scheduled later is not due). Returns
        how many results were recorded. For tests, benchmarks and one-off runs."""
        return self._run(None, until_idle=True)

    def _run(self, stop: threading.Event | None, *, until_idle: bool) -> int:
        with self._running:
            # One connection for this thread's transactions and one for the recorder's, kept
            # from one transaction to the next: no pool checkout (and on PostgreSQL no
            # pre-ping round trip) per transaction.
            writer, record_writer = self.db.pinned(), self.db.pinned()
            try:
                return self._loop(stop, until_idle, writer, record_writer)
            finally:
                writer.close()
                record_writer.close()

    def _loop(
        self,
        stop: threading.Event | None,
        until_idle: bool,
        writer: PinnedWriter,
        record_writer: PinnedWriter,
    ) -> int:
        recorded = 0
        finished: list[Result] = []
        first_finished = 0.0
        recording: Future[None] | None = None
        recording_count = 0
        exhausted = False
        dispatch = True
        expansion: Expansion | None = None
        poll = self.settings.poll_interval
        next_poll = time.monotonic() + poll
        stopped_at: float | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="push-record") as recorder:
            while True:
                stopping = stop is not None and stop.is_set()
                if stopping and stopped_at is None:
                    stopped_at = time.monotonic()
                if stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE:
                    for future in self._batches:
                        future.cancel()
                if self._woken.is_set():
                    self._woken.clear()
                    dispatch = True
                if time.monotonic() >= next_poll:
                    # Retries coming due, and work whose wake-up was lost.
                    next_poll = time.monotonic() + poll
                    dispatch = True
                if not stopping and (dispatch or expansion is not None):
                    # One chunk of an expansion per turn: the claim below sends its deliveries
                    # while the rest of a big fan-out is still being written.
                    exhausted = False
                    try:
                        if expansion is not None:
                            if not continue_expansion(writer, expansion, self.clock):
                                dispatch = dispatch or expansion.more
                                expansion = None
                        else:
                            dispatch = False
                            expansion = start_expansion(
                                writer,
                                self.transmitters,
                                self.clock,
                                self.settings.lease_seconds,
                            )
                            if expansion is not None and not expansion.rows:
                                dispatch = expansion.more
                                expansion = None
                    except Exception:  # noqa: BLE001 - the database may be away: poll again
                        log.exception("expanding events into deliveries failed")
                        expansion = None
                if recording is not None and recording.done():
                    try:
                        recording.result()
                    except Exception:  # noqa: BLE001 - left leased: claimed again after it
                        log.exception("recording push results failed")
                    recorded += recording_count
                    recording = None
                    exhausted = False  # something moved on: look for due work again
                if not exhausted and not stopping and len(self._inflight) <= self.concurrency // 2:
                    room = self.concurrency - len(self._inflight)
                    try:
                        jobs = self.claim(room, writer)
                    except Exception:  # noqa: BLE001 - the database may be away: poll again
                        log.exception("claiming deliveries failed")
                        jobs = []
                    exhausted = len(jobs) < room
                    if jobs:
                        self._start(jobs)
                if (
                    recording is None
                    and finished
                    and (
                        len(finished) >= max(16, self.concurrency // 2)
                        or not self._inflight
                        or time.monotonic() - first_finished >= RECORD_DELAY
                    )
                ):
                    recording = recorder.submit(self.record, finished, record_writer)
                    recording.add_done_callback(lambda _: self._inbox.put(_RECORDED))
                    recording_count = len(finished)
                    finished = []
                if not self._inflight and recording is None and not finished:
                    if stopping:
                        return recorded
                    if (
                        until_idle
                        and exhausted
                        and not dispatch
                        and expansion is None
                        and not self._woken.is_set()
                    ):
                        return recorded
                if not stopping and (dispatch or expansion is not None):
                    timeout = 0.0
                elif finished and recording is None:
                    timeout = max(0.0, first_finished + RECORD_DELAY - time.monotonic())
                elif stopped_at is not None:
                    timeout = 0.1
                else:
                    timeout = max(0.0, next_poll - time.monotonic())
                try:
                    item = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    continue
                while True:
                    if isinstance(item, tuple):
                        job, result = item
                        self._finish(job)
                        if result is not None:
                            if not finished:
                                first_finished = time.monotonic()
                            finished.append(result)
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break

    def _start(self, jobs: list[Job]) -> None:
        """Hand a claim's jobs to the outbound client's loop in one go (one thread hop per
        claim, not per request); each result comes back through the inbox."""
        for job in jobs:
            self._inflight[job.delivery_id] = job
            self._busy[job.subscriber_id] += 1
        self._batches = [f for f in self._batches if not f.done()]
        self._batches.append(self.outbound.submit(self._send_all(jobs)))

    async def _send_all(self, jobs: list[Job]) -> None:
        await asyncio.gather(*(self._send(job) for job in jobs))

    async def _send(self, job: Job) -> None:
        try:
            result = await self.attempt(job)
        except asyncio.CancelledError:
            # Abandoned on stop: left leased, sent again once the lease has run out.
            self._inbox.put((job, None))
            raise
        self._inbox.put((job, result))

    def _finish(self, job: Job) -> None:
        self._inflight.pop(job.delivery_id, None)
        self._busy[job.subscriber_id] -= 1
        if self._busy[job.subscriber_id] <= 0:
            del self._busy[job.subscriber_id]

    # -- claim ---------------------------------------------------------------------------------

    def claim(self, limit: int, db: Database | PinnedWriter | None = None) -> list[Job]:
        """Lease up to `limit` due deliveries (within each subscriber's share) and prepare
        their requests; cancelled ones are closed with their transmitter's reason."""
        if limit <= 0:
            return []
        busy = dict(self._busy)
        with (db or self.db).write() as session:
            now = self.clock()
            lease = now + timedelta(seconds=self.settings.lease_seconds)
            token = secrets.token_hex(8)
            conn = session.connection()
            if self.db.is_sqlite:
                rows = self._claim_sqlite(conn, now, lease, token, limit, busy)
            else:
                rows = sorted(
                    conn.execute(
                        self._pg_claim,
                        {
                            "now": now,
                            "lease": lease,
                            "token": token,
                            "limit": limit,
                            "per_sub": self.per_subscriber,
                            "busy_ids": list(busy),
                            "busy_counts": list(busy.values()),
                        },
                    ).all(),
                    key=lambda r: (r.next_attempt_at, r.id),
                )
            if not rows:
                return []
            rows = [self._claimed(row) for row in rows]
            by_kind: dict[str, list[Any]] = {}
            for row in rows:
                by_kind.setdefault(row.kind, []).append(row)
            jobs: list[Job] = []
            cancelled: list[dict] = []
            for kind, group in by_kind.items():
                transmitter = self.transmitters.get(kind)
                if transmitter is None:
                    prepared: dict[int, Prepared | str] = {
                        r.id: f"no transmitter for subscribers of kind {kind!r}" for r in group
                    }
                else:
                    prepared = transmitter.prepare(session, group, now)
                for row in group:
                    outcome = prepared.get(row.id, "not prepared")
                    if isinstance(outcome, str):
                        cancelled.append({"_id": row.id, "reason": _clean(outcome)})
                        continue
                    jobs.append(
                        Job(
                            delivery_id=row.id,
                            subscriber_id=row.subscriber_id,
                            kind=kind,
                            message_id=row.message_id,
                            claim=token,
                            lease_until=lease,
                            prepared=outcome,
                            throttle=row.throttle,
                        )
                    )
            if cancelled:
                conn.execute(_CANCEL, cancelled)
            order = {r.id: i for i, r in enumerate(rows)}
            jobs.sort(key=lambda j: order[j.delivery_id])
            return jobs

    def _claimed(self, row: Row) -> SimpleNamespace:
        """A claimed row with its JSON columns decoded (once per distinct text)."""
        values = row._asdict()
        for name in self._json_columns:
            values[name] = self._json(values[name])
        return SimpleNamespace(**values)

    def _claim_sqlite(
        self,
        conn: Any,
        now: datetime,
        lease: datetime,
        token: str,
        limit: int,
        busy: dict[int, int],
    ) -> list[Row]:
        # BEGIN IMMEDIATE: nobody else claims meanwhile. Each subscriber's first due rows (by a
        # window), trimmed here to what its share has left.
        rows = conn.execute(
            self._sqlite_claim,
            {"now": now, "per_sub": self.per_subscriber, "fetch": limit + sum(busy.values())},
        ).all()
        taken: list[Row] = []
        counts: Counter[int] = Counter(busy)
        for row in rows:
            share = 1 if row.failing_since is not None else self.per_subscriber
            if counts[row.subscriber_id] >= share:
                continue
            counts[row.subscriber_id] += 1
            taken.append(row)
            if len(taken) >= limit:
                break
        if taken:
            conn.execute(_LEASE, {"lease": lease, "token": token, "ids": [r.id for r in taken]})
        return taken

    # -- send ----------------------------------------------------------------------------------

    async def attempt(self, job: Job) -> Result:
        """One HTTP attempt, or a throttle deferral, or nothing when the claim's lease is nearly
        over. Never raises: any failure is the result of this delivery alone."""
        now = self.clock()
        try:
            # A request starts only with time left to finish within the lease (its deadline,
            # or half the lease if shorter): after it, another worker may send the delivery.
            margin = min(self.timeout, self.settings.lease_seconds / 2)
            if (job.lease_until - now).total_seconds() < margin:
                return Result(job, now, lease_ran_out=True)
            if job.throttle and job.throttle > 0:
                wait = self._bucket(job).take(now.timestamp())
                if wait > 0:
                    return Result(job, now, deferred=wait)
            transmitter = self.transmitters[job.kind]
            try:
                headers = transmitter.finish(job.prepared, job.message_id, now)
            except ValueError as exc:
                return Result(job, now, error=_clean(f"not sent: {exc}"))
            started = time.monotonic()
            try:
                response = await self.outbound.request(
                    "POST",
                    job.prepared.url,
                    headers=headers,
                    body=job.prepared.body,
                    timeout=self.timeout,
                )
            except UnsafeURL as exc:
                return Result(job, now, error=_clean(f"refused: {exc}"))
            except TimedOut as exc:
                error = f"timeout: {exc}"
            except OutboundError as exc:
                error = str(exc)
            else:
                result = self._answer(job, now, response, _ms(started))
                if result.error is not None:
                    result.ended = self.clock()
                return result
            return Result(
                job, now, latency_ms=_ms(started), error=_clean(error), ended=self.clock()
            )
        except Exception as exc:  # noqa: BLE001 - a bug must still be recorded as a failure
            log.exception("sending delivery %s failed", job.delivery_id)
            return Result(job, now, error=_clean(f"internal error: {exc!r}"))

    def _answer(self, job: Job, now: datetime, response: Any, latency: int) -> Result:
        code = int(response.status)
        result = Result(
            job,
            now,
            status_code=code,
            latency_ms=latency,
            excerpt=_clean(
                response.body[:EXCERPT_BYTES].decode("utf-8", errors="replace"), limit=None
            ),
        )
        if code in (429, 503):
            result.retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        if not 200 <= code < 300:
            error = f"HTTP {code} {response.reason or ''}".strip()
            location = response.headers.get("Location")
            if 300 <= code < 400 and location:
                error += f" (redirect to {location[:300]} not followed)"
            result.error = _clean(error)
        return result

    def _bucket(self, job: Job) -> TokenBucket:
        bucket = self._buckets.get(job.subscriber_id)
        if bucket is None or bucket.rate != job.throttle:
            bucket = TokenBucket(float(job.throttle or 1), self.clock().timestamp())
            self._buckets[job.subscriber_id] = bucket
        return bucket

    # -- record --------------------------------------------------------------------------------

    def record(self, results: list[Result], db: Database | PinnedWriter | None = None) -> None:
        """Log the attempts and move each delivery on, in one transaction; if that fails, one
        result at a time, so that one odd result never costs the others theirs; a result that
        still cannot be written is written without what the peer sent (its excerpt). One that
        cannot be written at all (the database is away) is left leased: claimed again after
        the lease, never lost."""
        results = [r for r in results if not r.lease_ran_out]
        if not results:
            return
        if self.metrics is not None:
            self._observe(results)
        try:
            self._record(results, db)
            return
        except Exception:  # noqa: BLE001 - isolate the result that cannot be written
            log.exception("recording %d results failed; recording them one by one", len(results))
        for result in results:
            try:
                if len(results) > 1:
                    self._record([result], db)
                    continue
            except Exception:  # noqa: BLE001
                log.exception("recording delivery %s failed", result.job.delivery_id)
            plain = replace(
                result,
                excerpt=None,
                latency_ms=None,
                error="the attempt's result could not be recorded as received",
            )
            try:
                self._record([plain], db)
            except Exception:  # noqa: BLE001 - left leased: claimed again after it
                log.exception("delivery %s left leased", result.job.delivery_id)

    def _observe(self, results: list[Result]) -> None:
        """Count the attempts (not the throttle's deferrals) in the process's metrics, whether or
        not their recording succeeds: they were made."""
        assert self.metrics is not None
        for r in results:
            if r.deferred is not None:
                continue
            code = r.status_code
            if code is None:
                outcome = "error"
            elif 200 <= code < 300:
                outcome = "delivered"
            else:
                outcome = "failed"
            latency = r.latency_ms / 1000 if r.latency_ms is not None else None
            self.metrics.observe_delivery(r.job.kind, outcome, latency)

    def _record(self, results: list[Result], db: Database | PinnedWriter | None = None) -> None:
        results = sorted(results, key=lambda r: (r.job.subscriber_id, r.job.delivery_id))
        if _all_delivered(results):
            with (db or self.db).write() as session:
                self._record_delivered(session, results)
            return
        pg = not self.db.is_sqlite
        sub_ids = sorted({r.job.subscriber_id for r in results})
        delivery_ids = sorted({r.job.delivery_id for r in results})
        with (db or self.db).write() as session:
            now = self.clock()
            if pg:
                # Arrays, not IN (…) lists: one statement text whatever the batch size (psycopg
                # parses and caches each distinct text).
                sub_query = select(*_SUB_COLUMNS).where(Subscriber.id == any_(_SUB_IDS))
                delivery_query = select(*_DELIVERY_COLUMNS).where(Delivery.id == any_(_IDS))
                params = {"sub_ids": sub_ids, "ids": delivery_ids}
                # Subscribers locked in id order: no deadlock between workers.
                sub_query = sub_query.order_by(Subscriber.id).with_for_update()
            else:
                sub_query = select(*_SUB_COLUMNS).where(Subscriber.id.in_(sub_ids))
                delivery_query = select(*_DELIVERY_COLUMNS).where(Delivery.id.in_(delivery_ids))
                params = {}
            subscribers = {row.id: row._asdict() for row in session.execute(sub_query, params)}
            deliveries = {row.id: row._asdict() for row in session.execute(delivery_query, params)}
            sub_loaded = {i: dict(s) for i, s in subscribers.items()}
            delivery_loaded = {i: dict(d) for i, d in deliveries.items()}
            attempts = self._apply(results, subscribers, deliveries, now)
            bulk.insert_rows(session, DeliveryAttempt.__table__, attempts)
            _update_changed(session, Delivery.__table__, delivery_loaded, deliveries)
            _update_changed(session, Subscriber.__table__, sub_loaded, subscribers)

    def _record_delivered(self, session: Session, results: list[Result]) -> None:
        """The batch where every result is a 2xx answer (a healthy fan-out's every batch),
        without reading the rows first: each delivery is marked delivered only while it still
        carries the result's claim (the fence, in the UPDATE's WHERE), every attempt is logged
        (one that lost its claim as not applied, as in `_apply`), and each subscriber's
        `last_success_at` moves on to its newest success. PostgreSQL: one statement, the
        subscribers locked in id order as `_record` does; SQLite: three."""
        rows = [
            {
                "id": r.job.delivery_id,
                "subscriber_id": r.job.subscriber_id,
                "claim": r.job.claim,
                "at": r.at,
                "status_code": r.status_code,
                "latency_ms": r.latency_ms,
                "response_excerpt": r.excerpt,
            }
            for r in results
        ]
        if not self.db.is_sqlite:
            session.execute(
                _PG_DELIVERED, {"rows": bulk.encode_rows(session, rows), "lost": _NOT_APPLIED}
            )
            return
        conn = session.connection()
        applied = {
            row[0]
            for row in conn.exec_driver_sql(_SQLITE_DELIVERED, (bulk.encode_rows(session, rows),))
        }
        lost = [r["id"] for r in rows if r["id"] not in applied]
        existing = applied
        if lost:
            existing = applied | set(
                session.scalars(select(Delivery.id).where(Delivery.id.in_(lost)))
            )
        bulk.insert_rows(
            session,
            DeliveryAttempt.__table__,
            [
                {
                    "delivery_id": r["id"],
                    "at": r["at"],
                    "status_code": r["status_code"],
                    "latency_ms": r["latency_ms"],
                    "error": None if r["id"] in applied else _NOT_APPLIED,
                    "response_excerpt": r["response_excerpt"],
                }
                for r in rows
                if r["id"] in existing
            ],
        )
        newest: dict[int, datetime] = {}
        for r in rows:
            if r["id"] in applied:
                sid = r["subscriber_id"]
                if sid not in newest or newest[sid] < r["at"]:
                    newest[sid] = r["at"]
        if newest:
            conn.exec_driver_sql(
                _SQLITE_SUCCEEDED,
                (bulk.encode_rows(session, [{"id": i, "at": at} for i, at in newest.items()]),),
            )

    def _apply(
        self,
        results: Sequence[Result],
        subscribers: dict[int, dict],
        deliveries: dict[int, dict],
        now: datetime,
    ) -> list[dict]:
        """Move the deliveries and subscribers (rows as dicts, changed in place) on by the
        results, in order; returns the attempt log rows to insert."""
        attempts: list[dict] = []
        for r in results:
            d = deliveries.get(r.job.delivery_id)
            sub = subscribers.get(r.job.subscriber_id)
            if d is None or sub is None:
                continue  # deleted meanwhile
            current = d["claim_token"] == r.job.claim and d["status"] == "pending"
            if r.deferred is not None:
                if current:
                    d["lease_until"] = None
                    d["claim_token"] = None
                    d["next_attempt_at"] = now + timedelta(seconds=r.deferred)
                continue
            entry = {
                "delivery_id": d["id"],
                "at": r.at,
                "status_code": r.status_code,
                "latency_ms": r.latency_ms,
                "error": r.error,
                "response_excerpt": r.excerpt,
            }
            attempts.append(entry)
            if not current:
                # Replayed, or claimed again after the lease ran out, while this attempt was on
                # the wire: the newer claim decides; this one is only logged.
                entry["error"] = _clean(f"{r.error + '; ' if r.error else ''}{_NOT_APPLIED}")
                continue
            d["lease_until"] = None
            d["claim_token"] = None
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
                    sub["disabled_reason"] = (
                        f"the endpoint answered 410 Gone at {self._human(r.at)}"
                    )
                    log.warning("subscriber %s disabled: 410 Gone", sub["id"])
                continue
            delay = self.retry.delay(d["attempts"])
            if delay is not None and r.retry_after is not None:
                delay = r.retry_after
            if delay is None:
                d["status"] = "dead"
                d["next_attempt_at"] = None
            else:
                d["next_attempt_at"] = (r.ended or r.at) + timedelta(seconds=delay)
            failing_since = sub["failing_since"]
            if failing_since is None:
                sub["failing_since"] = r.at
            elif sub["active"] and (r.at - failing_since).total_seconds() >= (
                self.settings.subscriber_disable_after
            ):
                sub["active"] = False
                sub["disabled_reason"] = (
                    f"failing without a success since {self._human(failing_since)}"
                )
                log.warning("subscriber %s disabled: failing since %s", sub["id"], failing_since)
        return attempts

    def _human(self, when: datetime) -> str:
        # Read by a person on the subscriber page: the one human form, in the configured zone.
        return local_time(when, self.settings.tz).text


_WAKE = object()
_RECORDED = object()
_NOT_APPLIED = "not applied: the delivery was replayed or claimed again meanwhile"


def _all_delivered(results: Sequence[Result]) -> bool:
    """Is every result a 2xx answer, recorded as received (no error: not the plain stand-in
    `record` writes for a result that could not be written), each of another delivery?"""
    ids = set()
    for r in results:
        if r.deferred is not None or r.error is not None or r.lease_ran_out:
            return False
        if r.status_code is None or not 200 <= r.status_code < 300:
            return False
        ids.add(r.job.delivery_id)
    return len(ids) == len(results)


def _clean(text: str, limit: int | None = MAX_TEXT) -> str:
    """Peer-controlled text made safe to store: no NUL, no lone surrogates, bounded."""
    text = text.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")
    return text[:limit] if limit else text


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


_D = Delivery.__table__
_S = Subscriber.__table__
# The subscriber columns the engine itself reads of a claimed row; the transmitters add theirs.
ENGINE_COLUMNS = ("kind", "throttle", "failing_since")
_DELIVERY_CLAIMED = (
    _D.c.id,
    _D.c.subscriber_id,
    _D.c.event_id,
    _D.c.message_id,
    _D.c.attempts,
    _D.c.next_attempt_at,
)
_NOW = bindparam("now", type_=_D.c.next_attempt_at.type)
_DUE = and_(
    # A literal, not a parameter: the planner must see it to use the partial due index.
    _D.c.status == literal_column("'pending'"),
    _D.c.next_attempt_at <= _NOW,
    or_(_D.c.lease_until.is_(None), _D.c.lease_until < _NOW),
)
# In order: a story's event waits for every earlier event of the same story (a smaller event
# id) to the same subscriber that is still pending (due, retrying or claimed); once those are
# delivered, dead, cancelled or skipped it may go. Probed from the story's events (a handful,
# ix_events_story_type) to the unique (event_id, subscriber_id) index: no scan of the backlog.
# Events without a story (WebSub's, story_id NULL) never wait.
_OWN_EVENT = Event.__table__.alias("own_event")
_EARLIER_EVENT = Event.__table__.alias("earlier_event")
_EARLIER = _D.alias("earlier")
_IN_ORDER = ~exists(
    select(literal_column("1"))
    .select_from(_EARLIER_EVENT)
    .where(
        _EARLIER_EVENT.c.story_id
        == (
            select(_OWN_EVENT.c.story_id)
            .where(_OWN_EVENT.c.id == _D.c.event_id)
            .correlate(_D)
            .scalar_subquery()
        ),
        _EARLIER_EVENT.c.id < _D.c.event_id,
        # Nested, not joined: a join lets a planner drive the probe from the subscriber's
        # deliveries (its whole backlog, for every row of it) instead of the story's events.
        exists(
            select(literal_column("1"))
            .select_from(_EARLIER)
            .where(
                _EARLIER.c.event_id == _EARLIER_EVENT.c.id,
                _EARLIER.c.subscriber_id == _D.c.subscriber_id,
                _EARLIER.c.status == literal_column("'pending'"),
            )
            .correlate_except(_EARLIER)
        ),
    )
)
_LEASE = (
    update(_D)
    .where(_D.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        lease_until=bindparam("lease", type_=_D.c.lease_until.type),
        claim_token=bindparam("token", type_=_D.c.claim_token.type),
    )
)
# PostgreSQL: requests in flight per subscriber in this process, as a table.
_BUSY = (
    func.unnest(
        bindparam("busy_ids", type_=ARRAY(Integer)),
        bindparam("busy_counts", type_=ARRAY(Integer)),
    )
    .table_valued("sid", "n")
    .render_derived(name="busy")
)
_SHARE = case(
    (_S.c.failing_since.is_(None), bindparam("per_sub", type_=Integer)), else_=1
) - func.coalesce(_BUSY.c.n, 0)


@functools.lru_cache(maxsize=8)
def claim_statements(columns: tuple[str, ...]) -> tuple[Select, Update]:
    """The claim of rows carrying the delivery's columns and these subscriber columns:
    (SQLite's SELECT, PostgreSQL's UPDATE … RETURNING).

    SQLite: every due row of an active subscriber, numbered within its subscriber; the first
    `per_sub` of each, oldest first (trimmed to each one's share by the caller, then leased).
    PostgreSQL: for each active subscriber, its first due rows up to what its share has left in
    this process (a LATERAL probe of the per-subscriber due index); the oldest `limit` of those,
    locked (SKIP LOCKED: rows another worker holds are passed over) and leased in the same
    statement."""
    selected = (
        *_DELIVERY_CLAIMED,
        *(
            bulk.as_text(_S.c[name]) if isinstance(_S.c[name].type, JSON) else _S.c[name]
            for name in columns
        ),
    )
    numbered = (
        select(
            *selected,
            func.row_number()
            .over(partition_by=_D.c.subscriber_id, order_by=(_D.c.next_attempt_at, _D.c.id))
            .label("rn"),
        )
        .select_from(_D.join(_S, _S.c.id == _D.c.subscriber_id))
        .where(_DUE, _S.c.active.is_(True), _IN_ORDER)
        .subquery("numbered")
    )
    sqlite_claim = (
        select(*(c for c in numbered.c if c.name != "rn"))
        .where(numbered.c.rn <= bindparam("per_sub", type_=Integer))
        .order_by(numbered.c.next_attempt_at, numbered.c.id)
        .limit(bindparam("fetch", type_=Integer))
    )
    first_due = (
        select(_D.c.id, _D.c.next_attempt_at)
        .where(_D.c.subscriber_id == _S.c.id, _DUE, _IN_ORDER)
        .order_by(_D.c.next_attempt_at, _D.c.id)
        .limit(func.greatest(_SHARE, 0))
        .lateral("first_due")
    )
    candidates = (
        select(first_due.c.id)
        .select_from(_S.outerjoin(_BUSY, _BUSY.c.sid == _S.c.id).join(first_due, true()))
        .where(_S.c.active.is_(True))
        .order_by(first_due.c.next_attempt_at, first_due.c.id)
        .limit(bindparam("limit", type_=Integer))
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    # Driven from the candidates (a primary-key lookup each), never a scan of every due row.
    locked = (
        select(_D.c.id)
        .select_from(candidates.join(_D, _D.c.id == candidates.c.id))
        .where(_DUE)
        .with_for_update(skip_locked=True, of=_D)
        .cte("locked")
        .prefix_with("MATERIALIZED")
    )
    pg_claim = (
        update(_D)
        .where(_D.c.id == locked.c.id, _S.c.id == _D.c.subscriber_id)
        .values(
            lease_until=bindparam("lease", type_=_D.c.lease_until.type),
            claim_token=bindparam("token", type_=_D.c.claim_token.type),
        )
        .returning(*selected)
    )
    return sqlite_claim, pg_claim


_CANCEL = (
    update(_D)
    .where(_D.c.id == bindparam("_id"))
    .values(
        status="cancelled",
        next_attempt_at=None,
        lease_until=None,
        claim_token=None,
        last_error=bindparam("reason", type_=_D.c.last_error.type),
    )
)
# What record() reads, per delivery and per subscriber. A delivery's other columns are written
# whatever they were (record knows their new values); a subscriber's only when they change.
_DELIVERY_COLUMNS = (Delivery.id, Delivery.attempts, Delivery.status, Delivery.claim_token)
_SUB_COLUMNS = (
    Subscriber.id,
    Subscriber.active,
    Subscriber.disabled_reason,
    Subscriber.last_success_at,
    Subscriber.failing_since,
)


# A batch of 2xx results on PostgreSQL, in one round trip (Engine._record_delivered). The
# deliveries are fenced by their claim; the subscribers of the applied ones are locked in id
# order (the `locked` CTE, read whole before the update) as `_record` locks them, so workers
# recording at once never deadlock; an attempt is logged for every delivery still there.
_PG_DELIVERED = text(
    """
WITH v AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(
        id bigint, subscriber_id integer, claim text, at timestamptz, status_code integer,
        latency_ms integer, response_excerpt text)
), applied AS (
    UPDATE deliveries AS d SET status = 'delivered', attempts = d.attempts + 1,
        delivered_at = v.at, next_attempt_at = NULL, lease_until = NULL, claim_token = NULL,
        last_status_code = v.status_code, last_error = NULL
    FROM v WHERE d.id = v.id AND d.claim_token = v.claim AND d.status = 'pending'
    RETURNING d.id, d.subscriber_id, v.at
), locked AS MATERIALIZED (
    SELECT s.id FROM subscribers AS s WHERE s.id IN (SELECT subscriber_id FROM applied)
    ORDER BY s.id FOR UPDATE
), succeeded AS (
    UPDATE subscribers AS s SET last_success_at = GREATEST(s.last_success_at, a.at),
        failing_since = NULL
    FROM (SELECT subscriber_id, max(at) AS at FROM applied GROUP BY subscriber_id) AS a
    WHERE s.id = a.subscriber_id AND s.id IN (SELECT id FROM locked)
)
INSERT INTO delivery_attempts (delivery_id, at, status_code, latency_ms, error, response_excerpt)
SELECT v.id, v.at, v.status_code, v.latency_ms,
    CASE WHEN applied.id IS NULL THEN CAST(:lost AS text) END, v.response_excerpt
FROM v LEFT JOIN applied ON applied.id = v.id
WHERE EXISTS (SELECT 1 FROM deliveries AS d WHERE d.id = v.id)
ORDER BY v.subscriber_id, v.id
"""
)
# The same on SQLite (its UPDATE … RETURNING answers with the applied ids), in three statements.
# `+status`: not the partial due index, or the planner drives the update from every pending row
# instead of the batch's primary keys.
_SQLITE_DELIVERED = """
UPDATE deliveries SET status = 'delivered', attempts = attempts + 1,
    delivered_at = json_extract(value, '$.at'), next_attempt_at = NULL, lease_until = NULL,
    claim_token = NULL, last_status_code = json_extract(value, '$.status_code'),
    last_error = NULL
FROM json_each(?)
WHERE deliveries.id = json_extract(value, '$.id')
    AND deliveries.claim_token = json_extract(value, '$.claim')
    AND +deliveries.status = 'pending'
RETURNING deliveries.id
"""
_SQLITE_SUCCEEDED = """
UPDATE subscribers SET failing_since = NULL, last_success_at = CASE
    WHEN last_success_at IS NULL OR last_success_at < json_extract(value, '$.at')
    THEN json_extract(value, '$.at') ELSE last_success_at END
FROM json_each(?) WHERE subscribers.id = json_extract(value, '$.id')
"""
_IDS = bindparam("ids", type_=ARRAY(Integer))
_SUB_IDS = bindparam("sub_ids", type_=ARRAY(Integer))


def _update_changed(
    session: Session, table: Table, loaded: dict[int, dict], rows: dict[int, dict]
) -> None:
    """UPDATE each row whose values differ from those loaded (or were not loaded), setting only
    those columns: one bulk statement per set of columns, keyed by id."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row_id, row in rows.items():
        before = loaded[row_id]
        changed = {k: v for k, v in row.items() if k not in before or v != before[k]}
        if changed:
            changed["id"] = row_id
            groups.setdefault(tuple(sorted(changed)), []).append(changed)
    for params in groups.values():
        bulk.update_rows(session, table, params)
