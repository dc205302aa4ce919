"""The `webhook` transmitter: which story events go to which partner endpoint, and the signed
request each delivery is (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one signature per secret
while a rotated-out secret still signs).

A partner that is disabled when an event comes still gets its delivery recorded, as `skipped`
with the reason: nothing is sent, and `recover` sends those later, in order (push/subscribers.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from syndication import bulk
from syndication.filters import StoryFilter
from syndication.models import Channel, Delivery, Event, Subscriber
from syndication.push import outbox
from syndication.push.outbox import EVENT_TYPES, in_channels, term_sets
from syndication.push.queue import delivery_row, existing_pairs
from syndication.push.transmitter import Prepared
from syndication.push.webhooks.payloads import payload_bytes
from syndication.push.webhooks.signing import secret_key, signature_header
from syndication.validation import http_field_value

KIND = "webhook"
USER_AGENT = "syndication-webhooks/1"
# Bodies kept per (event id, format): an event never changes, and a fan-out prepares the same
# event's deliveries in many claims.
BODY_CACHE = 256
# ...and at most this many bytes of them: a body carries the story, which may be a megabyte.
BODY_CACHE_BYTES = 32 * 1024 * 1024
# Headers the service sets; a subscriber's own headers never replace them.
_OWN = frozenset({"content-type", "content-length", "host", "transfer-encoding"})


def subscriber_matches(
    subscriber: Subscriber | Row,
    event: Event,
    channel_filters: dict[str, StoryFilter],
    told: bool = False,
) -> bool:
    """Does `event` go to `subscriber`? A story event whose type is in its list (empty = all),
    and the story in one of its channels, or matching its own filter (no channels and no
    filter = everything); an update also when the story matched before it. Pings and hub
    publishes go only where they are addressed (never expanded).

    Embargo: story.embargoed goes only to a subscriber with `receives_embargoed` that takes
    story.published or story.embargoed; the story.killed of a cancelled embargo only to those
    `told` of it (whatever they subscribe to now: they must drop what they hold)."""
    if event.type not in EVENT_TYPES:
        return False
    if outbox.embargo_only(event):
        if event.type == outbox.KILLED:
            return told
        if not getattr(subscriber, "receives_embargoed", False):
            return False
        chosen = subscriber.event_types
        if chosen and outbox.EMBARGOED not in chosen and outbox.PUBLISHED not in chosen:
            return False
    elif subscriber.event_types and event.type not in subscriber.event_types:
        return False
    if subscriber.channels:
        return in_channels(event, subscriber.channels, channel_filters)
    if not subscriber.filter:
        return True
    own = StoryFilter.from_dict(subscriber.filter)
    return any(own.matches(terms) for terms in term_sets(event))


def matching_deliveries(
    session: Session,
    events: Sequence[Event],
    now: datetime,
    kind: str,
    memo: bulk.JsonMemo,
    *,
    available: bool = False,
) -> list[dict]:
    """The deliveries `events` make for the subscribers of `kind` they match
    (`subscriber_matches`, the embargo rules included), as rows of queue.delivery_row: skipped
    (with the reason) for a disabled subscriber; else pending, or `available` for the pull API
    (push/pull.py), which matches exactly as webhooks do."""
    if not events:
        return []
    # Only what matching reads, as plain rows: a fan-out to thousands of subscribers should
    # not pay for loading whole ORM objects.
    subscribers = [
        SimpleNamespace(
            id=row.id,
            event_types=memo(row.event_types),
            channels=memo(row.channels),
            filter=memo(row.filter),
            active=row.active,
            disabled_reason=row.disabled_reason,
            receives_embargoed=row.receives_embargoed,
        )
        for row in session.execute(
            select(
                Subscriber.id,
                bulk.as_text(Subscriber.event_types),
                bulk.as_text(Subscriber.channels),
                bulk.as_text(Subscriber.filter),
                Subscriber.active,
                Subscriber.disabled_reason,
                Subscriber.receives_embargoed,
            ).where(Subscriber.kind == kind)
        )
    ]
    if not subscribers:
        return []  # no subscriber of this kind (often: pull): no query for the rest
    slugs = sorted({slug for s in subscribers for slug in (s.channels or [])})
    channel_filters = (
        {
            c.slug: StoryFilter.from_dict(c.filter)
            for c in session.scalars(select(Channel).where(Channel.slug.in_(slugs)))
        }
        if slugs
        else {}
    )
    existing = existing_pairs(session, events)
    told = _told_of_embargo(session, events)
    rows = []
    for event in events:
        for sub in subscribers:
            if (event.id, sub.id) in existing:
                continue
            if not subscriber_matches(
                sub, event, channel_filters, (event.story_id, sub.id) in told
            ):
                continue
            skipped = None
            if not sub.active:
                skipped = f"not sent: the subscriber was disabled ({sub.disabled_reason})"
            rows.append(delivery_row(event.id, sub.id, now, skipped=skipped, available=available))
    return rows


class WebhookTransmitter:
    kind = KIND
    columns = ("url", "secret", "previous_secret", "previous_secret_until", "format", "headers")

    def __init__(self) -> None:
        self._bodies: dict[tuple[int, str], bytes] = {}
        self._body_bytes = 0
        self._json = bulk.JsonMemo()
        self._checked_headers: dict[tuple[tuple[str, str], ...], str | None] = {}
        self._keys: dict[str, bytes] = {}

    def expand(self, session: Session, events: Sequence[Event], now: datetime) -> list[dict]:
        """One delivery per matching webhook subscriber: pending for an active one, skipped
        (with the reason) for a disabled one."""
        return matching_deliveries(session, events, now, KIND, self._json)

    def prepare(
        self, session: Session, rows: Sequence[Row], now: datetime
    ) -> dict[int, Prepared | str]:
        bodies = self._bodies_for(session, rows, now)
        prepared: dict[int, Prepared | str] = {}
        for r in rows:
            secrets = [r.secret]
            if r.previous_secret and r.previous_secret_until is not None:
                if r.previous_secret_until > now:
                    secrets.append(r.previous_secret)
            keys = [self._key(s) for s in secrets if s]
            headers = {"User-Agent": USER_AGENT}
            headers.update(
                (k, v)
                for k, v in (r.headers or {}).items()
                if not k.lower().startswith("webhook-") and k.lower() not in _OWN
            )
            headers["Content-Type"] = "application/json"
            body = bodies.get((r.event_id, r.format))
            if isinstance(body, str):
                prepared[r.id] = body  # cannot be built: cancelled with the reason
            else:
                prepared[r.id] = Prepared(r.url, body, headers, keys)
        return prepared

    def finish(self, prepared: Prepared, message_id: str, now: datetime) -> dict[str, str]:
        """Sign at send time: `webhook-timestamp` is when the request leaves."""
        problem = self._header_problem(prepared.headers)
        if problem:
            # Stored before values were checked at registration: this delivery fails alone.
            raise ValueError(problem)
        timestamp = int(now.timestamp())
        headers = dict(prepared.headers)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = signature_header(
            prepared.extra, message_id, timestamp, prepared.body
        )
        return headers

    def _key(self, secret: str) -> bytes:
        """A secret's HMAC key, decoded once per secret (a fan-out signs with the same secrets
        over and over)."""
        key = self._keys.get(secret)
        if key is None:
            if len(self._keys) >= BODY_CACHE * 16:
                self._keys.clear()
            key = self._keys[secret] = secret_key(secret)
        return key

    def _header_problem(self, headers: dict[str, str]) -> str | None:
        """Why these headers cannot be sent (RFC 9110 field values), judged once per set."""
        key = tuple(headers.items())
        if key not in self._checked_headers:
            problem = None
            for name, value in key:
                try:
                    http_field_value(value)
                except ValueError as exc:
                    problem = f"header {name}: {exc}"
                    break
            if len(self._checked_headers) >= BODY_CACHE:
                self._checked_headers.clear()
            self._checked_headers[key] = problem
        return self._checked_headers[key]

    def _bodies_for(
        self, session: Session, rows: Sequence[Row], now: datetime
    ) -> dict[tuple[int, str], bytes | str]:
        """The body of each row's (event, format): from the cache, or built now; a str says
        why it cannot be built."""
        keys = {(r.event_id, r.format) for r in rows}
        found: dict[tuple[int, str], bytes | str] = {
            k: body for k in keys if (body := self._bodies.get(k)) is not None
        }
        missing = keys - found.keys()
        if missing:
            ids = sorted({event_id for event_id, _ in missing})
            events = {
                e.id: e
                for e in session.execute(
                    select(Event.id, Event.type, Event.snapshot, Event.created_at).where(
                        Event.id.in_(ids)
                    )
                )
            }
            if len(self._bodies) > BODY_CACHE or self._body_bytes > BODY_CACHE_BYTES:
                self._bodies.clear()
                self._body_bytes = 0
            for event_id, fmt in missing:
                try:
                    body = payload_bytes(events[event_id], _Format(fmt), now)
                except ValueError as exc:
                    found[(event_id, fmt)] = f"cannot be sent: {exc}"
                    continue
                found[(event_id, fmt)] = self._bodies[(event_id, fmt)] = body
                self._body_bytes += len(body)
        return found


def _told_of_embargo(session: Session, events: Sequence[Event]) -> set[tuple[int, int]]:
    """(story id, subscriber id) of every subscriber given a story.embargoed of the stories
    whose embargo these events cancel."""
    ids = sorted(
        {e.story_id for e in events if outbox.embargo_only(e) and e.type == outbox.KILLED} - {None}
    )
    if not ids:
        return set()
    rows = session.execute(
        select(Event.story_id, Delivery.subscriber_id)
        .join(Delivery, Delivery.event_id == Event.id)
        .where(Event.story_id.in_(ids), Event.type == outbox.EMBARGOED)
        .distinct()
    )
    return {(story_id, sub_id) for story_id, sub_id in rows}


class _Format:
    """What payload_bytes reads of a subscriber."""

    def __init__(self, format: str) -> None:
        self.format = format
