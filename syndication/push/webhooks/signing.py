"""Standard Webhooks signatures: `whsec_<base64>` secrets, `v1,<base64 HMAC-SHA256>` signatures
over "<msg_id>.<timestamp>.<body>" (timestamp in seconds, body the exact bytes sent)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Iterable

PREFIX = "whsec_"


def generate_secret() -> str:
    """A new secret: "whsec_" + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode("ascii")


@functools.lru_cache(maxsize=4096)
def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after "whsec_" (decoded once per secret: a
    fan-out signs with the same secrets over and over)."""
    raw = secret[len(PREFIX) :] if secret.startswith(PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, "v1,<base64>"."""
    message = f"{msg_id}.{int(timestamp)}.".encode() + body
    # hmac.digest: the one-shot C path (no HMAC object per signature).
    digest = hmac.digest(secret_key(secret), message, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: one signature per active secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets if s)
