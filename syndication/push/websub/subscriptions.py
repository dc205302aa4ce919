"""WebSub subscriptions as the admin sees them (REST API and web admin): per channel, one at a
time, and their removal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndication.errors import NotFound
from syndication.models import Delivery, DeliveryAttempt, Subscriber
from syndication.push.websub.transmitter import KIND
from syndication.validation import iso


def state_of(subscriber: Subscriber, now: datetime) -> str:
    """active (receives notifications) | expired (lease over) | unverified | ended (410, removed
    by the hub or disabled: `disabled_reason` says why)."""
    if not subscriber.active:
        return "ended"
    if subscriber.verified_at is None:
        return "unverified"
    if subscriber.lease_expires_at is None or subscriber.lease_expires_at <= now:
        return "expired"
    return "active"


def _last_deliveries(session: Session, subscriber_ids: list[int]) -> dict[int, Delivery]:
    if not subscriber_ids:
        return {}
    newest = (
        select(func.max(Delivery.id))
        .where(Delivery.subscriber_id.in_(subscriber_ids))
        .group_by(Delivery.subscriber_id)
    )
    return {
        d.subscriber_id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(newest)))
    }


def subscription_to_dict(
    subscriber: Subscriber, last: Delivery | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": subscriber.id,
        "channel": (subscriber.channels or [None])[0],
        "topic": subscriber.topic,
        "format": subscriber.topic_format,
        "callback": subscriber.url,
        "signed": bool(subscriber.secret),
        "state": state_of(subscriber, now),
        "ended_reason": subscriber.disabled_reason,
        "verified_at": iso(subscriber.verified_at),
        "lease_seconds": subscriber.lease_seconds,
        "lease_expires_at": iso(subscriber.lease_expires_at),
        "created_at": iso(subscriber.created_at),
        "last_success_at": iso(subscriber.last_success_at),
        "last_delivery": None
        if last is None
        else {
            "id": last.id,
            "status": last.status,
            "attempts": last.attempts,
            "created_at": iso(last.created_at),
            "delivered_at": iso(last.delivered_at),
            "last_status_code": last.last_status_code,
            "last_error": last.last_error,
        },
    }


def channel_subscription_rows(
    session: Session, slug: str
) -> list[tuple[Subscriber, Delivery | None]]:
    """Every WebSub subscription of the channel's topics (any state), oldest first, with its
    newest notification. NotFound for an unknown channel."""
    from syndication.channels.service import get_channel

    channel = get_channel(session, slug)
    subs = [
        s
        for s in session.scalars(
            select(Subscriber).where(Subscriber.kind == KIND).order_by(Subscriber.id)
        )
        if channel.slug in (s.channels or [])
    ]
    last = _last_deliveries(session, [s.id for s in subs])
    return [(s, last.get(s.id)) for s in subs]


def channel_subscriptions(session: Session, slug: str, now: datetime) -> list[dict[str, Any]]:
    return [
        subscription_to_dict(s, last, now) for s, last in channel_subscription_rows(session, slug)
    ]


def get_subscription(session: Session, subscription_id: int) -> Subscriber:
    sub = session.get(Subscriber, subscription_id) if 0 < subscription_id < 2**31 else None
    if sub is None or sub.kind != KIND:
        raise NotFound(f"no WebSub subscription {subscription_id}")
    return sub


def subscription_detail(session: Session, subscription_id: int, now: datetime) -> dict[str, Any]:
    sub = get_subscription(session, subscription_id)
    return subscription_to_dict(sub, _last_deliveries(session, [sub.id]).get(sub.id), now)


def remove_subscription(session: Session, subscription_id: int) -> Subscriber:
    """Delete a subscription with its notifications and their log: nothing more is sent.
    Returns the (deleted) row, for a denial notice to its callback."""
    sub = get_subscription(session, subscription_id)
    ids = select(Delivery.id).where(Delivery.subscriber_id == sub.id)
    session.execute(DeliveryAttempt.__table__.delete().where(DeliveryAttempt.delivery_id.in_(ids)))
    session.execute(Delivery.__table__.delete().where(Delivery.subscriber_id == sub.id))
    session.delete(sub)
    session.flush()
    return sub
