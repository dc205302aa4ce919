"""Partners: organisations outside the newsroom whose people and tokens (role "partner") manage
the subscribers an admin assigned to them, and nothing else.

The scope is enforced here, not in views: `owned_subscriber` is the one way a partner's request
reaches a subscriber, and it answers NotFound for anyone else's, so a partner cannot tell
another partner's subscriber from one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syndication.auth.roles import PARTNER
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.models import Delivery, Partner, Subscriber

NAME_MAX = 100
# Printable, no control characters: the name shows in pages, lists and the CLI.
_NAME_RE = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME_RE.fullmatch(name):
        raise ValidationError({"name": f"must be 1 to {NAME_MAX} printable characters"})
    return name


def create_partner(session: Session, name: str, now: datetime) -> Partner:
    name = _clean_name(name)
    if session.scalar(select(Partner.id).where(Partner.name == name)) is not None:
        raise Conflict(f"partner {name!r} already exists", {"name": "already taken"})
    partner = Partner(name=name, created_at=now)
    session.add(partner)
    session.flush()
    return partner


def list_partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.name)))


def get_partner(session: Session, ref: int | str) -> Partner:
    """A partner by id (an int, or a string of digits) or by name."""
    partner = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        partner = session.get(Partner, int(ref))
    if partner is None and isinstance(ref, str):
        partner = session.scalar(select(Partner).where(Partner.name == ref.strip()))
    if partner is None:
        raise NotFound(f"no partner {ref!r}")
    return partner


def partner_id_of(session: Session, ref: int | str | None) -> int | None:
    """The id of partner `ref` (id or name); None for None."""
    return None if ref is None else get_partner(session, ref).id


def check_partner_for_role(session: Session, role: str, partner_id: int | None) -> dict[str, str]:
    """The field problems of giving `role` with `partner_id` to a user or token: a partner
    role needs a partner, and no other role may have one."""
    if role == PARTNER:
        if partner_id is None:
            return {"partner": "required with the partner role"}
        if session.get(Partner, partner_id) is None:
            return {"partner": f"no partner with id {partner_id}"}
    elif partner_id is not None:
        return {"partner": "only a user or token with the partner role belongs to a partner"}
    return {}


def assign(session: Session, subscriber_id: int, partner_id: int | None) -> Subscriber:
    """Give subscriber `subscriber_id` to a partner (None: take it back for the newsroom)."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    if partner_id is not None and session.get(Partner, partner_id) is None:
        raise NotFound(f"no partner with id {partner_id}")
    if subscriber.partner_id != partner_id:
        # Pull deliveries handed out in the old partner's pages (push/pull.py) are numbered by
        # that partner's page counter: forget it, or the new partner's acknowledgement of its
        # own page of that number would take them without their ever being handed to it.
        session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == subscriber.id, Delivery.pull_page.is_not(None))
            .values(pull_page=None)
            .execution_options(synchronize_session=False)
        )
    subscriber.partner_id = partner_id
    return subscriber


def subscribers_of(session: Session, partner_id: int) -> list[Subscriber]:
    """The partner's subscribers, oldest first."""
    return list(
        session.scalars(
            select(Subscriber).where(Subscriber.partner_id == partner_id).order_by(Subscriber.id)
        )
    )


def owned_subscriber(
    session: Session, partner_id: int, subscriber_id: int, kinds: Collection[str] = ("webhook",)
) -> Subscriber:
    """Subscriber `subscriber_id` if it is the partner's and of one of `kinds`; NotFound
    otherwise (the same answer as for one that does not exist)."""
    subscriber = session.get(Subscriber, subscriber_id)
    # partner_id None (no partner) owns nothing: not the newsroom's unassigned subscribers.
    if (
        partner_id is None
        or subscriber is None
        or subscriber.kind not in kinds
        or subscriber.partner_id != partner_id
    ):
        raise NotFound(f"no subscriber with id {subscriber_id}")
    return subscriber


def owned_delivery(
    session: Session, partner_id: int, delivery_id: int, kinds: Collection[str] = ("webhook",)
) -> Delivery:
    """Delivery `delivery_id` if it goes to one of the partner's subscribers of one of
    `kinds`; NotFound otherwise (the same answer as for one that does not exist)."""
    delivery = session.get(Delivery, delivery_id)
    owner = session.get(Subscriber, delivery.subscriber_id) if delivery is not None else None
    if (
        partner_id is None
        or owner is None
        or owner.kind not in kinds
        or owner.partner_id != partner_id
    ):
        raise NotFound(f"no delivery with id {delivery_id}")
    return delivery
