"""WebSub subscription payloads of the API (read and remove only: subscribing is the hub's,
POST /hub). Shapes here; the values are push.websub.subscriptions.subscription_to_dict's."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.api.common import DATE, page_schema
from syndication.push.subscribers import STATUSES

_URL = {"format": "uri"}
_DATE = DATE
STATES = ("active", "expired", "unverified", "ended")


class LastNotificationOut(ma.Schema):
    id = f.Integer(required=True, metadata={"description": "the delivery (/api/v1/deliveries)"})
    status = f.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = f.Integer(required=True)
    created_at = f.String(required=True, metadata=_DATE)
    delivered_at = f.String(required=True, allow_none=True, metadata=_DATE)
    last_status_code = f.Integer(required=True, allow_none=True)
    last_error = f.String(required=True, allow_none=True)


class SubscriptionOut(ma.Schema):
    id = f.Integer(required=True)
    channel = f.String(required=True, allow_none=True, metadata={"description": "channel slug"})
    topic = f.String(required=True, allow_none=True, metadata=_URL)
    format = f.String(required=True, allow_none=True, metadata={"description": "rss, atom, json"})
    callback = f.String(required=True, metadata=_URL)
    signed = f.Boolean(
        required=True, metadata={"description": "a hub.secret was given: X-Hub-Signature sent"}
    )
    state = f.String(
        required=True,
        validate=validate.OneOf(STATES),
        metadata={
            "description": "active (notified), expired (lease over), unverified, ended (410, "
            "denied or removed: see ended_reason)"
        },
    )
    ended_reason = f.String(required=True, allow_none=True)
    verified_at = f.String(required=True, allow_none=True, metadata=_DATE)
    lease_seconds = f.Integer(required=True, allow_none=True)
    lease_expires_at = f.String(required=True, allow_none=True, metadata=_DATE)
    created_at = f.String(required=True, allow_none=True, metadata=_DATE)
    last_success_at = f.String(required=True, allow_none=True, metadata=_DATE)
    last_delivery = f.Nested(
        LastNotificationOut,
        required=True,
        allow_none=True,
        metadata={"description": "the newest notification, null before any"},
    )


SubscriptionPage = page_schema(SubscriptionOut, "SubscriptionPage")
