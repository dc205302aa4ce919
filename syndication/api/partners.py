"""/api/v1/partners (admin only): partner organisations and the webhook subscribers their people
and tokens (role "partner") manage in the partner portal. Create, list, read, assign
subscribers, take one back. No access decorator: a view without one is admin-only."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from syndication.api.common import Blueprint, created
from syndication.api.idempotency import idempotent
from syndication.api.partner_schemas import AssignIn, PartnerIn, PartnerOut, PartnerPage
from syndication.errors import NotFound
from syndication.models import Partner
from syndication.partners import service
from syndication.push import subscribers as push
from syndication.runtime import runtime
from syndication.validation import iso

blp = Blueprint(
    "partners",
    __name__,
    url_prefix="/api/v1/partners",
    description="Partners: who manages which webhook subscribers in the partner portal",
)
LOCATION = {"Location": {"description": "URL of the new partner", "schema": {"type": "string"}}}


def partner_body(session: Session, partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "created_at": iso(partner.created_at),
        "subscriber_ids": [s.id for s in service.subscribers_of(session, partner.id)],
    }


def _partner(session: Session, partner_id: int) -> Partner:
    # By id only: get_partner also takes names, which a path segment of digits must not be.
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}")
    return partner


@blp.route("", methods=["POST"])
@idempotent
@blp.arguments(PartnerIn)
@blp.response(201, PartnerOut, headers=LOCATION)
@blp.alt_response(409, response="CONFLICT", description="A partner of that name exists")
def create(data: dict[str, Any]) -> Any:
    """Create a partner

    Then assign it subscribers and create its users (`syndication user create --role partner
    --partner NAME`, or the admin's Users page) and tokens (`POST /api/v1/tokens` with
    `role: partner` and `partner`).
    """
    rt = runtime()
    with rt.db.write() as session:
        partner = service.create_partner(session, data["name"], rt.clock())
        body = partner_body(session, partner)
    return created(body, url_for("partners.partner", partner_id=body["id"]))


@blp.route("", methods=["GET"])
@blp.response(200, PartnerPage)
def index() -> Any:
    """List partners by name, each with its subscribers (`next` is always null)"""
    with runtime().db.read() as session:
        items = [partner_body(session, p) for p in service.list_partners(session)]
    return {"items": items, "next": None}


@blp.route("/<int:partner_id>", methods=["GET"])
@blp.response(200, PartnerOut)
@blp.alt_response(404, response="NOT_FOUND")
def partner(partner_id: int) -> Any:
    """Read a partner and its subscribers"""
    with runtime().db.read() as session:
        return partner_body(session, _partner(session, partner_id))


@blp.route("/<int:partner_id>/subscribers", methods=["POST"])
@idempotent
@blp.arguments(AssignIn)
@blp.response(200, PartnerOut)
@blp.alt_response(404, response="NOT_FOUND")
def assign(data: dict[str, Any], partner_id: int) -> Any:
    """Assign webhook subscribers to this partner (all or none)

    A subscriber of another partner moves to this one; assigning one twice changes nothing.
    """
    rt = runtime()
    with rt.db.write() as session:
        partner = _partner(session, partner_id)
        for subscriber_id in dict.fromkeys(data["subscriber_ids"]):
            push.get_subscriber(session, subscriber_id)  # webhook subscribers only
            service.assign(session, subscriber_id, partner.id)
        session.flush()
        return partner_body(session, partner)


@blp.route("/<int:partner_id>/subscribers/<int:subscriber_id>", methods=["DELETE"])
@blp.response(200, PartnerOut)
@blp.alt_response(404, response="NOT_FOUND")
def unassign(partner_id: int, subscriber_id: int) -> Any:
    """Take a subscriber back from this partner (it stays, the newsroom's alone)"""
    rt = runtime()
    with rt.db.write() as session:
        partner = _partner(session, partner_id)
        subscriber = push.get_subscriber(session, subscriber_id)
        if subscriber.partner_id != partner.id:
            raise NotFound(f"subscriber {subscriber_id} is not partner {partner_id}'s")
        service.assign(session, subscriber_id, None)
        session.flush()
        return partner_body(session, partner)
