"""The WebSub hub, subscribing side (W3C WebSub Recommendation, sections 5 and 6).

`POST /hub` (push/websub/routes.py) parses and checks a request here (`parse_request`, no
database, no HTTP to the subscriber) and records it (`accept`): a subscribe / unsubscribe
becomes a pending `HubIntent`, answered 202; nothing changes for the subscriber yet. A publish
names one of our topics and queues its notifications (`transmitter.topic_changed`), only when
the topic changed since its last distribution. Verification of intent happens afterwards, in
the scheduler (push/websub/verify.py).

`/hub` is public, so it must not be turned into an amplifier: each client address may post
`hub_rate_limit` requests a minute (routes.py), and at most `hub_pending_per_host` intents
may wait for verification per callback host, so the hub cannot be made to flood one host with
verification requests.

Topics are this service's own feed URLs `<base_url>/feeds/<slug>.<fmt>` (the rel="self" of
each feed). The subscription stores the canonical one (`topic_url`); intents keep the topic as
the subscriber gave it (after decoding unreserved characters), which is what
verification and denial echo back.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import feeds
from syndication.channels.pages import feed_url
from syndication.config import Settings
from syndication.models import Channel, HubIntent
from syndication.outbound import ResolveTimedOut, Target, UnsafeURL
from syndication.push.websub.transmitter import topic_changed

MODES = ("subscribe", "unsubscribe", "publish")
FORM = "application/x-www-form-urlencoded"
MAX_URL = 2048  # the topic and callback columns
RESOLVE_TIMEOUT = 2.0  # seconds POST /hub waits for the callback host's DNS
MAX_SECRET_BYTES = 200  # hub.secret "MUST be less than 200 bytes"
MAX_FIELDS = 100
PENDING_RETRY_AFTER = 60  # seconds, for a callback host with too many pending verifications
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


class HubError(ValueError):
    """A request the hub refuses: `status` (4xx), a plain-text reason (str()), and for a 429
    the seconds to wait."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


# How a callback URL is checked: the outbound client's check_sync (strict reading, DNS, the
# private-range rules), given by the caller.
CheckURL = Callable[..., Target]


@dataclass(frozen=True)
class HubRequest:
    """A well-formed `POST /hub` (its topic not yet looked up)."""

    mode: str
    topics: tuple[tuple[str, str, str], ...]  # (as given, slug, fmt); one unless publish
    callback: str = ""
    callback_host: str = ""
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


def _clean_callback(raw: str, check: CheckURL) -> Target:
    """The callback as the outbound client reads it (strictly: the same reading as the
    connection will use; fragment dropped, host in A-labels), or HubError."""
    callback = decode_unreserved(raw.strip())
    if len(callback) > MAX_URL:
        raise HubError(f"hub.callback is longer than {MAX_URL} characters")
    try:
        try:
            target = check(callback, resolve_timeout=RESOLVE_TIMEOUT)
        except ResolveTimedOut:
            # POST /hub is public: a callback host whose DNS never answers must not hold the
            # request. Accepted; verification checks the URL again (with DNS) before any GET.
            target = check(callback, resolve=False)
    except UnsafeURL as exc:
        raise HubError(f"hub.callback refused: {exc}") from None
    if len(target.url) > MAX_URL:
        raise HubError(f"hub.callback is longer than {MAX_URL} characters")
    return target


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


def parse_request(
    content_type: str | None, body: bytes, settings: Settings, check: CheckURL
) -> HubRequest:
    """Check a `POST /hub` request; HubError (400 malformed or refused, 415 not a form) says
    why not. The callback is checked against the outgoing-URL rules here (`check`, with DNS)."""
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
        target = _clean_callback(callback_raw, check)
        return HubRequest(mode, (topic,), target.url, target.host)
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
    target = _clean_callback(callback_raw, check)
    return HubRequest(
        mode, (topic,), target.url, target.host, lease_for(settings, requested), secret or None
    )


def channel_for(session: Session, slug: str, fmt: str) -> Channel | None:
    channel = session.scalars(select(Channel).where(Channel.slug == slug)).one_or_none()
    if channel is None or fmt not in (channel.formats or []):
        return None
    return channel


def topic_gone_reason(slug: str, fmt: str, session: Session) -> str:
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
        channel = channel_for(session, slug, fmt)
        if channel is None:
            raise HubError(f"unknown topic {given}: {topic_gone_reason(slug, fmt, session)}", 404)
        if channel.id not in channels:
            channels.append(channel.id)
    if req.mode == "publish":
        for channel_id in channels:
            topic_changed(session, channel_id, now)
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
    session.flush()
    pending = session.scalar(
        select(func.count())
        .select_from(HubIntent)
        .where(HubIntent.status == "pending", HubIntent.callback_host == req.callback_host)
    )
    if pending >= settings.hub_pending_per_host:
        raise HubError(
            f"too many verifications are pending for callbacks on {req.callback_host} "
            f"({pending}); try again later",
            429,
            PENDING_RETRY_AFTER,
        )
    intent = HubIntent(
        mode=req.mode,
        topic=given,
        callback=req.callback,
        callback_host=req.callback_host,
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
