"""Password hashing with the standard library's scrypt (memory-hard, per-password salt).

Why hashlib.scrypt and not argon2-cffi: it is in the standard library (OpenSSL), memory-hard
like Argon2, and OWASP lists it as an accepted choice; no compiled dependency to install or
keep patched. The hash string carries its parameters — "scrypt$n=16384,r=8,p=5$<salt>$<hash>"
— so they can be raised later: old hashes still verify with their own parameters, and
`needs_rehash` tells the login to store a fresh hash with the new ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# OWASP's scrypt settings (N=2^14, r=8, p=5 is one of its equivalent recommendations):
# 16 MiB of memory and about 0.2 s of CPU per hash on a current server core.
N, R, P = 2**14, 8, 5
SALT_BYTES = 16
KEY_BYTES = 32
MAXMEM = 128 * 2**20


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAXMEM, dklen=length
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return f"scrypt$n={N},r={R},p={P}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, params, salt, key = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    values = dict(item.split("=", 1) for item in params.split(","))
    return int(values["n"]), int(values["r"]), int(values["p"]), _unb64(salt), _unb64(key)


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`, compared in constant time."""
    try:
        n, r, p, salt, key = _parse(stored)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p, len(key)), key)


def needs_rehash(stored: str) -> bool:
    try:
        n, r, p, _, key = _parse(stored)
    except (ValueError, KeyError):
        return True
    return (n, r, p, len(key)) != (N, R, P, KEY_BYTES)


_DUMMY: str | None = None


def burn_time(password: str) -> None:
    """Spend what a real verification costs, for usernames that do not exist: a login for an
    unknown user must take as long as one with a wrong password (no user enumeration)."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password(secrets.token_urlsafe(16))
    verify_password(password, _DUMMY)
