"""The delivery queue's write side: new deliveries, and the expansion of outbox events into them.

`dispatch_events` takes undispatched outbox events in batches and hands each batch to every
transmitter (push/transmitter.py), which creates the deliveries of its kind; then the events are
marked dispatched, all in one transaction. Safe in any number of processes at once: on
PostgreSQL events are claimed with `FOR UPDATE SKIP LOCKED`, on SQLite the write transaction
(BEGIN IMMEDIATE) serialises them, and the unique (event_id, subscriber_id) index makes a
repeated expansion a no-op.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndication import bulk
from syndication.clock import Clock
from syndication.db import Database
from syndication.models import Delivery, Event
from syndication.push import wake
from syndication.push.transmitter import Transmitter

BATCH = 100
PENDING = "pending"
# Recorded for a subscriber that was disabled when the event came: nothing is sent, and
# `recover` can send it later.
SKIPPED = "skipped"


def new_message_id() -> str:
    """A Standard Webhooks message id: "msg_" + 32 hex digits (128 random bits; base32 was
    a pure-Python cost at every fan-out)."""
    return "msg_" + secrets.token_hex(16)


def delivery_row(
    event_id: int, subscriber_id: int, now: datetime, *, skipped: str | None = None
) -> dict:
    """A new delivery, due now; with `skipped` (the reason) a skipped one, due never."""
    return {
        "event_id": event_id,
        "subscriber_id": subscriber_id,
        "message_id": new_message_id(),
        "status": SKIPPED if skipped else PENDING,
        "attempts": 0,
        "next_attempt_at": None if skipped else now,
        "last_error": skipped,
        "created_at": now,
    }


def insert_deliveries(session: Session, rows: list[dict]) -> int:
    """Insert new deliveries (rows of `delivery_row`) in the caller's transaction; the engines
    of every process are woken when it commits if any is due."""
    if not rows:
        return 0
    if any(r["status"] == PENDING for r in rows):
        wake.mark(session)
    # One statement, however many (a fan-out makes thousands): syndication/bulk.py.
    bulk.insert_rows(session, Delivery.__table__, rows)
    return len(rows)


def existing_pairs(session: Session, events: Iterable[Event]) -> set[tuple[int, int]]:
    """(event id, subscriber id) of the deliveries these events already have."""
    ids = [e.id for e in events]
    if not ids:
        return set()
    return {
        (row.event_id, row.subscriber_id)
        for row in session.execute(
            select(Delivery.event_id, Delivery.subscriber_id).where(Delivery.event_id.in_(ids))
        )
    }


def dispatch_events(
    db: Database, transmitters: Mapping[str, Transmitter], clock: Clock, *, batch: int = BATCH
) -> int:
    """Expand every undispatched event through every transmitter; returns how many deliveries
    were created."""
    total = 0
    while True:
        with db.write() as session:
            now = clock()
            query = (
                select(Event).where(Event.dispatched_at.is_(None)).order_by(Event.id).limit(batch)
            )
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            events = list(session.scalars(query).all())
            for transmitter in transmitters.values():
                total += transmitter.expand(session, events, now)
            for event in events:
                event.dispatched_at = now
        if len(events) < batch:
            return total
