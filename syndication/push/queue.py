"""The delivery queue's write side: new deliveries, and the expansion of outbox events into them.

An expansion takes undispatched outbox events in batches and hands each batch to every
transmitter (push/transmitter.py), which says which deliveries it makes for subscribers of its
kind. The deliveries are inserted a chunk at a time, each chunk committed at once, so the
engine claims and sends the first ones while the rest of a big fan-out is still being written
(and other workers take their share as early); the events are marked dispatched with the last
chunk. Until then they carry an expansion lease (`expand_lease_until`): no other worker expands
them meanwhile, and if this one dies mid-way, another expands them again once the lease has run
out — the unique (event_id, subscriber_id) index and `ON CONFLICT DO NOTHING` make a repeated
expansion a no-op, so a crash delays deliveries, never loses or doubles one. Safe in any number
of processes at once: on PostgreSQL events are claimed with `FOR UPDATE SKIP LOCKED`, on SQLite
the write transaction (BEGIN IMMEDIATE) serialises them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from syndication import bulk
from syndication.clock import Clock
from syndication.db import Database, PinnedWriter
from syndication.models import Delivery, Event
from syndication.push import wake
from syndication.push.transmitter import Transmitter

BATCH = 100  # events per expansion
CHUNK = 250  # deliveries per committed chunk of an expansion
PENDING = "pending"
# A pull subscriber's delivery (push/pull.py): waiting for its partner to fetch and acknowledge
# it. The engine never claims it (its claim takes "pending" only).
AVAILABLE = "available"
# Recorded for a subscriber that was disabled when the event came: nothing is sent, and
# `recover` can send it later.
SKIPPED = "skipped"


def new_message_id() -> str:
    """A Standard Webhooks message id: "msg_" + 32 hex digits (128 random bits; base32 was
    a pure-Python cost at every fan-out)."""
    return "msg_" + secrets.token_hex(16)


def delivery_row(
    event_id: int,
    subscriber_id: int,
    now: datetime,
    *,
    skipped: str | None = None,
    available: bool = False,
) -> dict:
    """A new delivery, due now; with `skipped` (the reason) a skipped one, due never; with
    `available` one for a pull subscriber to fetch, never due either."""
    status = SKIPPED if skipped else AVAILABLE if available else PENDING
    return {
        "event_id": event_id,
        "subscriber_id": subscriber_id,
        "message_id": new_message_id(),
        "status": status,
        "attempts": 0,
        "next_attempt_at": now if status == PENDING else None,
        "last_error": skipped,
        "created_at": now,
    }


def insert_deliveries(session: Session, rows: list[dict]) -> int:
    """Insert new deliveries (rows of `delivery_row`) in the caller's transaction, leaving out
    any (event, subscriber) that already has one; the engines of every process are woken when
    it commits if any is due (and the pull API's long-polls if any is available)."""
    if not rows:
        return 0
    if any(r["status"] in (PENDING, AVAILABLE) for r in rows):
        wake.mark(session)
    # One statement, however many (a fan-out makes thousands): syndication/bulk.py.
    bulk.insert_rows(session, Delivery.__table__, rows, ignore_conflicts=True)
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


@dataclass
class Expansion:
    """Events under expansion: the deliveries still to insert."""

    event_ids: list[int]
    rows: list[dict]
    created: int = 0
    more: bool = False  # more undispatched events may be waiting (the batch was full)


def start_expansion(
    db: Database | PinnedWriter,
    transmitters: Mapping[str, Transmitter],
    clock: Clock,
    lease_seconds: float,
    *,
    batch: int = BATCH,
    chunk: int = CHUNK,
) -> Expansion | None:
    """Take a batch of undispatched events (not under another expansion's lease), work out
    their deliveries and insert the first chunk; None when there is nothing to expand. The rest
    goes in with `continue_expansion`."""
    with db.write() as session:
        now = clock()
        query = (
            select(Event)
            .where(
                Event.dispatched_at.is_(None),
                or_(Event.expand_lease_until.is_(None), Event.expand_lease_until < now),
            )
            .order_by(Event.id)
            .limit(batch)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        events = list(session.scalars(query).all())
        if not events:
            return None
        rows: list[dict] = []
        for transmitter in transmitters.values():
            rows += transmitter.expand(session, events, now)
        expansion = Expansion([e.id for e in events], rows[chunk:], more=len(events) == batch)
        expansion.created = insert_deliveries(session, rows[:chunk])
        for event in events:
            if expansion.rows:
                event.expand_lease_until = now + timedelta(seconds=lease_seconds)
            else:
                event.dispatched_at = now
        return expansion


def continue_expansion(
    db: Database, expansion: Expansion, clock: Clock, *, chunk: int = CHUNK
) -> bool:
    """Insert the next chunk (and mark the events dispatched with the last one); True while
    rows remain."""
    with db.write() as session:
        now = clock()
        part, expansion.rows = expansion.rows[:chunk], expansion.rows[chunk:]
        expansion.created += insert_deliveries(session, part)
        if not expansion.rows:
            session.execute(
                update(Event)
                .where(Event.id.in_(expansion.event_ids), Event.dispatched_at.is_(None))
                .values(dispatched_at=now, expand_lease_until=None)
            )
    return bool(expansion.rows)


def dispatch_events(
    db: Database | PinnedWriter,
    transmitters: Mapping[str, Transmitter],
    clock: Clock,
    *,
    lease_seconds: float = 60,
    batch: int = BATCH,
    chunk: int = CHUNK,
) -> int:
    """Expand every undispatched event, all chunks at once; returns how many deliveries were
    created. (The engine interleaves the chunks with its claims instead.)"""
    total = 0
    while True:
        expansion = start_expansion(
            db, transmitters, clock, lease_seconds, batch=batch, chunk=chunk
        )
        if expansion is None:
            return total
        while expansion.rows:
            continue_expansion(db, expansion, clock, chunk=chunk)
        total += expansion.created
        if not expansion.more:
            return total
