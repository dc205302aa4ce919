"""/api/v1/tokens (admin only): create (the token is in this answer and nowhere else), list,
revoke. No access decorator: a view without one is admin-only (auth/access.py)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from syndication.api.common import Blueprint, created
from syndication.api.token_schemas import NewTokenOut, TokenIn, TokenOut, TokenPage
from syndication.auth import tokens as service
from syndication.errors import NotFound
from syndication.models import ApiToken
from syndication.runtime import runtime
from syndication.validation import iso

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens", description="API tokens")
LOCATION = {"Location": {"description": "URL of the new token", "schema": {"type": "string"}}}


def token_to_dict(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "prefix": token.prefix,
        "partner_id": token.partner_id,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }


# Deliberately not @idempotent (so the document does not advertise Idempotency-Key here):
# a replay would have to keep the token's value in idempotency_keys for 24 hours, and the
# value is otherwise never stored (only its hash). A retried create makes a second token (the
# header, if sent, is ignored), visible in the list and revocable: the lesser harm.
@blp.route("", methods=["POST"])
@blp.arguments(TokenIn)
@blp.response(201, NewTokenOut, headers=LOCATION)
def create(data: dict[str, Any]) -> Any:
    """Create a token (its value is in this answer only)

    `Idempotency-Key` is not honoured here: replaying the answer would mean storing the
    token's value, and only its hash is ever stored.
    """
    rt = runtime()
    with rt.db.write() as session:
        token, plaintext = service.create_token(
            session, data["name"], data["role"], rt.clock(), partner_id=data.get("partner")
        )
        body = {**token_to_dict(token), "token": plaintext}
    return created(body, url_for("tokens.token", token_id=token.id))


@blp.route("", methods=["GET"])
@blp.response(200, TokenPage)
def index() -> Any:
    """List tokens, revoked ones included (never their values)"""
    rt = runtime()
    with rt.db.read() as session:
        items = [token_to_dict(t) for t in service.list_tokens(session)]
    return {"items": items, "next": None}


@blp.route("/<int:token_id>", methods=["GET"])
@blp.response(200, TokenOut)
@blp.alt_response(404, response="NOT_FOUND")
def token(token_id: int) -> Any:
    """Read a token's details (never its value)"""
    rt = runtime()
    with rt.db.read() as session:
        found = session.get(ApiToken, token_id)
        if found is None:
            raise NotFound(f"no API token with id {token_id}")
        return token_to_dict(found)


@blp.route("/<int:token_id>", methods=["DELETE"])
@blp.response(200, TokenOut)
@blp.alt_response(404, response="NOT_FOUND")
def revoke(token_id: int) -> Any:
    """Revoke a token (at once, for every process); revoking twice is harmless"""
    rt = runtime()
    with rt.db.write() as session:
        return token_to_dict(service.revoke_token(session, token_id, rt.clock()))
