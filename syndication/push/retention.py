"""Deleting what push no longer needs, after `delivery_retention`: finished deliveries
(delivered, dead, cancelled, skipped) with their attempt logs, and dispatched events no delivery
refers to any more. Pending deliveries are never deleted, however old; a pull subscriber's
deliveries its partner never fetched (available) are, like finished ones: a partner that stops
polling must not make the table grow for ever (README: "For partners")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, select

from syndication.clock import Clock
from syndication.config import Settings
from syndication.db import Database
from syndication.models import Delivery, DeliveryAttempt, Event
from syndication.push.queue import AVAILABLE

FINISHED = ("delivered", "dead", "cancelled", "skipped")
# What is deleted after `delivery_retention`: the finished, and pull deliveries never fetched.
PRUNED = (*FINISHED, AVAILABLE)
BATCH = 5000  # rows per transaction: a big backlog is deleted without one long lock


def prune(db: Database, settings: Settings, clock: Clock) -> int:
    """Delete what is older than `delivery_retention`; returns how many deliveries went."""
    cutoff = clock() - timedelta(seconds=settings.delivery_retention)
    deleted = 0
    while True:
        with db.write() as session:
            ids = list(
                session.scalars(
                    select(Delivery.id)
                    .where(Delivery.created_at < cutoff, Delivery.status.in_(PRUNED))
                    .limit(BATCH)
                )
            )
            if ids:
                session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)))
                session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < BATCH:
            break
    with db.write() as session:
        session.execute(
            delete(Event).where(
                Event.dispatched_at.is_not(None),
                Event.created_at < cutoff,
                ~exists().where(Delivery.event_id == Event.id),
            )
        )
    return deleted
