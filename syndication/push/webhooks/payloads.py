"""Payload formats of partner webhooks. A formatter turns an event's story snapshot (the API
story schema, with code and revision) into the `data` of the payload: "json" (the snapshot as
is) and "ninjs" (IPTC ninjs 2.1, webhooks/ninjs.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from syndication.push.outbox import EMBARGO_AUDIENCE, KILLED
from syndication.push.webhooks.ninjs import killed_ninjs, to_ninjs
from syndication.validation import iso

Formatter = Callable[[dict[str, Any]], dict[str, Any]]


def _json(snapshot: dict[str, Any]) -> dict[str, Any]:
    return snapshot


FORMATTERS: dict[str, Formatter] = {"json": _json, "ninjs": to_ninjs}


def _killed_json(killed: dict[str, Any]) -> dict[str, Any]:
    return {k: killed.get(k) for k in ("code", "version", "reason")}


# The story.killed that ends an embargo carries no story, only what identifies it and why it is
# gone. A takedown's story.killed is its tombstone (stories/kill.py), formatted as any story.
KILLED_FORMATTERS: dict[str, Formatter] = {"json": _killed_json, "ninjs": killed_ninjs}


class _EventLike(Protocol):
    type: str
    snapshot: dict[str, Any]
    created_at: datetime


class _SubscriberLike(Protocol):
    format: str


def payload_bytes(event: _EventLike, subscriber: _SubscriberLike, now: datetime) -> bytes:
    """The exact body sent (and signed): compact JSON {"type", "timestamp", "data"}.

    `timestamp` is when the event happened (`now` when the event has no time, as a ping)."""
    embargo_ended = event.type == KILLED and bool(event.snapshot.get(EMBARGO_AUDIENCE))
    formatters = KILLED_FORMATTERS if embargo_ended else FORMATTERS
    try:
        formatter = formatters[subscriber.format or "json"]
    except KeyError:
        raise ValueError(f"unknown payload format {subscriber.format!r}") from None
    body = {
        "type": event.type,
        "timestamp": iso(event.created_at or now),
        # A ping carries no story: its data is the same in every format.
        "data": event.snapshot if event.type == "ping" else formatter(event.snapshot),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
