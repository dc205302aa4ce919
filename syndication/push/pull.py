"""The pull API's side of push: for a partner that cannot receive webhooks (Svix's polling
endpoints), a subscriber of kind "pull" whose deliveries wait, `available`, until the partner
fetches them (GET /api/v1/partner/events, api/partner_events.py). No HTTP here.

Matching is the webhook transmitter's (`matching_deliveries`): a pull subscriber with the same
event types, channels, filter and embargo trust gets exactly the events a webhook subscriber
would, and each item carries exactly the body its webhook would (`payload_bytes`, json or
ninjs), with the Standard Webhooks message id and type.

Each once, in version order, without losing a late commit. Pages are not cut by delivery id (a
delivery committed late with a smaller id would fall behind the cursor and be skipped): a page
is the partner's oldest *available* deliveries by (event id, delivery id), each stamped with
the page's number (`Delivery.pull_page`; `Partner.pull_page` counts the partner's pages).
The cursor names the page. A request `after` page n first acknowledges every delivery of the
partner stamped with a page ≤ n (`delivered`), forgets the stamps of later pages (handed out
in answers the partner evidently did not get), then hands out the next page. So a client that
lost an answer and asks again with the same cursor gets those events again, and one that moves
on never sees them twice. Requests of one partner are serialised on its row (the page counter),
so page numbers are handed out in order and an acknowledgement covers only what was in the
pages it names.

Cursors are opaque: base64url of (page, HMAC-SHA256 over partner id, subscriber scope and
page), keyed by the app's secret key: one partner's cursor is refused for another, a forged or
damaged one is refused (BadCursor, 400).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, exists, select, update
from sqlalchemy.orm import Session

from syndication import bulk
from syndication.clock import Clock
from syndication.db import Database
from syndication.errors import ServiceError
from syndication.models import Delivery, Event, Partner, Subscriber
from syndication.partners.service import owned_subscriber
from syndication.push.queue import AVAILABLE
from syndication.push.transmitter import Prepared
from syndication.push.wake import Waker
from syndication.push.webhooks.payloads import payload_bytes
from syndication.push.webhooks.transmitter import matching_deliveries

KIND = "pull"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_WAIT = 30  # seconds a long-poll may ask to wait
# A page stops before this many bytes of stories (at least one item): 500 stories of a
# megabyte each would make one answer of half a gigabyte.
PAGE_BYTES = 8 * 1024 * 1024
# While a long-poll waits, how often (seconds) it looks for deliveries that another process
# wrote: web processes hear their own commits at once (the Waker), not the scheduler's.
POLL_SECONDS = 1.0
MAX_CURSOR = 128  # characters: far more than a cursor is; a longer one is refused unread
_CURSOR = struct.Struct(">BQ")  # version, page
_CURSOR_VERSION = 1
_MAC_BYTES = 16


class BadCursor(ServiceError):
    """A cursor this service did not give to this partner (for this scope): 400."""

    code = "bad_request"


class TooManyWaits(ServiceError):
    """More long-polls at once than allowed: the caller answers 429 with `retry_after`."""

    code = "too_many_requests"
    retry_after = 1


class PullTransmitter:
    """Deliveries for pull subscribers: `available`, never sent. The engine claims pending
    deliveries only, so it never asks this transmitter to prepare or finish one."""

    kind = KIND
    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._json = bulk.JsonMemo()

    def expand(self, session: Session, events: Sequence[Event], now: datetime) -> list[dict]:
        return matching_deliveries(session, events, now, KIND, self._json, available=True)

    def prepare(
        self, session: Session, rows: Sequence[Row], now: datetime
    ) -> dict[int, Prepared | str]:
        raise RuntimeError("pull deliveries are fetched by the partner, never sent")

    def finish(self, prepared: Prepared, message_id: str, now: datetime) -> dict[str, str]:
        raise RuntimeError("pull deliveries are fetched by the partner, never sent")


# --- cursors ----------------------------------------------------------------------------------


def _mac(key: bytes, partner_id: int, subscriber_id: int | None, page: int) -> bytes:
    message = f"pull-cursor:{partner_id}:{subscriber_id or 0}:{page}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(key: bytes, partner_id: int, subscriber_id: int | None, page: int) -> str:
    raw = _CURSOR.pack(_CURSOR_VERSION, page) + _mac(key, partner_id, subscriber_id, page)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(key: bytes, partner_id: int, subscriber_id: int | None, cursor: str) -> int:
    """The page a cursor names; BadCursor unless this service made it for this partner and
    this `subscriber` (None: all the partner's pull subscribers)."""
    problem = (
        "is not a cursor this service gave you (for this subscriber): send the `cursor` of "
        "your last answer, or none to start from the oldest event not acknowledged"
    )
    fields = {"query.after": problem}
    message = f"after: {problem}"
    if not cursor or len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise BadCursor(message, fields)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raise BadCursor(message, fields) from None
    if len(raw) != _CURSOR.size + _MAC_BYTES:
        raise BadCursor(message, fields)
    version, page = _CURSOR.unpack(raw[: _CURSOR.size])
    expected = _mac(key, partner_id, subscriber_id, page)
    if version != _CURSOR_VERSION or not hmac.compare_digest(raw[_CURSOR.size :], expected):
        raise BadCursor(message, fields)
    return page


def cursor_key(secret_key: str | bytes) -> bytes:
    """The cursors' HMAC key, derived from the app's secret key (never the key itself)."""
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, b"syndication pull cursors", hashlib.sha256).digest()


# --- pages ------------------------------------------------------------------------------------


@dataclass
class Item:
    id: str  # the Standard Webhooks message id (webhook-id)
    type: str
    timestamp: str
    subscriber_id: int
    payload: dict[str, Any]


@dataclass
class Page:
    page: int  # the page the cursor names (the one given, when nothing was handed out)
    items: list[Item] = field(default_factory=list)
    more: bool = False


@dataclass
class _Handed:
    rows: list[Any]
    page: int
    more: bool


def _scope(session: Session, partner_id: int, subscriber_id: int | None) -> list[int]:
    """The pull subscribers a request reaches: one of the partner's (NotFound for anyone
    else's, or one that is not a pull subscriber), or all of them."""
    if subscriber_id is not None:
        return [owned_subscriber(session, partner_id, subscriber_id, kinds=(KIND,)).id]
    return list(
        session.scalars(
            select(Subscriber.id).where(
                Subscriber.partner_id == partner_id, Subscriber.kind == KIND
            )
        )
    )


def _hand_out(
    session: Session,
    partner_id: int,
    scope: list[int],
    after: int,
    limit: int,
    now: datetime,
    acknowledge: bool,
) -> _Handed:
    # The partner's row first, locked: its requests run one after another (page numbers in
    # order), and always take their locks in the same order (no deadlock between two).
    lock = select(Partner.pull_page).where(Partner.id == partner_id)
    if session.get_bind().dialect.name != "sqlite":
        lock = lock.with_for_update()
    session.scalar(lock)
    if not scope:
        return _Handed([], after, False)
    mine = (Delivery.subscriber_id.in_(scope), Delivery.status == AVAILABLE)
    if acknowledge:
        session.execute(
            update(Delivery)
            .where(*mine, Delivery.pull_page <= after)
            .values(status="delivered", delivered_at=now)
            .execution_options(synchronize_session=False)
        )
        # Pages after `after` were answers the client did not get (or it would have come with
        # their cursor): their deliveries are handed out afresh.
        session.execute(
            update(Delivery)
            .where(*mine, Delivery.pull_page > after)
            .values(pull_page=None)
            .execution_options(synchronize_session=False)
        )
    rows = list(
        session.execute(
            select(
                Delivery.id,
                Delivery.message_id,
                Delivery.subscriber_id,
                Event.type,
                bulk.as_text(Event.snapshot),
                Event.created_at,
                Subscriber.format,
            )
            .join(Event, Event.id == Delivery.event_id)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(*mine, Subscriber.active.is_(True))
            .order_by(Delivery.event_id, Delivery.id)
            .limit(limit + 1)
        )
    )
    taken: list[Any] = []
    size = 0
    for row in rows[:limit]:
        size += len(row.snapshot or "")
        if taken and size > PAGE_BYTES:
            break
        taken.append(row)
    if not taken:
        return _Handed([], after, False)
    page = session.scalar(
        update(Partner)
        .where(Partner.id == partner_id)
        .values(pull_page=Partner.pull_page + 1)
        .returning(Partner.pull_page)
    )
    assert page is not None  # noqa: S101 - the partner's row is locked above
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_([r.id for r in taken]))
        .values(pull_page=page)
        .execution_options(synchronize_session=False)
    )
    return _Handed(taken, page, len(rows) > len(taken))


def _render(handed: _Handed, now: datetime) -> Page:
    """The items of a page, rendered after its transaction: each payload is the body the
    subscriber's webhook would carry."""
    items = []
    for row in handed.rows:
        event = SimpleNamespace(
            type=row.type, snapshot=json.loads(row.snapshot), created_at=row.created_at
        )
        body = payload_bytes(event, SimpleNamespace(format=row.format), now)
        payload = json.loads(body)
        stamp = payload["timestamp"]
        items.append(Item(row.message_id, row.type, stamp, row.subscriber_id, payload))
    return Page(handed.page, items, handed.more)


def _any_available(session: Session, scope: list[int]) -> bool:
    """Is anything there to hand out (a cheap read, before a write transaction)?"""
    active = select(Subscriber.id).where(Subscriber.id.in_(scope), Subscriber.active.is_(True))
    return bool(
        scope
        and session.scalar(
            select(
                exists().where(
                    Delivery.subscriber_id.in_(active),
                    Delivery.status == AVAILABLE,
                    Delivery.pull_page.is_(None),
                )
            )
        )
    )


class PullWaits:
    """The long-polls of this process: woken by its Waker whenever push work is committed here,
    and bounded (per partner and in all) so that partners cannot hold every web thread."""

    def __init__(self, waker: Waker, per_partner: int, total: int) -> None:
        self.per_partner = per_partner
        self.total = total
        self._cond = threading.Condition()
        self._generation = 0
        self._waiting: Counter[int] = Counter()
        self.unsubscribe = waker.subscribe(self.wake)

    def wake(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def generation(self) -> int:
        with self._cond:
            return self._generation

    def waiting(self, partner_id: int | None = None) -> int:
        with self._cond:
            if partner_id is None:
                return sum(self._waiting.values())
            return self._waiting[partner_id]

    def wait(self, generation: int, timeout: float) -> None:
        """Until a wake after `generation`, or `timeout` seconds (real time: a wait, not a
        date)."""
        with self._cond:
            self._cond.wait_for(lambda: self._generation != generation, timeout)

    @contextlib.contextmanager
    def slot(self, partner_id: int) -> Iterator[None]:
        with self._cond:
            if (
                self._waiting[partner_id] >= self.per_partner
                or sum(self._waiting.values()) >= self.total
            ):
                raise TooManyWaits(
                    f"at most {self.per_partner} long-poll(s) (wait > 0) of a partner at once: "
                    "wait for an answer before asking again, or poll without `wait`"
                )
            self._waiting[partner_id] += 1
        try:
            yield
        finally:
            with self._cond:
                self._waiting[partner_id] -= 1
                if not self._waiting[partner_id]:
                    del self._waiting[partner_id]


def pull(
    db: Database,
    waits: PullWaits,
    clock: Clock,
    key: bytes,
    partner_id: int,
    *,
    subscriber_id: int | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
    wait: float = 0,
) -> tuple[Page, str]:
    """A page of the partner's events and the cursor that acknowledges it: the oldest
    deliveries of its pull subscribers (or of `subscriber_id` alone) not acknowledged yet,
    after acknowledging those of the page `after` names and every page before it. With `wait`
    (seconds), when there are none, waits until some come or the time runs out — holding no
    database connection meanwhile."""
    page_after = 0 if after is None else decode_cursor(key, partner_id, subscriber_id, after)
    # Taken before the first look: a wake-up between that look and the wait is not lost.
    generation = waits.generation()
    with db.write() as session:
        scope = _scope(session, partner_id, subscriber_id)
        handed = _hand_out(session, partner_id, scope, page_after, limit, clock(), True)
    if not handed.rows and wait > 0:
        with waits.slot(partner_id):
            # Real time: how long the client asked to wait, as the engine's network deadlines.
            deadline = time.monotonic() + wait
            while not handed.rows:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                waits.wait(generation, min(POLL_SECONDS, left))
                generation = waits.generation()
                with db.read() as session:
                    if not _any_available(session, scope):
                        continue
                with db.write() as session:
                    # Acknowledged already: the first look did it.
                    handed = _hand_out(
                        session, partner_id, scope, page_after, limit, clock(), False
                    )
    page = _render(handed, clock())
    return page, encode_cursor(key, partner_id, subscriber_id, page.page)


def item_to_dict(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "type": item.type,
        "timestamp": item.timestamp,
        "subscriber_id": item.subscriber_id,
        "payload": item.payload,
    }
