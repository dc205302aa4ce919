"""Expanding outbox events into deliveries: one per matching active webhook subscriber, and the
WebSub notifications of the topics the events change (push/websub_notify.py).

Safe to run in any number of processes at once: on PostgreSQL events are claimed with
`FOR UPDATE SKIP LOCKED`, on SQLite the write transaction (BEGIN IMMEDIATE) serialises them, and
the unique (event_id, subscriber_id) index makes a repeated expansion a no-op."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from sqlalchemy import Integer, Row, String, bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from syndication.db import Database
from syndication.filters import StoryFilter
from syndication.models import Channel, Delivery, Event, Subscriber
from syndication.push import wake, websub_notify
from syndication.push.outbox import in_channels, term_sets
from syndication.runtime import utcnow

BATCH = 100


def new_message_id() -> str:
    """A Standard Webhooks message id: "msg_" + 26 base32 characters (128 random bits)."""
    return "msg_" + base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def subscriber_matches(
    subscriber: Subscriber | Row, event: Event, channel_filters: dict[str, StoryFilter]
) -> bool:
    """Does `event` go to `subscriber`? Event type in its list (empty = all), and the story in
    one of its channels, or matching its own filter (no channels and no filter = everything);
    an update also when the story matched before it.
    Pings go only where they are addressed (never dispatched by this module)."""
    if subscriber.event_types and event.type not in subscriber.event_types:
        return False
    if subscriber.channels:
        return in_channels(event, subscriber.channels, channel_filters)
    if not subscriber.filter:
        return True
    own = StoryFilter.from_dict(subscriber.filter)
    return any(own.matches(terms) for terms in term_sets(event))


def expand(session: Session, events: list[Event], now: datetime) -> int:
    """Create the deliveries of `events` (in the caller's transaction); mark them dispatched."""
    if not events:
        return 0
    # WebSub subscriptions first: their coalescing looks at what is already queued.
    websub = websub_notify.expand(session, events, now)
    # Only what matching reads, as plain rows: a fan-out to thousands of subscribers should not
    # pay for loading whole ORM objects.
    subscribers = session.execute(
        select(Subscriber.id, Subscriber.event_types, Subscriber.channels, Subscriber.filter).where(
            Subscriber.active.is_(True), Subscriber.kind == "webhook"
        )
    ).all()
    slugs = {slug for s in subscribers for slug in (s.channels or [])}
    channel_filters = {
        c.slug: StoryFilter.from_dict(c.filter)
        for c in (
            session.scalars(select(Channel).where(Channel.slug.in_(sorted(slugs)))).all()
            if slugs
            else []
        )
    }
    existing = set(
        session.execute(
            select(Delivery.event_id, Delivery.subscriber_id).where(
                Delivery.event_id.in_([e.id for e in events])
            )
        ).all()
    )
    created = 0
    rows = []
    for event in events:
        for sub in subscribers:
            if (event.id, sub.id) in existing:
                continue
            if not subscriber_matches(sub, event, channel_filters):
                continue
            rows.append(
                {
                    "event_id": event.id,
                    "subscriber_id": sub.id,
                    "message_id": new_message_id(),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        event.dispatched_at = now
    if rows:
        wake.mark(session)  # other workers share the sending
        if session.get_bind().dialect.name == "postgresql":
            # One INSERT … SELECT FROM unnest(arrays): psycopg's executemany sends a statement
            # per delivery.
            session.execute(
                _PG_INSERT,
                {
                    "event_ids": [r["event_id"] for r in rows],
                    "subscriber_ids": [r["subscriber_id"] for r in rows],
                    "message_ids": [r["message_id"] for r in rows],
                    "now": now,
                },
            )
        else:
            session.execute(Delivery.__table__.insert(), rows)
        created = len(rows)
    return created + websub


_D = Delivery.__table__
_NEW = (
    func.unnest(
        bindparam("event_ids", type_=ARRAY(Integer)),
        bindparam("subscriber_ids", type_=ARRAY(Integer)),
        bindparam("message_ids", type_=ARRAY(String)),
    )
    .table_valued("event_id", "subscriber_id", "message_id")
    .render_derived(name="new")
)
_PG_INSERT = insert(_D).from_select(
    [
        "event_id",
        "subscriber_id",
        "message_id",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ],
    select(
        _NEW.c.event_id,
        _NEW.c.subscriber_id,
        _NEW.c.message_id,
        literal("pending"),
        literal(0),
        bindparam("now", type_=_D.c.created_at.type),
        bindparam("now", type_=_D.c.created_at.type),
    ),
)


def dispatch_events(db: Database, *, now: datetime | None = None, batch: int = BATCH) -> int:
    """Expand every undispatched event; returns how many deliveries were created."""
    total = 0
    while True:
        with db.write() as session:
            stamp = now or utcnow()
            query = (
                select(Event).where(Event.dispatched_at.is_(None)).order_by(Event.id).limit(batch)
            )
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            events = list(session.scalars(query).all())
            total += expand(session, events, stamp)
        if len(events) < batch:
            return total
