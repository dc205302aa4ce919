"""The hub's scheduler jobs: verification of intent, denial notices, and lease expiry (W3C WebSub
sections 5.3, 5.2 and 6).

`verify_intents` claims the due pending intents (push/websub/hub.py writes them), sends each
callback `GET <callback>?…&hub.mode=…&hub.topic=…&hub.challenge=…[&hub.lease_seconds=…]` with a
fresh random challenge, then records. Only a 2xx whose body is exactly the challenge verifies;
then a subscribe creates or updates THE subscription of (topic, callback) — a `Subscriber` row
of kind "websub", never a second one — and an unsubscribe deactivates it. Anything else (404,
other codes, a wrong echo, a refused URL) fails the intent and leaves the subscription as it
was; only a request that got no answer at all (connection refused, timeout) is tried again,
at most MAX_ATTEMPTS times, each with a new challenge. A result is applied only while its claim
still holds (a newer request for the same subscription supersedes it).

Denial (`GET <callback>?…&hub.mode=denied&hub.topic=…&hub.reason=…`, sent once, best effort):
a subscribe whose topic's channel was removed (or stopped publishing the format) before
verification is denied instead of verified, and a live subscription whose topic goes away is
ended by `expire_leases` with a denial. A lease that simply runs out is ended WITHOUT a
denial: the subscriber was told its lease and may subscribe again, whereas a denial tells it
the subscription "is not possible anymore".

Every request goes through the outbound client (syndication/outbound): the callback is read
strictly, resolved once, checked, and connected to at the checked address, within one deadline,
reading at most MAX_READ bytes of the answer. Time comes from the context's clock.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from syndication.models import Delivery, HubIntent, Subscriber
from syndication.outbound import OutboundError, UnsafeURL
from syndication.push.context import PushContext
from syndication.push.websub.hub import (
    channel_for,
    parse_topic,
    topic_gone_reason,
    topic_url,
    with_params,
)
from syndication.push.websub.transmitter import KIND, USER_AGENT

log = logging.getLogger(__name__)

MAX_READ = 4096  # of a verification answer (a challenge is 43 characters)
MAX_ATTEMPTS = 3  # verification tries when the callback does not answer at all
BATCH = 50  # intents claimed per round
CONCURRENCY = 32  # verification and denial requests in flight at once
INTENT_KEEP = timedelta(days=30)  # decided intents are deleted after this (expire_leases)


# --- subscriptions ------------------------------------------------------------------------------


def find_subscription(
    session: Session, ctx: PushContext, slug: str, fmt: str, callback: str
) -> Subscriber | None:
    """THE subscription of (topic, callback), active or not (oldest row if ever several)."""
    return session.scalars(
        select(Subscriber)
        .where(
            Subscriber.kind == KIND,
            Subscriber.topic == topic_url(ctx.settings, slug, fmt),
            Subscriber.url == callback,
        )
        .order_by(Subscriber.id)
        .limit(1)
    ).first()


def _cancel_queued(session: Session, subscriber_ids: list[int], reason: str, now: datetime) -> None:
    """Pending notifications of ended subscriptions (not those in flight) are cancelled."""
    if not subscriber_ids:
        return
    session.execute(
        update(Delivery)
        .where(
            Delivery.subscriber_id.in_(subscriber_ids),
            Delivery.status == "pending",
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        .values(
            status="cancelled",
            next_attempt_at=None,
            lease_until=None,
            claim_token=None,
            last_error=reason,
        )
    )


def end_subscriptions(session: Session, subs: list[Subscriber], reason: str, now: datetime) -> None:
    for sub in subs:
        sub.active = False
        sub.disabled_reason = reason
        if sub.lease_expires_at is None or sub.lease_expires_at > now:
            sub.lease_expires_at = now
    _cancel_queued(session, [s.id for s in subs], reason, now)


def _subscribe(
    session: Session,
    ctx: PushContext,
    intent: HubIntent,
    slug: str,
    fmt: str,
    sent_at: datetime,
    now: datetime,
) -> Subscriber:
    sub = find_subscription(session, ctx, slug, fmt, intent.callback)
    if sub is None:
        sub = Subscriber(
            kind=KIND,
            name=f"WebSub {intent.callback}"[:200],
            url=intent.callback,
            event_types=[],
            filter={},
            headers={},
            format="json",
            created_at=now,
        )
        session.add(sub)
    lease = intent.lease_seconds or ctx.settings.websub_lease_default
    sub.secret = intent.secret or ""
    sub.previous_secret = None
    sub.previous_secret_until = None
    sub.channels = [slug]
    sub.topic = topic_url(ctx.settings, slug, fmt)
    sub.topic_format = fmt
    sub.lease_seconds = lease
    # "measured from the time the verification request was made" (5.3)
    sub.lease_expires_at = sent_at + timedelta(seconds=lease)
    sub.verified_at = now
    sub.active = True
    sub.disabled_reason = None
    sub.failing_since = None
    session.flush()
    return sub


def _unsubscribe(
    session: Session, ctx: PushContext, intent: HubIntent, slug: str, fmt: str, now: datetime
) -> None:
    subs = list(
        session.scalars(
            select(Subscriber).where(
                Subscriber.kind == KIND,
                Subscriber.topic == topic_url(ctx.settings, slug, fmt),
                Subscriber.url == intent.callback,
            )
        )
    )
    end_subscriptions(session, [s for s in subs if s.active], "unsubscribed", now)


# --- verification of intent ---------------------------------------------------------------------


@dataclass
class _Check:
    intent_id: int
    mode: str
    topic: str
    callback: str
    challenge: str
    lease_seconds: int | None
    claim: datetime
    slug: str = ""
    fmt: str = ""
    sent_at: datetime | None = None
    ok: bool = False
    retry: bool = False
    error: str | None = None


@dataclass
class _Denial:
    callback: str
    topic: str
    reason: str
    intent_id: int | None = None
    result: str = field(default="")


def _claim(ctx: PushContext, now: datetime) -> tuple[list[_Check], list[_Denial]]:
    """Lease the due pending intents: each gets a fresh challenge. A subscribe whose topic is
    gone is denied here (decided, and its denial notice to send)."""
    with ctx.db.write() as session:
        query = (
            select(HubIntent)
            .where(
                HubIntent.status == "pending",
                HubIntent.next_attempt_at <= now,
                or_(HubIntent.lease_until.is_(None), HubIntent.lease_until < now),
            )
            .order_by(HubIntent.next_attempt_at, HubIntent.id)
            .limit(BATCH)
        )
        if not ctx.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        checks: list[_Check] = []
        denials: list[_Denial] = []
        claim = now + timedelta(seconds=ctx.settings.lease_seconds)
        for intent in session.scalars(query).all():
            parsed = parse_topic(ctx.settings, intent.topic)
            channel = channel_for(session, *parsed) if parsed else None
            if intent.mode == "subscribe" and channel is None:
                reason = (
                    f"topic no longer exists ({topic_gone_reason(*parsed, session)})"
                    if parsed
                    else "not a topic of this hub"
                )
                intent.status = "denied"
                intent.error = reason
                intent.decided_at = now
                intent.lease_until = None
                denials.append(_Denial(intent.callback, intent.topic, reason, intent.id))
                continue
            intent.challenge = secrets.token_urlsafe(32)
            intent.attempts += 1
            intent.lease_until = claim
            checks.append(
                _Check(
                    intent.id,
                    intent.mode,
                    intent.topic,
                    intent.callback,
                    intent.challenge,
                    intent.lease_seconds,
                    claim,
                    *(parsed or ("", "")),
                )
            )
        return checks, denials


async def _get(ctx: PushContext, url: str) -> tuple[int, bytes]:
    response = await ctx.outbound.request(
        "GET",
        url,
        headers={"User-Agent": USER_AGENT},
        max_read=MAX_READ,
        timeout=ctx.settings.outbound_timeout,
    )
    return response.status, response.body


async def _verify(ctx: PushContext, check: _Check) -> _Check:
    params = [("hub.mode", check.mode), ("hub.topic", check.topic)]
    params.append(("hub.challenge", check.challenge))
    if check.mode == "subscribe":
        params.append(("hub.lease_seconds", str(check.lease_seconds)))
    check.sent_at = ctx.clock()
    try:
        status, body = await _get(ctx, with_params(check.callback, params))
    except UnsafeURL as exc:
        check.error = f"callback refused: {exc}"
        return check
    except OutboundError as exc:
        check.error = f"no answer: {exc}"[:1000]
        check.retry = True
        return check
    if not 200 <= status < 300:
        check.error = f"callback answered {status}"
    elif body != check.challenge.encode("ascii"):
        check.error = (
            f"callback answered {status} without echoing the challenge (body {body[:80]!r})"
        )
    else:
        check.ok = True
        check.error = None
    return check


def _record(ctx: PushContext, check: _Check) -> str:
    """Apply one verification's outcome; returns the intent's new status."""
    with ctx.db.write() as session:
        now = ctx.clock()
        intent = session.get(HubIntent, check.intent_id)
        if intent is None or intent.status != "pending" or intent.lease_until != check.claim:
            return "superseded"  # a newer request took over, or the claim expired meanwhile
        intent.lease_until = None
        if check.ok:
            if check.mode == "subscribe":
                _subscribe(session, ctx, intent, check.slug, check.fmt, check.sent_at or now, now)
            else:
                _unsubscribe(session, ctx, intent, check.slug, check.fmt, now)
            intent.status = "verified"
            intent.error = None
            intent.decided_at = now
        elif check.retry and intent.attempts < MAX_ATTEMPTS:
            delays = ctx.settings.retry_delays
            delay = delays[min(intent.attempts, len(delays)) - 1]
            intent.next_attempt_at = now + timedelta(seconds=delay)
            intent.error = check.error
        else:
            intent.status = "failed"
            intent.error = check.error
            intent.decided_at = now
        return intent.status


async def _deny(ctx: PushContext, denial: _Denial) -> _Denial:
    """GET <callback>?…&hub.mode=denied&hub.topic=…&hub.reason=… once; the outcome is only
    noted (the subscriber may not care)."""
    params = [("hub.mode", "denied"), ("hub.topic", denial.topic), ("hub.reason", denial.reason)]
    try:
        status, _ = await _get(ctx, with_params(denial.callback, params))
        denial.result = f"denial notice answered {status}"
    except UnsafeURL as exc:
        denial.result = f"denial notice not sent: {exc}"
    except OutboundError as exc:
        denial.result = f"denial notice failed: {exc}"[:500]
    return denial


async def _all(coros: list) -> list:  # type: ignore[type-arg]
    """Run the requests concurrently, at most CONCURRENCY at a time."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(coro):  # type: ignore[no-untyped-def]
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


def send_denials(ctx: PushContext, denials: list[_Denial]) -> None:
    if not denials:
        return
    done = ctx.outbound.run(_all([_deny(ctx, d) for d in denials]))
    noted = [d for d in done if d.intent_id is not None]
    if noted:
        with ctx.db.write() as session:
            for d in noted:
                intent = session.get(HubIntent, d.intent_id)
                if intent is not None:
                    intent.error = f"{intent.error}; {d.result}"[:1000]
    for d in done:
        log.info("websub denial to %s (%s): %s", d.callback, d.reason, d.result)


def verify_intents(ctx: PushContext) -> int:
    """The scheduler job: verify every due pending intent (rounds of BATCH); returns how many
    were decided or rescheduled, denials included."""
    done = 0
    while True:
        checks, denials = _claim(ctx, ctx.clock())
        send_denials(ctx, denials)
        if checks:
            results = ctx.outbound.run(_all([_verify(ctx, c) for c in checks]))
            for check in results:
                status = _record(ctx, check)
                log.info(
                    "websub %s of %s for %s: %s%s",
                    check.mode,
                    check.topic,
                    check.callback,
                    status,
                    f" ({check.error})" if check.error else "",
                )
        done += len(checks) + len(denials)
        if len(checks) + len(denials) < BATCH:
            return done


# --- lease expiry -------------------------------------------------------------------------------


def expire_leases(ctx: PushContext) -> int:
    """The scheduler job: end the subscriptions whose lease has passed (no denial: see the
    module docstring) and those whose topic is gone (with a denial); delete intents decided
    more than INTENT_KEEP ago. Returns how many subscriptions ended."""
    now = ctx.clock()
    denials: list[_Denial] = []
    with ctx.db.write() as session:
        session.execute(
            delete(HubIntent).where(
                HubIntent.status != "pending", HubIntent.decided_at < now - INTENT_KEEP
            )
        )
        expired = list(
            session.scalars(
                select(Subscriber).where(
                    Subscriber.kind == KIND,
                    Subscriber.active.is_(True),
                    Subscriber.lease_expires_at <= now,
                )
            )
        )
        end_subscriptions(session, expired, "lease expired", now)
        live_topics = session.scalars(
            select(Subscriber.topic)
            .where(
                Subscriber.kind == KIND,
                Subscriber.active.is_(True),
                Subscriber.topic.is_not(None),
            )
            .distinct()
        ).all()
        gone: dict[str, str] = {}
        for topic in live_topics:
            parsed = parse_topic(ctx.settings, topic)
            if parsed is None:
                gone[topic] = "not a topic of this hub"
            elif channel_for(session, *parsed) is None:
                gone[topic] = f"topic no longer exists ({topic_gone_reason(*parsed, session)})"
        ended = len(expired)
        for topic, reason in gone.items():
            subs = list(
                session.scalars(
                    select(Subscriber).where(
                        Subscriber.kind == KIND,
                        Subscriber.active.is_(True),
                        Subscriber.topic == topic,
                    )
                )
            )
            end_subscriptions(session, subs, reason, now)
            denials += [_Denial(s.url, topic, reason) for s in subs]
            ended += len(subs)
    send_denials(ctx, denials)
    return ended
