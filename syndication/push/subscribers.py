"""Partner webhook subscribers and their deliveries: validation, storage, secrets, the delivery
log, replay and recovery. No HTTP here: the API, the CLI and the web admin call these.

Sending is the delivery engine's (push/queue.py expands events into deliveries through the
transmitters, push/engine.py sends due ones); this module only writes rows that the engine then
picks up: a replayed or recovered delivery is `pending` and due now, a test ping is an already
dispatched `ping` event with one delivery. A disabled subscriber's events are recorded as
`skipped` deliveries (push/webhooks/transmitter.py), which `recover` sends later, in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from syndication import validation as v
from syndication.channels.service import clean_filter
from syndication.config import Settings
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.filters import KINDS
from syndication.models import Channel, Delivery, DeliveryAttempt, Event, Story, Subscriber
from syndication.outbound import DNSFailure, ResolveTimedOut, UnsafeURL
from syndication.push import wake
from syndication.push.outbox import EVENT_TYPES, KILLED
from syndication.push.queue import AVAILABLE, SKIPPED, delivery_row
from syndication.push.webhooks.payloads import FORMATTERS
from syndication.push.webhooks.signing import generate_secret
from syndication.validation import iso

PING = "ping"
FORMATS = tuple(FORMATTERS)
STATUSES = ("pending", "delivered", "dead", "cancelled", SKIPPED, AVAILABLE)
WEBHOOK, PULL = "webhook", "pull"
# webhook: the service POSTs to the partner's URL; pull: the partner fetches its events from
# the pull API (push/pull.py), with no URL, secret, headers or throttle.
SUBSCRIBER_KINDS = (WEBHOOK, PULL)
# What a pull subscriber has no use for: refused if given a value.
_NOT_PULL = ("url", "headers", "throttle")
# What recover() sends again: given up on, cancelled, or skipped while the subscriber was
# disabled.
RECOVERABLE = ("dead", "cancelled", SKIPPED)
# How a URL the service will call is checked: the outbound client's check_sync (strict reading,
# DNS, the private-range rules); it returns the URL as the client reads it (host in A-labels).
CheckURL = Callable[..., Any]
FIELDS = (
    "kind",
    "name",
    "url",
    "event_types",
    "channels",
    "filter",
    "format",
    "headers",
    "throttle",
    "receives_embargoed",
)
MAX_HEADERS = 20
MAX_HEADER_VALUE = 1000  # characters
MAX_THROTTLE = 1000.0
MAX_ID = 2**31  # ids beyond an int4 are not ours (and would overflow the driver)
HEALTH_WINDOW = 100  # attempts the success rate is computed over
# RFC 9110 token characters: what a header name may be made of.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
# Set by the signature, the body or the connection: a subscriber may not override them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "host",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)


# --- validation -------------------------------------------------------------------------------


def _name(value: Any) -> str:
    return v.text(value, max_len=200, required=True)


def _url(value: Any) -> str:
    url = v.http_url(value, required=True)
    assert url is not None  # noqa: S101 - required=True
    return url


def _event_types(value: Any) -> list[str]:
    if value is None or value == []:
        return list(EVENT_TYPES)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError("must be a list of event types")
    unknown = [x for x in value if x not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; use {', '.join(EVENT_TYPES)}")
    return [t for t in EVENT_TYPES if t in value]


def _receives_embargoed(value: Any) -> bool:
    """Strictly a boolean (null: the default, false): "yes" or 1 is a mistake, not a grant."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _slugs(value: Any) -> list[str]:
    slugs = v.string_list(value, max_items=200, max_len=100)
    return slugs


def _format(value: Any) -> str:
    if value in (None, ""):
        return "json"
    if value not in FORMATS:
        raise ValueError(f"must be one of {', '.join(FORMATS)}")
    return str(value)


def _headers(value: Any, errors: v.FieldErrors) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.errors["headers"] = "must be an object of header names to values"
        return {}
    if len(value) > MAX_HEADERS:
        errors.errors["headers"] = f"must have at most {MAX_HEADERS} headers"
        return {}
    out: dict[str, str] = {}
    seen: set[str] = set()
    for name, raw in value.items():
        key = f"headers.{name}"
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            errors.errors[key] = "is not a valid header name (letters, digits, -, …)"
            continue
        lower = name.lower()
        if lower in RESERVED_HEADERS or lower.startswith("webhook-"):
            errors.errors[key] = "is set by the service and cannot be overridden"
            continue
        if lower in seen:
            errors.errors[key] = "is given twice"
            continue
        if not isinstance(raw, str):
            errors.errors[key] = "must be a string"
            continue
        if len(raw) > MAX_HEADER_VALUE:
            errors.errors[key] = f"must be at most {MAX_HEADER_VALUE} characters"
            continue
        try:
            out[name] = v.http_field_value(raw)
        except ValueError as exc:
            errors.errors[key] = str(exc)
            continue
        seen.add(lower)
    return out


def _throttle(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number (deliveries per second)")
    number = float(value)
    if not 0 < number <= MAX_THROTTLE:
        raise ValueError(f"must be greater than 0 and at most {MAX_THROTTLE:g}")
    return number


def _kind(value: Any) -> str:
    if value in (None, ""):
        return WEBHOOK
    if value not in SUBSCRIBER_KINDS:
        raise ValueError(f"must be one of {', '.join(SUBSCRIBER_KINDS)}")
    return str(value)


def clean_subscriber(
    data: Any,
    *,
    partial: bool = False,
    check_url: CheckURL | None = None,
    session: Session | None = None,
    warnings: list[str] | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """The fields of a subscriber, cleaned; ValidationError names every bad field.

    With `check_url` the URL is checked as the engine will call it (read strictly; https, or a
    host of `outbound_allow`; no private, loopback or link-local address after DNS unless
    allowed) and stored as the client reads it; a host that does not resolve (yet) is accepted,
    with a line appended to `warnings`; with `session` channel slugs must exist.
    `channels` and `filter` are alternatives.

    `kind` (a field on creation, `kind` of the subscriber changed otherwise) "pull": no URL,
    headers or throttle (the partner fetches its events); the URL is stored empty."""
    if not isinstance(data, Mapping):
        raise ValidationError({"": "a subscriber must be a JSON object"})
    errors = v.FieldErrors()
    out: dict[str, Any] = {}
    for key in data:
        if key not in FIELDS:
            errors.errors[str(key)] = "unknown field"
    if partial and "kind" in data:
        if data["kind"] != kind:
            errors.errors["kind"] = "cannot be changed: create another subscriber"
        data = {k: x for k, x in data.items() if k != "kind"}
    elif not partial:
        kind = errors.check("kind", _kind, data.get("kind"))
        out["kind"] = kind
    if kind == PULL:
        for key in _NOT_PULL:
            # No URL (an empty form field is none; null is not), headers and throttle at most
            # reset to their default.
            allowed = ("",) if key == "url" else (None, {})
            if key in data and data[key] not in allowed:
                errors.errors[key] = "a pull subscriber has none: its partner fetches its events"
        data = {k: x for k, x in data.items() if k not in _NOT_PULL}
        if not partial:
            out["url"] = ""
    checks = {
        "name": _name,
        "url": _url,
        "event_types": _event_types,
        "channels": _slugs,
        "format": _format,
        "throttle": _throttle,
        "receives_embargoed": _receives_embargoed,
    }
    required = ("name",) if kind == PULL else ("name", "url")
    for key, check in checks.items():
        if key in data or (not partial and key in required):
            out[key] = errors.check(key, check, data.get(key))
    if "filter" in data:
        out["filter"] = clean_filter(data["filter"], errors)
    if "headers" in data:
        out["headers"] = _headers(data["headers"], errors)
    if out.get("channels") and out.get("filter"):
        errors.errors["channels"] = "give either channels or a filter, not both"
    if check_url is not None and out.get("url") and "url" not in errors.errors:
        try:
            out["url"] = check_url(out["url"]).url
        except (DNSFailure, ResolveTimedOut) as exc:
            # A partner often registers its endpoint before its name is in the DNS. Accepted
            # with a warning: the outbound client resolves and judges the host again before
            # every send, so a name that later points at a private address is still refused.
            try:
                out["url"] = check_url(out["url"], resolve=False).url
            except UnsafeURL as refused:
                errors.errors["url"] = str(refused)
            else:
                if warnings is not None:
                    warnings.append(
                        f"url: {exc}; accepted: the host is looked up and checked again "
                        "before every delivery"
                    )
        except UnsafeURL as exc:
            errors.errors["url"] = str(exc)
    if session is not None and out.get("channels"):
        known = set(session.scalars(select(Channel.slug).where(Channel.slug.in_(out["channels"]))))
        missing = [s for s in out["channels"] if s not in known]
        if missing:
            errors.errors["channels"] = f"no channel {missing[0]!r}"
    if errors.errors:
        raise ValidationError(errors.errors)
    return out


# --- subscribers ------------------------------------------------------------------------------


def create_subscriber(
    session: Session,
    check_url: CheckURL | None,
    data: Any,
    now: datetime,
    warnings: list[str] | None = None,
) -> tuple[Subscriber, str | None]:
    """A new, active subscriber and its secret (`whsec_…`, None for a pull subscriber), which
    is shown this once; what is accepted but doubtful (a host not in the DNS yet) is appended
    to `warnings`."""
    fields = clean_subscriber(data, check_url=check_url, session=session, warnings=warnings)
    kind = fields.pop("kind")
    fields.setdefault("event_types", list(EVENT_TYPES))
    fields.setdefault("channels", [])
    fields.setdefault("filter", {})
    fields.setdefault("format", "json")
    fields.setdefault("headers", {})
    fields.setdefault("throttle", None)
    fields.setdefault("receives_embargoed", False)
    secret = generate_secret() if kind == WEBHOOK else None
    subscriber = Subscriber(kind=kind, secret=secret or "", active=True, created_at=now, **fields)
    session.add(subscriber)
    session.flush()
    return subscriber, secret


def list_subscribers(session: Session) -> list[Subscriber]:
    return list(
        session.scalars(
            select(Subscriber).where(Subscriber.kind.in_(SUBSCRIBER_KINDS)).order_by(Subscriber.id)
        )
    )


def get_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id) if 0 < subscriber_id < MAX_ID else None
    if subscriber is None or subscriber.kind not in SUBSCRIBER_KINDS:
        raise NotFound(f"no subscriber {subscriber_id}")
    return subscriber


def update_subscriber(
    session: Session,
    check_url: CheckURL | None,
    subscriber_id: int,
    data: Any,
    warnings: list[str] | None = None,
) -> Subscriber:
    """Change the fields given; `null` resets a field to its default (warnings as in
    create_subscriber)."""
    found = session.get(Subscriber, subscriber_id) if 0 < subscriber_id < MAX_ID else None
    fields = clean_subscriber(
        data,
        partial=True,
        check_url=check_url,
        session=session,
        warnings=warnings,
        kind=found.kind if found is not None else None,
    )
    subscriber = get_subscriber(session, subscriber_id)
    channels = fields.get("channels", subscriber.channels)
    filter_ = fields.get("filter", subscriber.filter)
    if channels and filter_:
        which = "channels" if "channels" in fields else "filter"
        raise ValidationError({which: "give either channels or a filter, not both"})
    for key, value in fields.items():
        setattr(subscriber, key, value)
    return subscriber


def delete_subscriber(session: Session, subscriber_id: int) -> None:
    """Delete a subscriber with its deliveries and their log (cascade)."""
    subscriber = get_subscriber(session, subscriber_id)
    ids = select(Delivery.id).where(Delivery.subscriber_id == subscriber.id)
    session.execute(DeliveryAttempt.__table__.delete().where(DeliveryAttempt.delivery_id.in_(ids)))
    session.execute(Delivery.__table__.delete().where(Delivery.subscriber_id == subscriber.id))
    session.delete(subscriber)


def rotate_secret(session: Session, settings: Settings, subscriber_id: int, now: datetime) -> str:
    """A new secret; the old one still signs (a second signature) for `secret_overlap` s."""
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber.kind == PULL:
        raise Conflict(
            f"subscriber {subscriber_id} is a pull subscriber: it has no secret",
            {"kind": "pull: no secret"},
        )
    subscriber.previous_secret = subscriber.secret
    subscriber.previous_secret_until = now + timedelta(seconds=settings.secret_overlap)
    subscriber.secret = generate_secret()
    return subscriber.secret


def disable(session: Session, subscriber_id: int, reason: str | None = None) -> Subscriber:
    """Stop sending to a subscriber: its pending deliveries wait, and events that come while
    it is disabled are recorded as skipped; recover() sends them later."""
    subscriber = get_subscriber(session, subscriber_id)
    subscriber.active = False
    subscriber.disabled_reason = (v.optional_text(reason, max_len=500) if reason else None) or (
        "disabled by an administrator"
    )
    return subscriber


def enable(session: Session, subscriber_id: int) -> Subscriber:
    """Send to a subscriber again; its run of failures starts afresh."""
    subscriber = get_subscriber(session, subscriber_id)
    subscriber.active = True
    subscriber.disabled_reason = None
    subscriber.failing_since = None
    return subscriber


def subscriber_to_dict(subscriber: Subscriber) -> dict[str, Any]:
    """A subscriber as the API shows it: never its secret."""
    return {
        "id": subscriber.id,
        "kind": subscriber.kind,
        "name": subscriber.name,
        "url": subscriber.url or None,
        "event_types": list(subscriber.event_types or EVENT_TYPES),
        "channels": list(subscriber.channels or []),
        "filter": {k: list(x) for k, x in (subscriber.filter or {}).items() if k in KINDS},
        "format": subscriber.format,
        "headers": dict(subscriber.headers or {}),
        "throttle": subscriber.throttle,
        "receives_embargoed": bool(subscriber.receives_embargoed),
        "partner_id": subscriber.partner_id,
        "active": subscriber.active,
        "disabled_reason": subscriber.disabled_reason,
        "previous_secret_until": iso(subscriber.previous_secret_until),
        "created_at": iso(subscriber.created_at),
        "last_success_at": iso(subscriber.last_success_at),
        "failing_since": iso(subscriber.failing_since),
    }


# --- deliveries -------------------------------------------------------------------------------


def send_test(session: Session, subscriber_id: int, now: datetime) -> Delivery:
    """Queue a `ping` to one subscriber: an event already dispatched (to it alone) and its
    delivery, due now. Its data is {"message": "test", "subscriber": id}."""
    subscriber = get_subscriber(session, subscriber_id)
    event = Event(
        type=PING,
        story_id=None,
        story_code="",
        snapshot={"message": "test", "subscriber": subscriber.id},
        terms=[],
        created_at=now,
        dispatched_at=now,  # never expanded to the other subscribers
    )
    session.add(event)
    session.flush()
    delivery = Delivery(
        **delivery_row(event.id, subscriber.id, now, available=subscriber.kind == PULL)
    )
    session.add(delivery)
    session.flush()
    wake.mark(session)
    return delivery


def get_delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id) if 0 < delivery_id < MAX_ID else None
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery


def _requeue(delivery: Delivery, pull: bool, now: datetime) -> None:
    # Same message id; a fresh run of the retry schedule (attempts restart at 0); the log of
    # earlier attempts stays. A pull subscriber's is available again, in no page: its partner
    # gets it in its next one.
    delivery.status = AVAILABLE if pull else "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = None if pull else now
    delivery.lease_until = None
    delivery.pull_page = None
    # A request of an older claim still on the wire can no longer decide this delivery.
    delivery.claim_token = None


def _before_a_kill() -> Any:
    """Deliveries of events that a takedown superseded (stories/kill.py): the story's events
    before its `story.killed`, whose payloads are the tombstone now. Never sent again."""
    return Delivery.event_id.in_(
        select(Event.id)
        .join(Story, Story.id == Event.story_id)
        .where(Story.status == "killed", Event.type != KILLED)
    )


def replay_delivery(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """Send a delivery again, whatever its state, with the same `webhook-id` (a pull
    subscriber's is available again: its partner gets it in its next page)."""
    delivery = get_delivery(session, delivery_id)
    if session.scalar(select(Delivery.id).where(Delivery.id == delivery_id, _before_a_kill())):
        raise Conflict(
            f"delivery {delivery_id} is of a story since killed: its story.killed replaces it",
            {"status": "story killed"},
        )
    kind = session.scalar(select(Subscriber.kind).where(Subscriber.id == delivery.subscriber_id))
    _requeue(delivery, kind == PULL, now)
    wake.mark(session)
    return delivery


def recover(
    session: Session,
    subscriber_id: int,
    since: datetime,
    until: datetime | None,
    now: datetime,
) -> int:
    """Queue again a subscriber's dead, cancelled and skipped deliveries created in
    [since, until) (until: now when None), in the order they were created (the claim's order);
    pending ones that are failing are made due now. Each keeps its message id. Returns how
    many. Only what `delivery_retention` still keeps can be recovered. An empty window (until
    at or before since) recovers nothing: not an error, as no JSON Schema can say it is one
    and the API's document must accept what the service does."""
    errors: dict[str, str] = {}
    since = _when("since", since, errors)
    until = _when("until", until, errors) if until is not None else now
    if errors:
        raise ValidationError(errors)
    pull = get_subscriber(session, subscriber_id).kind == PULL
    window = and_(
        Delivery.subscriber_id == subscriber_id,
        Delivery.created_at >= since,
        Delivery.created_at < until,
    )
    count = 0
    result = session.execute(
        update(Delivery)
        .where(window, Delivery.status.in_(RECOVERABLE), ~_before_a_kill())
        .values(
            status=AVAILABLE if pull else "pending",
            attempts=0,
            next_attempt_at=None if pull else now,
            lease_until=None,
            claim_token=None,
            pull_page=None,
        )
        .execution_options(synchronize_session=False)
    )
    count += result.rowcount or 0
    result = session.execute(
        update(Delivery)
        .where(
            window,
            Delivery.status == "pending",
            Delivery.attempts > 0,
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    count += result.rowcount or 0
    if count:
        wake.mark(session)
    return count


def _when(name: str, value: Any, errors: dict[str, str]) -> Any:
    try:
        parsed = v.aware_datetime(value)
    except ValueError as exc:
        errors[name] = str(exc)
        return None
    if parsed is None:
        errors[name] = "is required"
    return parsed


LIST_FILTERS = ("subscriber", "status", "event", "event_type", "since", "until")


def list_deliveries(
    session: Session,
    filters: Mapping[str, Any],
    *,
    limit: int = 50,
    after: int | None = None,
) -> tuple[list[tuple[Delivery, Event]], int | None]:
    """Deliveries newest first with their events, filtered (subscriber id, status, event id,
    event_type, since/until on creation time); returns the page and the cursor of the next
    one (None on the last)."""
    errors: dict[str, str] = {}
    query = select(Delivery, Event).join(Event, Event.id == Delivery.event_id)
    if filters.get("subscriber") is not None:
        query = query.where(Delivery.subscriber_id == int(filters["subscriber"]))
    status = filters.get("status")
    if status:
        if status not in STATUSES:
            errors["status"] = f"must be one of {', '.join(STATUSES)}"
        query = query.where(Delivery.status == status)
    if filters.get("event") is not None:
        query = query.where(Delivery.event_id == int(filters["event"]))
    if filters.get("event_type"):
        query = query.where(Event.type == filters["event_type"])
    for name, op in (("since", "ge"), ("until", "lt")):
        if filters.get(name) is not None:
            when = _when(name, filters[name], errors)
            if when is not None:
                column = Delivery.created_at
                query = query.where(column >= when if op == "ge" else column < when)
    if errors:
        raise ValidationError(errors)
    if after is not None:
        query = query.where(Delivery.id < after)
    rows = list(session.execute(query.order_by(Delivery.id.desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return [(d, e) for d, e in rows], (rows[-1][0].id if more and rows else None)


def delivery_attempts(session: Session, delivery_id: int) -> list[DeliveryAttempt]:
    return list(
        session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery_id)
            .order_by(DeliveryAttempt.at, DeliveryAttempt.id)
        )
    )


def attempt_to_dict(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "at": iso(attempt.at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
    }


def delivery_to_dict(
    delivery: Delivery, event: Event, attempts: list[DeliveryAttempt] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": delivery.id,
        "subscriber_id": delivery.subscriber_id,
        "event_id": delivery.event_id,
        "event_type": event.type,
        "story_code": event.story_code or None,
        "message_id": delivery.message_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
    }
    if attempts is not None:
        body["log"] = [attempt_to_dict(a) for a in attempts]
    return body


def delivery_detail(session: Session, delivery_id: int) -> dict[str, Any]:
    delivery = get_delivery(session, delivery_id)
    event = session.get(Event, delivery.event_id)
    assert event is not None  # noqa: S101 - foreign key
    return delivery_to_dict(delivery, event, delivery_attempts(session, delivery.id))


# --- health -----------------------------------------------------------------------------------


def _ok(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def subscriber_health(session: Session, subscriber_id: int) -> dict[str, Any]:
    """How a subscriber is doing: success rate over its last HEALTH_WINDOW attempts (None
    before any), last success, last error, and its pending, dead, delivered and skipped
    deliveries (skipped: events that came while it was disabled, for `recover`)."""
    subscriber = get_subscriber(session, subscriber_id)
    recent = list(
        session.execute(
            select(DeliveryAttempt.at, DeliveryAttempt.status_code, DeliveryAttempt.error)
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .where(Delivery.subscriber_id == subscriber.id)
            .order_by(DeliveryAttempt.at.desc(), DeliveryAttempt.id.desc())
            .limit(HEALTH_WINDOW)
        ).all()
    )
    successes = sum(1 for _, code, _ in recent if _ok(code))
    last_success = subscriber.last_success_at
    if last_success is None:
        last_success = next((at for at, code, _ in recent if _ok(code)), None)
    last_error = None
    failed = next(((at, code, err) for at, code, err in recent if not _ok(code)), None)
    if failed is not None:
        at, code, err = failed
        last_error = {
            "at": iso(at),
            "status_code": code,
            "error": err or (f"HTTP {code}" if code is not None else "failed"),
        }
    counts: dict[str, int] = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.subscriber_id == subscriber.id)
            .group_by(Delivery.status)
        ).all()
    )
    return {
        "attempts": len(recent),
        "success_rate": round(successes / len(recent), 4) if recent else None,
        "last_success_at": iso(last_success),
        "last_error": last_error,
        "pending": int(counts.get("pending", 0)),
        "dead": int(counts.get("dead", 0)),
        "delivered": int(counts.get("delivered", 0)),
        "skipped": int(counts.get(SKIPPED, 0)),
        "available": int(counts.get(AVAILABLE, 0)),
    }
