"""WebSub subscriptions of the hub (admin only): per channel, read one, remove one. Subscribing
and unsubscribing are the subscribers' own (POST /hub); notifications appear in
/api/v1/deliveries like partner webhooks' (one queue, one log)."""

from __future__ import annotations

from typing import Any

from syndication.api.common import Blueprint
from syndication.api.websub_schemas import SubscriptionOut, SubscriptionPage
from syndication.auth.access import requires
from syndication.push.websub import subscriptions as service
from syndication.runtime import runtime

blp = Blueprint(
    "websub_subscriptions",
    __name__,
    url_prefix="/api/v1",
    description="WebSub hub: subscriptions to the channels' feeds",
)


@blp.route("/channels/<slug>/subscriptions", methods=["GET"])
@requires("admin")
@blp.response(200, SubscriptionPage)
@blp.alt_response(404, response="NOT_FOUND")
def channel_subscriptions(slug: str) -> Any:
    """List the WebSub subscriptions to a channel's feeds

    Every state (active, expired, unverified, ended), oldest first, each with its newest
    notification; `next` is always null.
    """
    rt = runtime()
    with rt.db.read() as session:
        items = service.channel_subscriptions(session, slug, rt.clock())
    return {"items": items, "next": None}


@blp.route("/subscriptions/<int:subscription_id>", methods=["GET"])
@requires("admin")
@blp.response(200, SubscriptionOut)
@blp.alt_response(404, response="NOT_FOUND")
def subscription(subscription_id: int) -> Any:
    """Read a WebSub subscription"""
    rt = runtime()
    with rt.db.read() as session:
        return service.subscription_detail(session, subscription_id, rt.clock())


@blp.route("/subscriptions/<int:subscription_id>", methods=["DELETE"])
@requires("admin")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
def remove(subscription_id: int) -> Any:
    """Remove a WebSub subscription with its notifications and their log

    Nothing more is sent to its callback; it may subscribe again through the hub.
    """
    rt = runtime()
    with rt.db.write() as session:
        service.remove_subscription(session, subscription_id)
    return "", 204
