"""The outbound client's errors, and the one-line sanitiser every message goes through.

Messages end up in delivery logs, admin pages and CLI output, and part of them can come from a
hostile peer (a reason phrase, a TLS alert, a header). So every message is made one line of
printable characters, at most MAX_MESSAGE characters long, by the base class itself: no caller
can forget it."""

from __future__ import annotations

import unicodedata

MAX_MESSAGE = 500

# Unicode categories that never belong in a log line: controls (incl. NUL, DEL, C1), format
# characters (bidi overrides, zero-width joiners), separators other than the plain space,
# surrogates (from undecodable bytes), private use and unassigned code points.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """`text` as one line of printable characters, at most `limit` characters (an ellipsis
    marks a cut). Whitespace runs become one space; other unsafe characters become '?'."""
    out: list[str] = []
    space = False
    for ch in str(text):
        if ch.isspace():
            space = bool(out)
            continue
        if ch != " " and unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            ch = "?"
        if space:
            out.append(" ")
            space = False
        out.append(ch)
    line = "".join(out)
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return line


def shown(value: str, limit: int = 120) -> str:
    """`value` quoted for a message (repr escapes controls), cut to `limit` characters so a
    hostile megabyte-long URL cannot fill a log line."""
    if len(value) > limit:
        return repr(value[:limit]) + "…"
    return repr(value)


class OutboundError(Exception):
    """Anything that stopped an outbound call; str() is one sanitised line that says why."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(message))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnsafeURL(OutboundError, ValueError):
    """A URL the service refuses to call (malformed, wrong scheme, or a non-public address);
    nothing was sent. A ValueError too, so form and API validation can treat it as bad input."""


class DNSFailure(UnsafeURL):
    """The host did not resolve, so it cannot be checked nor called."""


class TimedOut(OutboundError, TimeoutError):
    """The deadline for the whole exchange (DNS to the last byte read) passed."""


class ResolveTimedOut(TimedOut):
    """The host did not resolve within the time given: the URL is neither allowed nor refused
    yet (check it again later, e.g. right before calling it)."""


class ConnectFailed(OutboundError):
    """No usable connection: refused, reset, unreachable, closed early, or TLS failed (the
    message says which)."""


class BadResponse(OutboundError):
    """The peer answered with something that is not well-formed HTTP (or exceeds the header
    limits)."""
