"""API tokens: created once, shown once, stored as a SHA-256 hash, sent as `Bearer <token>`.

Why a plain SHA-256 and not a slow password hash: a token is 32 bytes from the operating
system's CSPRNG (256 bits of entropy), so there is nothing to brute-force or look up in a
dictionary — a slow hash only protects low-entropy secrets such as passwords. A fast hash also
lets us find the token by an indexed equality lookup on every API request, instead of running a
deliberately slow function per request (or per stored token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from syndication.auth.roles import ROLES
from syndication.errors import NotFound, ValidationError
from syndication.models import ApiToken
from syndication.partners.service import check_partner_for_role

TOKEN_PREFIX = "syn_"
TOKEN_BYTES = 32
# syn_ + unpadded base64url of 32 bytes (43 characters)
TOKEN_RE = re.compile(r"syn_[A-Za-z0-9_-]{43}")
DISPLAY_CHARS = len(TOKEN_PREFIX) + 6  # "syn_AbC123": non-secret, tells tokens apart
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("ascii")).hexdigest()


def new_token() -> str:
    raw = secrets.token_bytes(TOKEN_BYTES)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def create_token(
    session: Session, name: str, role: str, now: datetime, partner_id: int | None = None
) -> tuple[ApiToken, str]:
    """A new token; the plaintext is returned here and never again. One with the partner role
    needs `partner_id` (and no other role has one)."""
    name = (name or "").strip()
    problems = {}
    if not name or len(name) > 100:
        problems["name"] = "must be 1 to 100 characters"
    if role not in ROLES:
        problems["role"] = f"must be one of {', '.join(ROLES)}"
    else:
        problems.update(check_partner_for_role(session, role, partner_id))
    if problems:
        raise ValidationError(problems)
    plaintext = new_token()
    token = ApiToken(
        name=name,
        role=role,
        partner_id=partner_id,
        token_hash=hash_token(plaintext),
        prefix=plaintext[:DISPLAY_CHARS],
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token, plaintext


def list_tokens(session: Session, include_revoked: bool = True) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first time)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def lookup_token(session: Session, plaintext: str) -> ApiToken | None:
    """The live token with this plaintext, or None (malformed, unknown or revoked)."""
    if not TOKEN_RE.fullmatch(plaintext or ""):
        return None
    digest = hash_token(plaintext)
    token = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    )
    # The lookup is by hash, so timing says nothing about the token; compare anyway.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token


def is_touch_due(token: ApiToken, now: datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY


def mark_used(session: Session, token_id: int, now: datetime) -> None:
    """Record a use; conditional, so concurrent workers write it at most once a minute."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def authenticate_token(session: Session, plaintext: str, now: datetime) -> ApiToken | None:
    """The token for a bearer credential, recording its use (needs a write session)."""
    token = lookup_token(session, plaintext)
    if token is not None and is_touch_due(token, now):
        mark_used(session, token.id, now)
        token.last_used_at = now
    return token
