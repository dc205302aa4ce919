"""Short link codes: short, unambiguous when read aloud or off paper, never reused."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

# No 0/O/o, 1/l/I: codes are printed under articles and typed in by hand.
ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 6  # 54^6 ≈ 2.5e10 codes: collisions stay rare long before 7 or 8 are needed
MAX_LENGTH = 8
# Custom slugs: letters, digits, '-' and '_', 3-64 characters, starting with a letter or digit.
SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")
# Paths of the service and words people would mistake for them.
RESERVED = frozenset(
    {
        "admin",
        "api",
        "assets",
        "channels",
        "feeds",
        "feeds.opml",
        "healthz",
        "help",
        "hub",
        "login",
        "logout",
        "new",
        "opml",
        "qr",
        "robots.txt",
        "s",
        "static",
        "stats",
        "stories",
        "www",
    }
)


def generate_code(taken: Callable[[str], bool]) -> str:
    """A random code that `taken` says is free; grows a character after repeated collisions."""
    length = LENGTH
    while True:
        for _ in range(8):
            code = "".join(secrets.choice(ALPHABET) for _ in range(length))
            if not taken(code):
                return code
        length = min(length + 1, MAX_LENGTH)


def check_slug(value: str) -> str:
    """A custom slug, or ValueError saying what is wrong with it."""
    if not isinstance(value, str) or not SLUG_RE.fullmatch(value):
        raise ValueError(
            "must be 3-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    if value.lower() in RESERVED:
        raise ValueError(f"{value!r} is reserved")
    return value
