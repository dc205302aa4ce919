"""/api/v1/subscribers: partner webhook endpoints (admin only): create (the secret is shown
once), list, read, change, delete, rotate the secret, send a test ping, enable, disable, and
recover failed deliveries."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from syndication.api.common import Blueprint, created, patch_schema
from syndication.api.idempotency import idempotent, idempotent_redacted
from syndication.api.subscriber_schemas import (
    DeliveryOut,
    DisableIn,
    RecoverIn,
    RecoverOut,
    SecretOut,
    SubscriberCreatedOut,
    SubscriberIn,
    SubscriberOut,
    SubscriberPage,
)
from syndication.auth.access import requires
from syndication.models import Event, Subscriber
from syndication.push import subscribers as service
from syndication.runtime import runtime

blp = Blueprint(
    "subscribers",
    __name__,
    url_prefix="/api/v1/subscribers",
    description="Partner webhooks (Standard Webhooks): subscribers",
)
LOCATION = {"Location": {"description": "URL of the new subscriber", "schema": {"type": "string"}}}


def _without_secret(body: dict[str, Any]) -> dict[str, Any]:
    """What an Idempotency-Key replay of a secret-bearing answer keeps: everything but the
    secret (never stored with the answer; it is shown once), and a note on getting a new one."""
    return {
        **body,
        "secret": None,
        "secret_withheld": (
            "The secret is never kept for replays. If you did not receive it, get a new one: "
            f"POST /api/v1/subscribers/{body['id']}/rotate-secret (with a new Idempotency-Key)."
        ),
    }


def subscriber_body(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    body = service.subscriber_to_dict(subscriber)
    body["health"] = service.subscriber_health(session, subscriber.id)
    return body


@blp.route("", methods=["POST"])
@requires("admin")
@idempotent_redacted(_without_secret)
@blp.arguments(SubscriberIn)
@blp.response(201, SubscriberCreatedOut, headers=LOCATION)
def create(data: dict[str, Any]) -> Any:
    """Register a webhook endpoint

    The answer carries the signing secret (`whsec_…`): it is shown this once.
    """
    rt = runtime()
    with rt.db.write() as session:
        warnings: list[str] = []
        subscriber, secret = service.create_subscriber(
            session, rt.push.outbound.check_sync, data, rt.clock(), warnings
        )
        body = {**subscriber_body(session, subscriber), "secret": secret}
    if warnings:
        body["warnings"] = warnings
    return created(body, url_for("subscribers.subscriber", subscriber_id=body["id"]))


@blp.route("", methods=["GET"])
@requires("admin")
@blp.response(200, SubscriberPage)
def index() -> Any:
    """List subscribers with their health (all of them, by id: `next` is always null)"""
    rt = runtime()
    with rt.db.read() as session:
        items = [subscriber_body(session, s) for s in service.list_subscribers(session)]
    return {"items": items, "next": None}


@blp.route("/<int:subscriber_id>", methods=["GET"])
@requires("admin")
@blp.response(200, SubscriberOut)
@blp.alt_response(404, response="NOT_FOUND")
def subscriber(subscriber_id: int) -> Any:
    """Read a subscriber and its health"""
    rt = runtime()
    with rt.db.read() as session:
        return subscriber_body(session, service.get_subscriber(session, subscriber_id))


@blp.route("/<int:subscriber_id>", methods=["PATCH"])
@requires("admin")
@blp.arguments(patch_schema(SubscriberIn, exclude=("kind",)))
@blp.response(200, SubscriberOut)
@blp.alt_response(404, response="NOT_FOUND")
def patch(data: dict[str, Any], subscriber_id: int) -> Any:
    """Change some fields of a subscriber (`null` resets a field to its default)"""
    rt = runtime()
    with rt.db.write() as session:
        warnings: list[str] = []
        sub = service.update_subscriber(
            session, rt.push.outbound.check_sync, subscriber_id, data, warnings
        )
        body = subscriber_body(session, sub)
    if warnings:
        body["warnings"] = warnings
    return body


@blp.route("/<int:subscriber_id>", methods=["DELETE"])
@requires("admin")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
def delete(subscriber_id: int) -> Any:
    """Delete a subscriber with its deliveries and their log"""
    rt = runtime()
    with rt.db.write() as session:
        service.delete_subscriber(session, subscriber_id)
    return "", 204


@blp.route("/<int:subscriber_id>/rotate-secret", methods=["POST"])
@requires("admin")
@idempotent_redacted(_without_secret)
@blp.response(200, SecretOut)
@blp.alt_response(404, response="NOT_FOUND")
def rotate_secret(subscriber_id: int) -> Any:
    """Replace the signing secret

    The old one still signs (a second signature in `webhook-signature`) for `secret_overlap`
    seconds, so the partner can switch without losing a message.
    """
    rt = runtime()
    with rt.db.write() as session:
        secret = service.rotate_secret(session, rt.settings, subscriber_id, rt.clock())
        sub = service.get_subscriber(session, subscriber_id)
        return {
            "id": sub.id,
            "secret": secret,
            "previous_secret_until": service.iso(sub.previous_secret_until),
        }


@blp.route("/<int:subscriber_id>/test", methods=["POST"])
@requires("admin")
@idempotent
@blp.response(202, DeliveryOut)
@blp.alt_response(404, response="NOT_FOUND")
def test(subscriber_id: int) -> Any:
    """Send a `ping` event to this subscriber alone

    `data` is `{"message": "test", "subscriber": <id>}`; follow the delivery in
    /api/v1/deliveries.
    """
    rt = runtime()
    with rt.db.write() as session:
        delivery = service.send_test(session, subscriber_id, rt.clock())
        event = session.get(Event, delivery.event_id)
        return service.delivery_to_dict(delivery, event)


@blp.route("/<int:subscriber_id>/disable", methods=["POST"])
@requires("admin")
@idempotent
@blp.arguments(DisableIn)
@blp.response(200, SubscriberOut)
@blp.alt_response(404, response="NOT_FOUND")
def disable(data: dict[str, Any], subscriber_id: int) -> Any:
    """Stop sending to a subscriber

    Events that come while it is disabled are recorded for it as skipped deliveries, which
    `recover` sends later.
    """
    rt = runtime()
    with rt.db.write() as session:
        sub = service.disable(session, subscriber_id, data.get("reason"))
        return subscriber_body(session, sub)


@blp.route("/<int:subscriber_id>/enable", methods=["POST"])
@requires("admin")
@idempotent
@blp.response(200, SubscriberOut)
@blp.alt_response(404, response="NOT_FOUND")
def enable(subscriber_id: int) -> Any:
    """Send to a subscriber again (its run of failures starts afresh)"""
    rt = runtime()
    with rt.db.write() as session:
        return subscriber_body(session, service.enable(session, subscriber_id))


@blp.route("/<int:subscriber_id>/recover", methods=["POST"])
@requires("admin")
@idempotent
@blp.arguments(RecoverIn)
@blp.response(200, RecoverOut)
@blp.alt_response(404, response="NOT_FOUND")
def recover(data: dict[str, Any], subscriber_id: int) -> Any:
    """Queue again the subscriber's dead, cancelled and skipped deliveries of [since, until)

    Skipped deliveries are the events that came while the subscriber was disabled. They are
    queued in the order their events came; failing deliveries of the window that wait for a
    retry are made due now. Each keeps its `webhook-id`.
    """
    rt = runtime()
    with rt.db.write() as session:
        count = service.recover(
            session, subscriber_id, data.get("since"), data.get("until"), rt.clock()
        )
    return {"requeued": count}
