"""The `websub` transmitter: content distribution of the hub, through the delivery engine.

A verified WebSub subscription is a `Subscriber` row of kind "websub" (url = hub.callback,
secret = hub.secret or "", channels = [the topic's channel slug], topic, topic_format,
lease_expires_at, verified_at). Its notifications are ordinary `Delivery` rows: the same queue,
retry schedule, claim leases and attempt log as partner webhooks; what differs lives here:

- matching (`expand`, for every batch of outbox events): a story event goes to every live
  subscription of each channel whose filter its terms match;
- `topic_changed` (the hub's `hub.mode=publish`): every live subscription of one channel, but
  only when the topic changed since its last distribution (a publish ping cannot make the hub
  send the same document to every subscriber again);
- `prepare`: the topic's current first page, rendered at send time (websub/topics.py), with
  `Content-Type`, `Link` and, when the subscription has a secret,
  `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`.

Live = active, verified and `lease_expires_at > now`: checked when deliveries are created and
again when they are claimed (an expired subscription's pending notification is cancelled).

Coalescing: a notification carries the document as it is when sent, so a subscription with a
notification queued and not yet attempted (nor in flight) gets no second one; the queued one
will show every change made meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.orm import Session

import feeds
from syndication.channels.pages import feed_url
from syndication.config import Settings
from syndication.filters import StoryFilter
from syndication.models import Channel, Delivery, Event, Subscriber
from syndication.push.outbox import embargo_only, in_channels
from syndication.push.queue import delivery_row, existing_pairs, insert_deliveries
from syndication.push.transmitter import Prepared
from syndication.push.websub.topics import TopicGone, TopicRenderer

KIND = "websub"
# The event of a `hub.mode=publish` request: already dispatched, its deliveries made here.
PUBLISH = "websub.publish"
USER_AGENT = "syndication-websub/1"


def _live_clause(now: datetime):  # type: ignore[no-untyped-def]
    return and_(
        Subscriber.kind == KIND,
        Subscriber.active.is_(True),
        Subscriber.verified_at.is_not(None),
        Subscriber.lease_expires_at.is_not(None),
        Subscriber.lease_expires_at > now,
    )


def is_live(subscriber: Subscriber | Row, now: datetime) -> bool:
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


def subscription_matches(
    subscriber: Subscriber, event: Event, channel_filters: dict[str, StoryFilter]
) -> bool:
    """Does `event` change the topic of `subscriber`? Its story's terms (for a retraction the
    last published ones; for an update, before or after it) match the filter of the topic's
    channel."""
    if event.type == PUBLISH:
        return False  # addressed: its deliveries are made by topic_changed
    if embargo_only(event):
        return False  # not public before publish_at: no topic changed
    return in_channels(event, subscriber.channels or [], channel_filters)


def _distributed(session: Session, slugs: Iterable[str]) -> None:
    """Note that these channels' topics, as they are now, are on their way to every live
    subscription (queued, or coalesced into a queued notification)."""
    slugs = sorted(set(slugs))
    if slugs:
        session.execute(
            update(Channel)
            .where(Channel.slug.in_(slugs))
            .values(distributed_version=Channel.version)
            .execution_options(synchronize_session=False)
        )


def topic_changed(session: Session, channel_id: int, now: datetime) -> int:
    """`hub.mode=publish`: queue a notification for every live subscription of the channel's
    topics (any format) that has none queued, unless the channel has not changed since its
    last distribution. Returns how many were queued (0 for an unknown channel). Runs in the
    caller's transaction; the engines are woken once it commits."""
    channel = session.get(Channel, channel_id)
    if channel is None or channel.distributed_version == channel.version:
        return 0
    subscribers = [s for s in live_subscribers(session, now) if channel.slug in (s.channels or [])]
    if not subscribers:
        return 0
    _distributed(session, [channel.slug])
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
    return insert_deliveries(session, [delivery_row(event.id, s.id, now) for s in todo])


def signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body keyed with hub.secret>."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebSubTransmitter:
    kind = KIND
    columns = (
        "url",
        "secret",
        "active",
        "channels",
        "topic",
        "topic_format",
        "verified_at",
        "lease_expires_at",
    )

    def __init__(self, settings: Settings, topics: TopicRenderer) -> None:
        self.settings = settings
        self.topics = topics

    def expand(self, session: Session, events: Sequence[Event], now: datetime) -> list[dict]:
        """At most one notification per live subscription whose topic any of the events
        changes, none for one that already has a notification queued."""
        if not events:
            return []
        subscribers = live_subscribers(session, now)
        if not subscribers:
            return []
        slugs = sorted({slug for s in subscribers for slug in (s.channels or [])})
        channel_filters = {
            c.slug: StoryFilter.from_dict(c.filter)
            for c in session.scalars(select(Channel).where(Channel.slug.in_(slugs)))
        }
        busy = _queued(session, [s.id for s in subscribers], now)
        existing = existing_pairs(session, events)
        rows = []
        changed: set[str] = set()
        for sub in subscribers:
            for event in events:
                if (event.id, sub.id) in existing:
                    break  # this batch was expanded for it already
                if subscription_matches(sub, event, channel_filters):
                    changed.update(sub.channels or [])
                    if sub.id not in busy:
                        rows.append(delivery_row(event.id, sub.id, now))
                    break  # one notification shows every change of the batch
        _distributed(session, changed)
        return rows

    def prepare(
        self, session: Session, rows: Sequence[Row], now: datetime
    ) -> dict[int, Prepared | str]:
        """The request of each websub delivery, or why it must not be sent (the lease expired,
        the subscription is no longer verified, the topic is gone)."""
        prepared: dict[int, Prepared | str] = {}
        for r in rows:
            if not is_live(r, now):
                prepared[r.id] = "subscription lease expired or not verified"
                continue
            fmt = r.topic_format or ""
            slug = (r.channels or [""])[0]
            try:
                page = self.topics.render(session, slug, fmt)
            except TopicGone as exc:
                prepared[r.id] = str(exc)
                continue
            topic = r.topic or feed_url(self.settings, slug, fmt)
            headers = {
                "Content-Type": feeds.CONTENT_TYPES[fmt],
                "Link": f'<{self.settings.base_url}/hub>; rel="hub", <{topic}>; rel="self"',
                "User-Agent": USER_AGENT,
            }
            if r.secret:
                headers["X-Hub-Signature"] = signature(r.secret, page.body)
            prepared[r.id] = Prepared(r.url, page.body, headers)
        return prepared

    def finish(self, prepared: Prepared, message_id: str, now: datetime) -> dict[str, str]:
        return prepared.headers
