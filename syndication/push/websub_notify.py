"""WebSub distribution: the hub's content notifications, sent through the partner-push machinery.

A verified WebSub subscription is a `Subscriber` row of kind "websub" (url = hub.callback,
secret = hub.secret or "", channels = [the topic's channel slug], topic, topic_format,
lease_expires_at, verified_at). Its notifications are ordinary `Delivery` rows: the same queue,
retry schedule, claim leases and attempt log as partner webhooks (push/dispatch.py,
push/sender.py); only what is matched and what is sent differ, and both live here:

- matching (`expand`, called by dispatch for every batch of outbox events): a story event goes
  to every live subscription of each channel whose filter its terms match;
- `topic_changed` (the hub's `hub.mode=publish`): every live subscription of one channel;
- `prepare` / `build_notification` (called by the sender when it claims a websub delivery):
  the topic's current first page, rendered at send time, with `Content-Type`, `Link` and, when
  the subscription has a secret, `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`.

Live = active, verified and `lease_expires_at > now`: checked when deliveries are created and
again when they are claimed (an expired subscription's pending notification is cancelled).

Coalescing: a notification carries the document as it is when sent, so a subscription with a
notification queued and not yet attempted (nor in flight) gets no second one; the queued one
will show every change made meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

import feeds
from syndication.channels.cache import Page, PageCache
from syndication.channels.pages import ItemCache, build_feed, feed_url
from syndication.config import Settings
from syndication.errors import NotFound
from syndication.filters import StoryFilter
from syndication.models import Channel, Delivery, DeliveryAttempt, Event, Subscriber
from syndication.push import wake
from syndication.push.outbox import in_channels
from syndication.validation import iso

KIND = "websub"
# The event of a `hub.mode=publish` request: already dispatched, its deliveries made here.
PUBLISH = "websub.publish"
USER_AGENT = "syndication-websub/1"

# Rendered topic documents, keyed like the feed routes' page cache (channel id, version,
# format, first page) plus the database: a channel's version grows with every change, so an
# entry is never stale. One notification of 1,000 subscribers renders its document once.
_pages = PageCache(256)
_items: dict[str, ItemCache] = {}  # per database: story ids are not shared between them
_render_lock = threading.Lock()


def _live_clause(now: datetime):  # type: ignore[no-untyped-def]
    return and_(
        Subscriber.kind == KIND,
        Subscriber.active.is_(True),
        Subscriber.verified_at.is_not(None),
        Subscriber.lease_expires_at.is_not(None),
        Subscriber.lease_expires_at > now,
    )


def is_live(subscriber: Subscriber, now: datetime) -> bool:
    """Verified, active and within its lease: only such a subscription receives anything."""
    return bool(
        subscriber.kind == KIND
        and subscriber.active
        and subscriber.verified_at is not None
        and subscriber.lease_expires_at is not None
        and subscriber.lease_expires_at > now
    )


def live_subscribers(session: Session, now: datetime) -> list[Subscriber]:
    return list(
        session.scalars(select(Subscriber).where(_live_clause(now)).order_by(Subscriber.id))
    )


def _queued(session: Session, subscriber_ids: list[int], now: datetime) -> set[int]:
    """Subscriptions with a notification pending, never attempted and not in flight (a claimed
    one has its body already rendered: a change after that needs a notification of its own)."""
    if not subscriber_ids:
        return set()
    rows = session.scalars(
        select(Delivery.subscriber_id)
        .where(
            Delivery.subscriber_id.in_(subscriber_ids),
            Delivery.status == "pending",
            Delivery.attempts == 0,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        .distinct()
    )
    return set(rows)


def _delivery_row(event_id: int, subscriber_id: int, now: datetime) -> dict:
    from syndication.push.dispatch import new_message_id

    return {
        "event_id": event_id,
        "subscriber_id": subscriber_id,
        "message_id": new_message_id(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def subscription_matches(
    subscriber: Subscriber, event: Event, channel_filters: dict[str, StoryFilter]
) -> bool:
    """Does `event` change the topic of `subscriber`? Its story's terms (for a retraction the
    last published ones; for an update, before or after it) match the filter of the topic's
    channel."""
    if event.type == PUBLISH:
        return False  # addressed: its deliveries are made by topic_changed
    return in_channels(event, subscriber.channels or [], channel_filters)


def expand(session: Session, events: list[Event], now: datetime) -> int:
    """The websub deliveries of a batch of outbox events (in the dispatcher's transaction):
    at most one per live subscription whose topic any of the events changes, none for one that
    already has a notification queued."""
    if not events:
        return 0
    subscribers = live_subscribers(session, now)
    if not subscribers:
        return 0
    slugs = sorted({slug for s in subscribers for slug in (s.channels or [])})
    channel_filters = {
        c.slug: StoryFilter.from_dict(c.filter)
        for c in session.scalars(select(Channel).where(Channel.slug.in_(slugs)))
    }
    busy = _queued(session, [s.id for s in subscribers], now)
    existing = set(
        session.execute(
            select(Delivery.event_id, Delivery.subscriber_id).where(
                Delivery.event_id.in_([e.id for e in events])
            )
        ).all()
    )
    rows = []
    for sub in subscribers:
        if sub.id in busy:
            continue
        for event in events:
            if (event.id, sub.id) in existing:
                break  # this batch was expanded for it already
            if subscription_matches(sub, event, channel_filters):
                rows.append(_delivery_row(event.id, sub.id, now))
                break  # one notification shows every change of the batch
    if rows:
        session.execute(Delivery.__table__.insert(), rows)
    return len(rows)


def topic_changed(session: Session, channel_id: int, now: datetime) -> int:
    """Queue a notification for every live subscription of the channel's topics (any format),
    as for `hub.mode=publish`; returns how many were queued (0 for an unknown channel). Runs in
    the caller's transaction; the process's sender is woken once it commits."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        return 0
    subscribers = [s for s in live_subscribers(session, now) if channel.slug in (s.channels or [])]
    busy = _queued(session, [s.id for s in subscribers], now)
    todo = [s for s in subscribers if s.id not in busy]
    if not todo:
        return 0
    event = Event(
        type=PUBLISH,
        story_id=None,
        story_code="",
        snapshot={"channel": channel.slug},
        terms=[],
        created_at=now,
        dispatched_at=now,  # never expanded: its deliveries are these
    )
    session.add(event)
    session.flush()
    session.execute(Delivery.__table__.insert(), [_delivery_row(event.id, s.id, now) for s in todo])
    wake.mark(session)
    return len(todo)


# --- what is sent -----------------------------------------------------------------------------


class TopicGone(LookupError):
    """The topic's channel (or its format) no longer exists."""


def render_topic(session: Session, settings: Settings, slug: str, fmt: str) -> Page:
    """The topic's first page as the feed route serves it (and from the same kind of cache)."""
    # One read of each channel per claim (session), not one per notification of a batch.
    known = session.info.setdefault("websub_channels", {})
    if slug not in known:
        known[slug] = session.scalars(select(Channel).where(Channel.slug == slug)).one_or_none()
    channel = known[slug]
    if channel is None or fmt not in feeds.CONTENT_TYPES or fmt not in (channel.formats or []):
        raise TopicGone(f"the topic's channel {slug!r} no longer publishes {fmt}")
    db_key = str(session.get_bind().url)
    # changed_at too: a database emptied and filled again restarts ids and versions
    key = (db_key, channel.id, channel.version, channel.changed_at, fmt)
    page = _pages.get(key)
    if page is not None:
        return page
    with _render_lock:  # a burst of claims renders a document once, not once per thread
        page = _pages.get(key)
        if page is None:
            items = _items.setdefault(db_key, ItemCache(5000))
            doc = build_feed(session, settings, channel, fmt, None, items)
            body = feeds.render(doc, fmt)
            page = Page.make(
                body,
                hashlib.sha256(body).hexdigest()[:32],
                channel.changed_at,
                feeds.CONTENT_TYPES[fmt],
                [],
            )
            _pages.put(key, page)
    return page


def signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body keyed with hub.secret>."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def build_notification(
    subscriber: Subscriber, settings: Settings, session: Session
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a content notification to `subscriber`: the topic's current
    document, its exact Content-Type, the hub and self links, and the signature when the
    subscription has a secret. TopicGone when the topic's channel is gone."""
    fmt = subscriber.topic_format or ""
    slug = (subscriber.channels or [""])[0]
    page = render_topic(session, settings, slug, fmt)
    topic = subscriber.topic or feed_url(settings, slug, fmt)
    headers = {
        "Content-Type": feeds.CONTENT_TYPES[fmt],
        "Link": f'<{settings.base_url}/hub>; rel="hub", <{topic}>; rel="self"',
        "User-Agent": USER_AGENT,
    }
    if subscriber.secret:
        headers["X-Hub-Signature"] = signature(subscriber.secret, page.body)
    return page.body, headers


def prepare(
    session: Session, settings: Settings, delivery: Delivery, subscriber: Subscriber, now: datetime
) -> tuple[bytes, dict[str, str]] | None:
    """For the sender's claim: the request of a websub delivery, or None when it must not be
    sent (the lease expired, the subscription is no longer verified, the topic is gone), in
    which case the delivery is cancelled here with the reason.

    The sender passes plain stand-ins, not ORM objects: a row of the subscriber's columns and a
    small delivery object whose changed fields (status, next_attempt_at, lease_until,
    last_error) it writes itself."""
    reason = None
    if not is_live(subscriber, now):
        reason = "subscription lease expired or not verified"
    else:
        try:
            return build_notification(subscriber, settings, session)
        except TopicGone as exc:
            reason = str(exc)
    delivery.status = "cancelled"
    delivery.next_attempt_at = None
    delivery.lease_until = None
    delivery.last_error = reason
    return None


# --- admin: subscriptions per channel ---------------------------------------------------------


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
