"""API token payloads (admin only). The plaintext token appears once, in the creation answer."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.api.common import DATE, MAX_ID, RawBody, Whole, not_blank, page_schema
from syndication.auth.roles import ROLES

_DATE = DATE


class TokenIn(RawBody):
    name = f.String(
        required=True,
        validate=[validate.Length(max=100), not_blank()],
        metadata={"description": "who or what uses it, 1-100 characters"},
    )
    role = f.String(required=True, validate=validate.OneOf(ROLES))
    partner = Whole(
        allow_none=True,
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "the partner's id: required with role partner, else absent"},
    )


class TokenOut(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)
    role = f.String(required=True, validate=validate.OneOf(ROLES))
    prefix = f.String(
        required=True, metadata={"description": "first characters, to tell tokens apart"}
    )
    partner_id = f.Integer(
        required=True, allow_none=True, metadata={"description": "role partner: its partner"}
    )
    created_at = f.String(required=True, metadata=_DATE)
    last_used_at = f.String(required=True, allow_none=True, metadata=_DATE)
    revoked_at = f.String(required=True, allow_none=True, metadata=_DATE)


class NewTokenOut(TokenOut):
    token = f.String(
        required=True,
        metadata={
            "description": "the token itself: shown this once, only its hash is stored. "
            "Send it as `Authorization: Bearer <token>`."
        },
    )


TokenPage = page_schema(TokenOut, "TokenPage")
