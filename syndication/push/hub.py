"""The WebSub hub, subscribing side (W3C WebSub Recommendation, sections 5 and 6).

`POST /hub` (push/hub_routes.py) parses and checks a request here (`parse_request`, no database,
no HTTP to the subscriber) and records it (`accept`): a subscribe / unsubscribe becomes a
pending `HubIntent`, answered 202; nothing changes for the subscriber yet. A publish names one
of our topics and queues its notifications (`websub_notify.topic_changed`).

Verification of intent happens afterwards, in the scheduler (`verify_intents`): claim the due
intents, `GET <callback>?…&hub.mode=…&hub.topic=…&hub.challenge=…[&hub.lease_seconds=…]` with a
fresh random challenge, then record. Only a 2xx whose body is exactly the challenge verifies;
then a subscribe creates or updates THE subscription of (topic, callback) — a `Subscriber` row
of kind "websub", never a second one — and an unsubscribe deactivates it. Anything else (404,
other codes, a wrong echo, a refused URL) fails the intent and leaves the subscription as it
was; only a request that got no answer at all (connection refused, timeout) is tried again,
at most MAX_ATTEMPTS times, each with a new challenge.

Denial (section 5.2, `GET <callback>?…&hub.mode=denied&hub.topic=…&hub.reason=…`, sent once,
best effort): a subscribe whose topic's channel was removed (or stopped publishing the format)
before verification is denied instead of verified, and a live subscription whose topic goes
away is ended by `expire_leases` with a denial. A lease that simply runs out is ended WITHOUT a
denial: the subscriber was told its lease and may subscribe again, whereas a denial tells it
the subscription "is not possible anymore".

Topics are this service's own feed URLs `<base_url>/feeds/<slug>.<fmt>` (the rel="self" of
each feed). The subscription stores the canonical one (`topic_url`); intents keep the topic as
the subscriber gave it (after decoding unreserved characters), which is what
verification and denial echo back.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

import feeds
from syndication.channels.pages import feed_url
from syndication.config import Settings
from syndication.db import Database
from syndication.models import Channel, Delivery, HubIntent, Subscriber
from syndication.push.urls import ResolveTimedOut, UnsafeURL, check_url
from syndication.runtime import utcnow

log = logging.getLogger(__name__)

KIND = "websub"
MODES = ("subscribe", "unsubscribe", "publish")
FORM = "application/x-www-form-urlencoded"
MAX_URL = 2048  # the topic and callback columns
RESOLVE_TIMEOUT = 2.0  # seconds POST /hub waits for the callback host's DNS
MAX_SECRET_BYTES = 200  # hub.secret "MUST be less than 200 bytes"
MAX_FIELDS = 100
# (connect, read) seconds for verification and denial requests. Module-level so tests can
# shorten it.
TIMEOUT: tuple[float, float] = (5, 15)
MAX_READ = 4096  # of a verification answer (a challenge is 43 characters)
MAX_ATTEMPTS = 3  # verification tries when the callback does not answer at all
BATCH = 50  # intents claimed per round
USER_AGENT = "syndication-websub/1"
INTENT_KEEP = timedelta(days=30)  # decided intents are deleted after this (expire_leases)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


class HubError(ValueError):
    """A request the hub refuses: `status` (4xx) and a plain-text reason (str())."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HubRequest:
    """A well-formed `POST /hub` (its topic not yet looked up)."""

    mode: str
    topics: tuple[tuple[str, str, str], ...]  # (as given, slug, fmt); one unless publish
    callback: str = ""
    lease_seconds: int | None = None  # subscribe only, clamped
    secret: str | None = None  # subscribe only; None = notifications unsigned


# --- topics and URLs ----------------------------------------------------------------------------


def decode_unreserved(url: str) -> str:
    """Percent-decode the unreserved characters of `url` (WebSub 5.1.1: hubs MUST)."""

    def repl(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else m.group(0)

    return _PERCENT.sub(repl, url)


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").rstrip(".").lower(), port or default or 0


def topic_url(settings: Settings, slug: str, fmt: str) -> str:
    """The canonical topic of a channel's feed in one format (its rel="self")."""
    return feed_url(settings, slug, fmt)


def parse_topic(settings: Settings, url: str) -> tuple[str, str] | None:
    """(slug, fmt) when `url` is one of our topic URLs `<base_url>/feeds/<slug>.<fmt>` (scheme
    and host case, default port and encoded unreserved characters aside), else None. Whether
    the channel exists is not checked here."""
    url = decode_unreserved(url.strip())
    base = urlsplit(settings.base_url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if _origin(url) != _origin(settings.base_url) or parts.query or parts.fragment:
        return None
    prefix = base.path + "/feeds/"
    if not parts.path.startswith(prefix):
        return None
    slug, dot, fmt = parts.path[len(prefix) :].rpartition(".")
    if not dot or fmt not in feeds.CONTENT_TYPES or not SLUG_RE.match(slug) or len(slug) > 100:
        return None
    return slug, fmt


def with_params(url: str, params: Iterable[tuple[str, str]]) -> str:
    """`url` with `params` appended to its own query string with `&` (WebSub 5.1.1: the
    callback's parameters are kept, even those named like ours)."""
    query = urlencode(list(params))
    if not query:
        return url
    if "?" not in url:
        return f"{url}?{query}"
    return url + query if url.endswith(("?", "&")) else f"{url}&{query}"


def _clean_callback(raw: str, settings: Settings) -> str:
    callback = decode_unreserved(raw.strip())
    try:
        parts = urlsplit(callback)
    except ValueError as exc:
        raise HubError(f"hub.callback is not a valid URL: {exc}") from None
    if parts.fragment or callback.endswith("#"):
        callback = urlunsplit(parts._replace(fragment=""))
    if len(callback) > MAX_URL:
        raise HubError(f"hub.callback is longer than {MAX_URL} characters")
    try:
        try:
            check_url(callback, settings, resolve_timeout=RESOLVE_TIMEOUT)
        except ResolveTimedOut:
            # POST /hub is public: a callback host whose DNS never answers must not hold the
            # request. Accepted; verification checks the URL again (with DNS) before any GET.
            check_url(callback, settings, resolve=False)
    except UnsafeURL as exc:
        raise HubError(f"hub.callback refused: {exc}") from None
    return callback


def lease_for(settings: Settings, requested: int | None) -> int:
    """The lease the hub grants: the request clamped to [websub_lease_min, websub_lease_max],
    websub_lease_default when none was asked for."""
    if requested is None:
        return settings.websub_lease_default
    return max(settings.websub_lease_min, min(settings.websub_lease_max, requested))


# --- the request --------------------------------------------------------------------------------


def _form(content_type: str | None, body: bytes) -> list[tuple[str, str]]:
    mimetype, _, rest = (content_type or "").partition(";")
    if mimetype.strip().lower() != FORM:
        raise HubError(f"Content-Type must be {FORM}, got {mimetype.strip() or 'none'}", status=415)
    for param in rest.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise HubError(f"the request must be UTF-8, got charset={value.strip()}")
    try:
        return parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise HubError("the request body is not UTF-8") from None
    except ValueError:
        raise HubError(f"more than {MAX_FIELDS} parameters") from None


def _one(params: dict[str, list[str]], name: str, *, required: bool) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise HubError(f"{name} given {len(values)} times; give it once")
    value = values[0] if values else None
    if required and not value:
        raise HubError(f"{name} is required")
    return value


def _topic(settings: Settings, raw: str, name: str) -> tuple[str, str, str]:
    given = decode_unreserved(raw.strip())
    if len(given) > MAX_URL:
        raise HubError(f"{name} is longer than {MAX_URL} characters")
    parsed = parse_topic(settings, given)
    if parsed is None:
        raise HubError(
            f"{name} {given!r} is not a topic of this hub: topics are "
            f"{settings.base_url}/feeds/<channel>.<rss|atom|json>"
        )
    return given, parsed[0], parsed[1]


def parse_request(content_type: str | None, body: bytes, settings: Settings) -> HubRequest:
    """Check a `POST /hub` request; HubError (400 malformed or refused, 415 not a form) says
    why not. The callback is checked against the outgoing-URL rules here (with DNS)."""
    params: dict[str, list[str]] = {}
    for key, value in _form(content_type, body):
        params.setdefault(key, []).append(value)
    mode = _one(params, "hub.mode", required=True)
    if mode not in MODES:
        raise HubError(f"hub.mode must be subscribe, unsubscribe or publish, got {mode!r}")
    if mode == "publish":
        raw = [u for u in params.get("hub.url", []) + params.get("hub.topic", []) if u]
        if not raw:
            raise HubError("hub.url (or hub.topic) is required with hub.mode=publish")
        return HubRequest(mode, tuple(_topic(settings, u, "hub.url") for u in raw))
    topic = _topic(settings, _one(params, "hub.topic", required=True) or "", "hub.topic")
    callback_raw = _one(params, "hub.callback", required=True) or ""
    if mode == "unsubscribe":  # hub.lease_seconds and hub.secret are ignored
        return HubRequest(mode, (topic,), _clean_callback(callback_raw, settings))
    raw_lease = _one(params, "hub.lease_seconds", required=False)
    requested = None
    if raw_lease is not None:
        if not re.fullmatch(r"[0-9]{1,12}", raw_lease.strip()) or int(raw_lease) <= 0:
            raise HubError(
                f"hub.lease_seconds must be a positive whole number of seconds, got {raw_lease!r}"
            )
        requested = int(raw_lease)
    secret = _one(params, "hub.secret", required=False)
    if secret is not None and len(secret.encode("utf-8")) >= MAX_SECRET_BYTES:
        raise HubError(f"hub.secret must be less than {MAX_SECRET_BYTES} bytes")
    return HubRequest(
        mode,
        (topic,),
        _clean_callback(callback_raw, settings),
        lease_for(settings, requested),
        secret or None,
    )


def _channel_for(session: Session, slug: str, fmt: str) -> Channel | None:
    channel = session.scalars(select(Channel).where(Channel.slug == slug)).one_or_none()
    if channel is None or fmt not in (channel.formats or []):
        return None
    return channel


def _topic_gone_reason(slug: str, fmt: str, session: Session) -> str:
    exists = session.scalar(select(Channel.id).where(Channel.slug == slug)) is not None
    return f"channel {slug!r} does not publish {fmt}" if exists else f"no channel {slug!r}"


def _same_topic(settings: Settings, topic: str, slug: str, fmt: str) -> bool:
    return parse_topic(settings, topic) == (slug, fmt)


def accept(session: Session, settings: Settings, req: HubRequest, now: datetime) -> list[int]:
    """Record a checked request (in the caller's transaction). Subscribe / unsubscribe: a
    pending intent, superseding the pending ones of the same (topic, callback); returns [its
    id]. Publish: queue the topics' notifications; returns the channel ids. HubError 404 when a
    topic's channel does not exist or does not publish that format."""
    channels: list[int] = []
    for given, slug, fmt in req.topics:
        channel = _channel_for(session, slug, fmt)
        if channel is None:
            raise HubError(f"unknown topic {given}: {_topic_gone_reason(slug, fmt, session)}", 404)
        if channel.id not in channels:
            channels.append(channel.id)
    if req.mode == "publish":
        for channel_id in channels:
            _notify(session, channel_id, now)
        return channels
    given, slug, fmt = req.topics[0]
    for older in session.scalars(
        select(HubIntent).where(HubIntent.status == "pending", HubIntent.callback == req.callback)
    ):
        if _same_topic(settings, older.topic, slug, fmt):
            older.status = "failed"
            older.error = "superseded by a newer request for the same topic and callback"
            older.decided_at = now
            older.lease_until = None
    intent = HubIntent(
        mode=req.mode,
        topic=given,
        callback=req.callback,
        secret=req.secret,
        lease_seconds=req.lease_seconds,
        challenge=secrets.token_urlsafe(32),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(intent)
    session.flush()
    return [intent.id]


def _notify(session: Session, channel_id: int, now: datetime) -> None:
    """hub.mode=publish: the distribution side queues the topic's notifications."""
    from syndication.push.websub_notify import topic_changed

    topic_changed(session, channel_id, now)


# --- subscriptions ------------------------------------------------------------------------------


def find_subscription(
    session: Session, settings: Settings, slug: str, fmt: str, callback: str
) -> Subscriber | None:
    """THE subscription of (topic, callback), active or not (oldest row if ever several)."""
    return session.scalars(
        select(Subscriber)
        .where(
            Subscriber.kind == KIND,
            Subscriber.topic == topic_url(settings, slug, fmt),
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
        .values(status="cancelled", next_attempt_at=None, lease_until=None, last_error=reason)
    )


def _end(session: Session, subs: list[Subscriber], reason: str, now: datetime) -> None:
    for sub in subs:
        sub.active = False
        sub.disabled_reason = reason
        if sub.lease_expires_at is None or sub.lease_expires_at > now:
            sub.lease_expires_at = now
    _cancel_queued(session, [s.id for s in subs], reason, now)


def _subscribe(
    session: Session,
    settings: Settings,
    intent: HubIntent,
    slug: str,
    fmt: str,
    sent_at: datetime,
    now: datetime,
) -> Subscriber:
    sub = find_subscription(session, settings, slug, fmt, intent.callback)
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
    lease = intent.lease_seconds or settings.websub_lease_default
    sub.secret = intent.secret or ""
    sub.previous_secret = None
    sub.previous_secret_until = None
    sub.channels = [slug]
    sub.topic = topic_url(settings, slug, fmt)
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
    session: Session, settings: Settings, intent: HubIntent, slug: str, fmt: str, now: datetime
) -> None:
    subs = list(
        session.scalars(
            select(Subscriber).where(
                Subscriber.kind == KIND,
                Subscriber.topic == topic_url(settings, slug, fmt),
                Subscriber.url == intent.callback,
            )
        )
    )
    _end(session, [s for s in subs if s.active], "unsubscribed", now)


# --- verification of intent (the scheduler job) ------------------------------------------------


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


def _claim(db: Database, settings: Settings, now: datetime) -> tuple[list[_Check], list[_Denial]]:
    """Lease the due pending intents: each gets a fresh challenge. A subscribe whose topic is
    gone is denied here (decided, and its denial notice to send)."""
    with db.write() as session:
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
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        checks: list[_Check] = []
        denials: list[_Denial] = []
        claim = now + timedelta(seconds=settings.lease_seconds)
        for intent in session.scalars(query).all():
            parsed = parse_topic(settings, intent.topic)
            channel = _channel_for(session, *parsed) if parsed else None
            if intent.mode == "subscribe" and channel is None:
                reason = (
                    f"topic no longer exists ({_topic_gone_reason(*parsed, session)})"
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


def _get(http: requests.Session, url: str, settings: Settings) -> requests.Response:
    check_url(url, settings)  # again, with DNS, right before the request
    return http.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True)


def _verify(http: requests.Session, settings: Settings, check: _Check) -> _Check:
    params = [("hub.mode", check.mode), ("hub.topic", check.topic)]
    params.append(("hub.challenge", check.challenge))
    if check.mode == "subscribe":
        params.append(("hub.lease_seconds", str(check.lease_seconds)))
    check.sent_at = utcnow()
    try:
        response = _get(http, with_params(check.callback, params), settings)
    except UnsafeURL as exc:
        check.error = f"callback refused: {exc}"
        return check
    except requests.RequestException as exc:
        check.error = f"no answer: {type(exc).__name__}: {exc}"[:1000]
        check.retry = True
        return check
    try:
        body = response.raw.read(MAX_READ + 1, decode_content=True) or b""
    except Exception as exc:  # noqa: BLE001 - any failure to read the answer
        body = b""
        check.error = f"reading the answer failed: {exc}"[:1000]
    finally:
        response.close()
    if not 200 <= response.status_code < 300:
        check.error = f"callback answered {response.status_code}"
    elif body != check.challenge.encode("ascii"):
        check.error = (
            f"callback answered {response.status_code} without echoing the challenge "
            f"(body {body[:80]!r})"
        )
    else:
        check.ok = True
        check.error = None
    return check


def _record(db: Database, settings: Settings, check: _Check, now: datetime) -> str:
    """Apply one verification's outcome; returns the intent's new status."""
    with db.write() as session:
        intent = session.get(HubIntent, check.intent_id)
        if intent is None or intent.status != "pending" or intent.lease_until != check.claim:
            return "superseded"  # a newer request took over, or the claim expired meanwhile
        intent.lease_until = None
        if check.ok:
            if check.mode == "subscribe":
                _subscribe(
                    session, settings, intent, check.slug, check.fmt, check.sent_at or now, now
                )
            else:
                _unsubscribe(session, settings, intent, check.slug, check.fmt, now)
            intent.status = "verified"
            intent.error = None
            intent.decided_at = now
        elif check.retry and intent.attempts < MAX_ATTEMPTS:
            delays = settings.retry_delays
            delay = delays[min(intent.attempts, len(delays)) - 1]
            intent.next_attempt_at = now + timedelta(seconds=delay)
            intent.error = check.error
        else:
            intent.status = "failed"
            intent.error = check.error
            intent.decided_at = now
        return intent.status


def _deny(http: requests.Session, settings: Settings, denial: _Denial) -> _Denial:
    """GET <callback>?…&hub.mode=denied&hub.topic=…&hub.reason=… once; the outcome is only
    noted (the subscriber may not care)."""
    params = [("hub.mode", "denied"), ("hub.topic", denial.topic), ("hub.reason", denial.reason)]
    try:
        response = _get(http, with_params(denial.callback, params), settings)
        response.close()
        denial.result = f"denial notice answered {response.status_code}"
    except UnsafeURL as exc:
        denial.result = f"denial notice not sent: {exc}"
    except requests.RequestException as exc:
        denial.result = f"denial notice failed: {type(exc).__name__}"
    return denial


def _session() -> requests.Session:
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    http.trust_env = False  # no proxies from the environment for subscriber callbacks
    return http


def send_denials(db: Database, settings: Settings, denials: list[_Denial]) -> None:
    if not denials:
        return
    with _session() as http, ThreadPoolExecutor(_workers(settings, denials)) as pool:
        done = list(pool.map(lambda d: _deny(http, settings, d), denials))
    noted = [d for d in done if d.intent_id is not None]
    if noted:
        with db.write() as session:
            for d in noted:
                intent = session.get(HubIntent, d.intent_id)
                if intent is not None:
                    intent.error = f"{intent.error}; {d.result}"[:1000]
    for d in done:
        log.info("websub denial to %s (%s): %s", d.callback, d.reason, d.result)


def _workers(settings: Settings, items: list) -> int:
    return max(1, min(len(items), settings.push_concurrency))


def verify_intents(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """The scheduler job: verify every due pending intent (rounds of BATCH); returns how many
    were decided or rescheduled, denials included."""
    done = 0
    while True:
        checks, denials = _claim(db, settings, now or utcnow())
        send_denials(db, settings, denials)
        if checks:
            with _session() as http, ThreadPoolExecutor(_workers(settings, checks)) as pool:
                results = list(pool.map(lambda c: _verify(http, settings, c), checks))
            for check in results:
                status = _record(db, settings, check, now or utcnow())
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


# --- lease expiry (the scheduler job) -----------------------------------------------------------


def expire_leases(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """The scheduler job: end the subscriptions whose lease has passed (no denial: see the
    module docstring) and those whose topic is gone (with a denial); delete intents decided
    more than INTENT_KEEP ago. Returns how many subscriptions ended."""
    now = now or utcnow()
    denials: list[_Denial] = []
    with db.write() as session:
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
        _end(session, expired, "lease expired", now)
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
            parsed = parse_topic(settings, topic)
            if parsed is None:
                gone[topic] = "not a topic of this hub"
            elif _channel_for(session, *parsed) is None:
                gone[topic] = f"topic no longer exists ({_topic_gone_reason(*parsed, session)})"
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
            _end(session, subs, reason, now)
            denials += [_Denial(s.url, topic, reason) for s in subs]
            ended += len(subs)
    send_denials(db, settings, denials)
    return ended
