"""Where to send someone after signing in: a path on this site, never anywhere else.

`next` comes from the query string or the form, so anyone can craft it and send a victim a
sign-in link that lands on their site (an open redirect). Browsers and URL libraries forgive a
lot on the way to a Location header: they drop tabs, CR and LF anywhere in a URL (werkzeug
turns `/<TAB>/evil.example/` into `//evil.example/`), read `\\` as `/`, and a value that went
through one more round of percent-decoding somewhere (a proxy, a second redirect) becomes
whatever it encodes. So the value is refused, and the dashboard used instead, unless it and
every percent-decoded form of it is an absolute path: one leading `/` not followed by `/` or
`\\`, no scheme, no backslash and no control character anywhere.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

HOME = "/admin/"
PORTAL_HOME = "/portal/"  # where a partner's people land (portal/routes.py)
MAX_LENGTH = 2048  # longer than any link the admin makes; bounds the decoding work
DECODE_ROUNDS = 4  # still percent-encoded after this many rounds: nobody links like that
# C0 controls (tab, CR, LF…), DEL, C1 controls (NEL…) and the backslash.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def _is_local_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or _FORBIDDEN.search(text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def safe_next(value: str | None, default: str = HOME) -> str:
    """`value` when it is a same-origin absolute path (see the module's docstring), else
    `default`."""
    if not value or len(value) > MAX_LENGTH:
        return default
    text = value
    for _ in range(DECODE_ROUNDS):
        if not _is_local_path(text):
            return default
        decoded = unquote(text)
        if decoded == text:
            return value
        text = decoded
    return default
