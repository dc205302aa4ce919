"""URLs as feeds must print them: URIs (RFC 3986), never IRIs (RFC 3987).

The service stores URLs as they were given (an editor's "https://example.com/café" stays
readable in the API); every writer prints them through ``to_uri``: the W3C validator calls an
IRI in a feed an error ("UriNotIri"), and JSON Feed's schema asks for ``format: uri``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import idna

__all__ = ["to_uri"]

# Already a URI: printable ASCII without the characters RFC 3986 leaves out (space, quotes,
# angle brackets, braces, "|", "\", "^", "`"), and every "%" followed by two hex digits.
_URI = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*$")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986's reserved and unreserved characters, and "%": kept as they are, so an existing
# %XX is not encoded a second time and reserved delimiters keep their meaning.
_SAFE = "-._~:/?#[]@!$&'()*+,;=%"


def _is_uri(url: str) -> bool:
    if _URI.match(url.replace("%", "")) is None:
        return False
    return "%" not in url or _LONE_PERCENT.search(url) is None


def _quote(part: str) -> str:
    # errors="ignore": a lone surrogate has no UTF-8, so no URI can hold it.
    return quote(_LONE_PERCENT.sub("%25", part), safe=_SAFE, encoding="utf-8", errors="ignore")


def _host(host: str) -> str:
    """An internationalised host name in A-labels (IDNA 2008 with UTS 46 mapping, as browsers
    do); a host IDNA refuses is percent-encoded, which RFC 3986 also allows in a reg-name."""
    if host.isascii() or host.startswith("["):
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return quote(host, safe="-._~!$&'()*+,;=%", encoding="utf-8", errors="ignore")


def to_uri(url: str) -> str:
    """``url`` as a URI: host in IDNA A-labels, everything else outside RFC 3986's characters
    percent-encoded as UTF-8. An existing %XX is kept as is; a "%" that starts none becomes
    %25. A URI comes back as the same object (the common case costs one regex match)."""
    if _is_uri(url):
        return url
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        hostname = None
        parts = None
    if parts is None or not parts.netloc:
        return _quote(url)
    netloc = parts.netloc
    if hostname:
        userinfo, at, hostport = netloc.rpartition("@")
        # hostname is lower-cased by urlsplit; find the host in the original spelling.
        host_end = hostport.rfind(":") if not hostport.endswith("]") else len(hostport)
        if host_end < 0 or hostport.startswith("[") and not hostport.endswith("]"):
            host_end = len(hostport)
        host, port = hostport[:host_end], hostport[host_end:]
        netloc = (_quote(userinfo) + at if at else "") + _host(host) + _quote(port)
    else:
        netloc = _quote(netloc)
    return urlunsplit(
        (parts.scheme, netloc, _quote(parts.path), _quote(parts.query), _quote(parts.fragment))
    )
