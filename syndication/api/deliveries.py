"""/api/v1/deliveries: the delivery log of partner webhooks (admin only): list with filters,
read one with every attempt, replay."""

from __future__ import annotations

from typing import Any

from flask import url_for

from syndication.api.common import Blueprint, cursor_id
from syndication.api.idempotency import idempotent
from syndication.api.subscriber_schemas import (
    DeliveryDetailOut,
    DeliveryPage,
    DeliveryQuery,
)
from syndication.auth.access import requires
from syndication.push import subscribers as service
from syndication.runtime import runtime

blp = Blueprint(
    "deliveries",
    __name__,
    url_prefix="/api/v1/deliveries",
    description="Partner webhooks: deliveries and their log",
)


@blp.route("", methods=["GET"])
@requires("admin")
@blp.arguments(DeliveryQuery, location="query", as_kwargs=True)
@blp.response(200, DeliveryPage)
def index(limit: int, cursor: str | None = None, **filters: Any) -> Any:
    """List deliveries, newest first

    Filters combine (AND); `since`/`until` bound the creation time. Follow `next` until it is
    null.
    """
    after = cursor_id(cursor)
    rt = runtime()
    with rt.db.read() as session:
        rows, after = service.list_deliveries(session, filters, limit=limit, after=after)
        items = [service.delivery_to_dict(d, e) for d, e in rows]
    nxt = None
    if after is not None:
        nxt = rt.settings.base_url + url_for(
            "deliveries.index", limit=limit, cursor=after, **filters
        )
    return {"items": items, "next": nxt}


@blp.route("/<int:delivery_id>", methods=["GET"])
@requires("admin")
@blp.response(200, DeliveryDetailOut)
@blp.alt_response(404, response="NOT_FOUND")
def delivery(delivery_id: int) -> Any:
    """Read a delivery with the log of its attempts (time, status, latency, error, response)"""
    rt = runtime()
    with rt.db.read() as session:
        return service.delivery_detail(session, delivery_id)


@blp.route("/<int:delivery_id>/replay", methods=["POST"])
@requires("admin")
@idempotent
@blp.response(200, DeliveryDetailOut)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="Its story was killed since")
def replay(delivery_id: int) -> Any:
    """Send a delivery again now, with the same `webhook-id`

    Whatever its state (dead, delivered…): it becomes pending and due now, with a fresh run
    of the retry schedule; the log of earlier attempts stays.
    """
    rt = runtime()
    with rt.db.write() as session:
        service.replay_delivery(session, delivery_id, rt.clock())
        return service.delivery_detail(session, delivery_id)
