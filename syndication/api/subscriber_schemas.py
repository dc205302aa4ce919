"""Subscriber and delivery payloads of the API. Shapes here; the rules are
push.subscribers.clean_subscriber's."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.api.channel_schemas import FilterIn, FilterOut
from syndication.api.common import (
    DATE,
    MAX_ID,
    RawBody,
    cursor_field,
    http_url,
    not_blank,
    page_schema,
)
from syndication.push.outbox import EVENT_TYPES
from syndication.push.subscribers import FORMATS, MAX_THROTTLE, PING, STATUSES, SUBSCRIBER_KINDS
from syndication.push.websub.transmitter import PUBLISH as WEBSUB_PUBLISH

_URL = {"format": "uri"}
_DATE = DATE
# What a delivery's event can be: a story event, a test ping, a WebSub publish request.
DELIVERY_EVENT_TYPES = (*EVENT_TYPES, PING, WEBSUB_PUBLISH)


class SubscriberIn(RawBody):
    """A partner's webhook endpoint, or (kind `pull`) a partner's feed of the same events
    fetched from GET /api/v1/partner/events. `name` is required on creation, and `url` for a
    webhook; PATCH takes any subset (`null` resets a field to its default) but not another
    kind."""

    kind = f.String(
        allow_none=True,
        validate=validate.OneOf(SUBSCRIBER_KINDS),
        metadata={
            "description": "webhook (default): the service POSTs to `url`; pull: no url, "
            "headers or throttle, the partner (assign it one: `syndication partner assign`) "
            "fetches the events with a partner token"
        },
    )
    name = f.String(required=True, validate=[validate.Length(max=200), not_blank()])
    url = http_url(
        metadata={
            "description": "webhook: required; https (http only for hosts of "
            "`outbound_allow`); private, loopback and link-local addresses are refused. "
            "pull: none",
        },
    )
    event_types = f.List(
        f.String(validate=validate.OneOf(EVENT_TYPES)),
        allow_none=True,
        metadata={"description": "default: all of them"},
    )
    channels = f.List(
        f.String(),
        allow_none=True,
        metadata={"description": "channel slugs: stories of any of them (or give a filter)"},
    )
    filter = f.Nested(
        FilterIn,
        allow_none=True,
        metadata={"description": "as a channel's filter (or give channels); neither: all"},
    )
    format = f.String(
        allow_none=True,
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (the API story schema, default) or ninjs (IPTC 2.1)"},
    )
    headers = f.Dict(
        keys=f.String(),
        values=f.String(),
        allow_none=True,
        metadata={"description": "extra request headers (not webhook-*, content-type, host…)"},
    )
    throttle = f.Float(
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(0, MAX_THROTTLE, min_inclusive=False),
        # (apispec prints this Range as `minimum: 0`; the bound is exclusive)
        metadata={
            "exclusiveMinimum": 0,
            "description": "at most this many deliveries per second; null: no cap",
        },
    )
    receives_embargoed = f.Boolean(
        allow_none=True,
        truthy={True},
        falsy={False},
        metadata={
            "description": "a trusted partner: gets story.embargoed when a story is scheduled "
            "(before publish_at); default false"
        },
    )


class HealthErrorOut(ma.Schema):
    at = f.String(required=True, metadata=_DATE)
    status_code = f.Integer(required=True, allow_none=True)
    error = f.String(required=True)


class HealthOut(ma.Schema):
    attempts = f.Integer(required=True, metadata={"description": "recent attempts counted"})
    success_rate = f.Float(
        required=True,
        allow_none=True,
        metadata={"description": "share of 2xx among recent attempts, 0-1; null before any"},
    )
    last_success_at = f.String(required=True, allow_none=True, metadata=_DATE)
    last_error = f.Nested(HealthErrorOut, required=True, allow_none=True)
    pending = f.Integer(required=True)
    dead = f.Integer(required=True)
    delivered = f.Integer(required=True)
    skipped = f.Integer(
        required=True,
        metadata={"description": "Events recorded while the subscriber was disabled: recover them"},
    )
    available = f.Integer(
        required=True,
        metadata={"description": "pull: events its partner has not fetched and acknowledged"},
    )


class SubscriberOut(ma.Schema):
    id = f.Integer(required=True)
    kind = f.String(required=True, validate=validate.OneOf(SUBSCRIBER_KINDS))
    name = f.String(required=True, validate=not_blank())
    url = f.String(required=True, allow_none=True, metadata={**_URL, "description": "null: pull"})
    event_types = f.List(f.String(validate=validate.OneOf(EVENT_TYPES)), required=True)
    channels = f.List(f.String(), required=True)
    filter = f.Nested(FilterOut, required=True)
    format = f.String(required=True, validate=validate.OneOf(FORMATS))
    headers = f.Dict(keys=f.String(), values=f.String(), required=True)
    throttle = f.Float(required=True, allow_none=True)
    receives_embargoed = f.Boolean(required=True)
    partner_id = f.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "the partner that manages it in the partner portal "
            "(/api/v1/partners); null: the newsroom's alone"
        },
    )
    active = f.Boolean(required=True)
    disabled_reason = f.String(required=True, allow_none=True)
    previous_secret_until = f.String(
        required=True,
        allow_none=True,
        metadata={**_DATE, "description": "the rotated-out secret signs too until then"},
    )
    created_at = f.String(required=True, metadata=_DATE)
    last_success_at = f.String(required=True, allow_none=True, metadata=_DATE)
    failing_since = f.String(required=True, allow_none=True, metadata=_DATE)
    health = f.Nested(HealthOut, required=True)
    warnings = f.List(
        f.String(),
        metadata={
            "description": "only when creating or changing one: what was accepted but doubtful, "
            "e.g. a host that does not resolve yet (it is checked again before every delivery)"
        },
    )


# In an Idempotency-Key replay (header `Idempotent-Replayed: true`) the secret is null and
# `secret_withheld` says how to get a new one: secrets are never stored with kept answers.
def _withheld() -> f.String:
    return f.String(
        metadata={"description": "only in a replay: the secret was withheld, and how to rotate it"}
    )


class SubscriberCreatedOut(SubscriberOut):
    secret = f.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "whsec_…: the signing secret, shown this once (null in a replay, "
            "and for a pull subscriber, which has none)"
        },
    )
    secret_withheld = _withheld()


SubscriberPage = page_schema(SubscriberOut, "SubscriberPage")


class SecretOut(ma.Schema):
    id = f.Integer(required=True)
    secret = f.String(
        required=True,
        allow_none=True,
        metadata={"description": "the new secret, shown this once (null in a replay)"},
    )
    secret_withheld = _withheld()
    previous_secret_until = f.String(
        required=True, metadata={**_DATE, "description": "the old secret signs too until then"}
    )


class DisableIn(RawBody):
    reason = f.String(allow_none=True, metadata={"description": "shown in the admin"})


class RecoverIn(RawBody):
    since = f.String(
        validate=validate.Length(min=1),
        required=True,
        metadata={**_DATE, "description": "with a zone offset" + "; " + _DATE["description"]},
    )
    until = f.String(
        validate=validate.Length(min=1),
        allow_none=True,
        metadata={
            **_DATE,
            "description": "default: now; at or before since: nothing to recover"
            + "; "
            + _DATE["description"],
        },
    )


class RecoverOut(ma.Schema):
    requeued = f.Integer(required=True, metadata={"description": "deliveries queued again"})


class AttemptOut(ma.Schema):
    at = f.String(required=True, metadata=_DATE)
    status_code = f.Integer(required=True, allow_none=True)
    latency_ms = f.Integer(required=True, allow_none=True)
    error = f.String(required=True, allow_none=True)
    response_excerpt = f.String(
        required=True, allow_none=True, metadata={"description": "the first 1 KiB"}
    )


class DeliveryOut(ma.Schema):
    id = f.Integer(required=True)
    subscriber_id = f.Integer(required=True)
    event_id = f.Integer(required=True)
    event_type = f.String(required=True, validate=validate.OneOf(DELIVERY_EVENT_TYPES))
    story_code = f.String(required=True, allow_none=True)
    message_id = f.String(
        required=True, metadata={"description": "webhook-id: the same on every retry and replay"}
    )
    status = f.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = f.Integer(required=True, metadata={"description": "in the current run"})
    next_attempt_at = f.String(required=True, allow_none=True, metadata=_DATE)
    last_status_code = f.Integer(required=True, allow_none=True)
    last_error = f.String(required=True, allow_none=True)
    created_at = f.String(required=True, metadata=_DATE)
    delivered_at = f.String(required=True, allow_none=True, metadata=_DATE)


class DeliveryDetailOut(DeliveryOut):
    log = f.List(f.Nested(AttemptOut), required=True, metadata={"description": "every attempt"})


DeliveryPage = page_schema(DeliveryOut, "DeliveryPage")


class DeliveryQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    subscriber = f.Integer(validate=validate.Range(1, MAX_ID), metadata={"description": "id"})
    status = f.String(validate=validate.OneOf(STATUSES))
    event = f.Integer(validate=validate.Range(1, MAX_ID), metadata={"description": "event id"})
    event_type = f.String(validate=validate.OneOf(DELIVERY_EVENT_TYPES))
    since = f.String(
        validate=validate.Length(min=1),
        metadata={**_DATE, "description": "created at or after" + "; " + _DATE["description"]},
    )
    until = f.String(
        validate=validate.Length(min=1),
        metadata={**_DATE, "description": "created before" + "; " + _DATE["description"]},
    )
    limit = f.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = cursor_field()
