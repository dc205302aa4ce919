"""Payloads of the pull API (GET /api/v1/partner/events). Shapes here; the rules are
push.pull's."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.api.common import DATE, MAX_ID
from syndication.push.pull import DEFAULT_LIMIT, MAX_LIMIT, MAX_WAIT


class PartnerEventQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    after = f.String(
        metadata={
            "description": "the `cursor` of your last answer: acknowledges every event of it "
            "(and of the answers before it) and asks for the next ones. Without it: the oldest "
            "events not acknowledged yet. A cursor this service did not give you (for this "
            "`subscriber`) is 400"
        }
    )
    limit = f.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": "events at most (a page also stops before 8 MiB of stories)"},
    )
    wait = f.Integer(
        load_default=0,
        validate=validate.Range(0, MAX_WAIT),
        metadata={
            "description": "seconds: when no event is there, wait until one comes or the time "
            "runs out (long-poll); 0: answer at once"
        },
    )
    subscriber = f.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={
            "description": "only the events of this pull subscriber of yours (its cursor is its "
            "own); default: all of them"
        },
    )


class PartnerEventOut(ma.Schema):
    id = f.String(
        required=True,
        metadata={
            "description": "the Standard Webhooks message id (`webhook-id`, msg_…): the same "
            "for this event to this subscriber whenever it comes"
        },
    )
    type = f.String(required=True, metadata={"description": "story.published, story.updated…"})
    timestamp = f.String(required=True, metadata={**DATE, "description": "when it happened"})
    subscriber_id = f.Integer(required=True)
    payload = f.Dict(
        required=True,
        metadata={
            "description": "exactly the body the subscriber's webhook would carry: "
            '{"type", "timestamp", "data"}, data in the subscriber\'s format (json or ninjs)'
        },
    )


class PartnerEventPage(ma.Schema):
    data = f.List(
        f.Nested(PartnerEventOut),
        required=True,
        metadata={"description": "oldest first (version order); empty when none came"},
    )
    cursor = f.String(
        required=True,
        metadata={
            "description": "opaque: send it as `after` with your next request to acknowledge "
            "these events; keep it until then"
        },
    )
    more = f.Boolean(
        required=True, metadata={"description": "more events are waiting: ask again at once"}
    )
