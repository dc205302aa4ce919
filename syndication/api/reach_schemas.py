"""Reach payloads of the API (channels' feed subscribers, stories' reach). Shapes here; the
numbers are reach.service's."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.reach.service import MAX_DAYS

COUNTED_AS = ("stated", "clients")


class ReachQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    days = f.Integer(
        load_default=30,
        validate=validate.Range(1, MAX_DAYS),
        metadata={"description": "UTC days up to today (today so far included)"},
    )


class ReaderDayOut(ma.Schema):
    reader = f.String(
        required=True, metadata={"description": "a known reader, else the client's product name"}
    )
    counted_as = f.String(
        required=True,
        validate=validate.OneOf(COUNTED_AS),
        metadata={
            "description": "stated: the subscriber count the reader states in its User-Agent "
            "(its latest that day, summed over its feed ids); clients: distinct clients that "
            "fetched the feed that day"
        },
    )
    subscribers = f.Integer(required=True)


class ReachDayOut(ma.Schema):
    date = f.String(required=True, metadata={"format": "date"})
    subscribers = f.Integer(required=True, metadata={"description": "stated + clients"})
    stated = f.Integer(required=True)
    clients = f.Integer(required=True)
    readers = f.List(f.Nested(ReaderDayOut), required=True)


class ReaderSummaryOut(ma.Schema):
    reader = f.String(required=True)
    counted_as = f.String(required=True, validate=validate.OneOf(COUNTED_AS))
    latest = f.Integer(required=True, metadata={"description": "on the newest day with any count"})
    peak = f.Integer(required=True, metadata={"description": "the highest day of the period"})


class TopicOut(ma.Schema):
    topic = f.String(required=True, metadata={"description": "the feed URL subscribed to"})
    subscribers = f.Integer(required=True)


class WebSubOut(ma.Schema):
    subscribers = f.Integer(required=True, metadata={"description": "active subscriptions"})
    topics = f.List(f.Nested(TopicOut), required=True)


class ChannelReachOut(ma.Schema):
    channel = f.String(required=True)
    title = f.String(required=True)
    days = f.List(f.Nested(ReachDayOut), required=True, metadata={"description": "oldest first"})
    readers = f.List(f.Nested(ReaderSummaryOut), required=True)
    websub = f.Nested(WebSubOut, required=True)


class OutcomesOut(ma.Schema):
    delivered = f.Integer(required=True)
    failed = f.Integer(required=True, metadata={"description": "dead after every retry"})
    pending = f.Integer(required=True, metadata={"description": "not yet sent, or retrying"})


class DeliveriesOut(ma.Schema):
    webhook = f.Nested(OutcomesOut, required=True)
    websub = f.Nested(OutcomesOut, required=True)


class StoryChannelOut(ma.Schema):
    channel = f.String(required=True)
    websub_subscribers = f.Integer(required=True)


class StoryReachOut(ma.Schema):
    story = f.String(required=True, metadata={"description": "the story code"})
    title = f.String(required=True)
    link_clicks = f.Integer(required=True, metadata={"description": "News Link visits"})
    link_clicks_humans = f.Integer(required=True)
    qr_scans = f.Integer(required=True)
    qr_scans_humans = f.Integer(required=True)
    deliveries = f.Nested(DeliveriesOut, required=True)
    channels = f.List(
        f.Nested(StoryChannelOut),
        required=True,
        metadata={"description": "the channels whose filter the story matches"},
    )
    websub_subscribers = f.Integer(required=True, metadata={"description": "over its channels"})
