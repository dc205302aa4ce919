"""Standard Webhooks signatures: `whsec_<base64>` secrets, `v1,<base64 HMAC-SHA256>` signatures
over "<msg_id>.<timestamp>.<body>" (timestamp in seconds, body the exact bytes sent)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Iterable

PREFIX = "whsec_"


def generate_secret() -> str:
    """A new secret: "whsec_" + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after "whsec_"."""
    raw = secret[len(PREFIX) :] if secret.startswith(PREFIX) else secret
    return base64.b64decode(raw)


def sign_with(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, "v1,<base64>", with a key already decoded (`secret_key`)."""
    message = f"{msg_id}.{int(timestamp)}.".encode() + body
    # hmac.digest: the one-shot C path (no HMAC object per signature).
    digest = hmac.digest(key, message, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, "v1,<base64>"."""
    return sign_with(secret_key(secret), msg_id, timestamp, body)


def signature_header(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: one signature per active secret's key, space-separated."""
    return " ".join(sign_with(k, msg_id, timestamp, body) for k in keys)
