"""Strict parsing of the URLs the service calls, so that what is checked is what is connected to.

`urllib.parse.urlsplit` is lenient in ways HTTP clients are not: `https://127.0.0.1\\.evil/`
is host "127.0.0.1\\.evil" to urlsplit but 127.0.0.1 to urllib3, and `http://127.1/` or
`http://0x7f.0.0.1/` are names to one reader and IPv4 addresses to another. This parser follows
RFC 3986 and refuses every form on which readers disagree instead of guessing:

- only `http` and `https`, then `//`; the authority ends at the first `/`, `?` or `#`;
- no backslash, whitespace or control/format character anywhere in the URL;
- no userinfo (`user:pass@`), no percent-encoding in the host, no empty host or port;
- the port is 1 to 5 decimal digits, 1..65535;
- an IPv4 literal is only the canonical dotted quad `a.b.c.d` (decimal, no leading zeros); a host
  whose last label is a number (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`,
  `127.0.0.01`, `example.0x10`) is refused, because the WHATWG URL standard reads those as IPv4;
- an IPv6 literal is bracketed, without a zone id (`%25eth0`);
- a host name becomes its IDNA A-label form (UTS #46), lower case, without its one trailing dot,
  at most 253 characters in labels of 1..63 letters, digits, `-` or `_`.

In the path and query, every character outside RFC 3986's allowed set (non-ASCII characters as
UTF-8, and ASCII ones such as `"`, `<`, `>`, `[`, `{`, `|`) is percent-encoded, as browsers do,
and so is a `%` not followed by two hex digits; `.` and `..` path segments are resolved. The
fragment is dropped (it is never sent)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass

import idna

from .addresses import IPAddress
from .errors import UnsafeURL, shown

MAX_URL = 8192
DEFAULT_PORTS = {"http": 80, "https": 443}
HTTPS_REQUIRED = "must use https (plain http only for hosts in outbound_allow)"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
# What the WHATWG URL parser takes for a number in a host's last label (then reads it as IPv4).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_ASCII_HOST = re.compile(r"[A-Za-z0-9._-]+")
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")
_PORT = re.compile(r"[0-9]{1,5}")
_HEX = frozenset("0123456789abcdefABCDEF")
# RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ":" and "@" (plus "/" in paths
# and "/" and "?" in queries).
_PCHAR = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"
)
_PATH_KEEP = _PCHAR | {"/"}
_QUERY_KEEP = _PCHAR | {"/", "?"}
# Characters refused anywhere: controls (C0, DEL, C1), format characters (bidi overrides,
# zero-width), separators; whitespace of any kind is refused separately.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class Target:
    """A parsed, normalised URL: exactly what the client checks and connects to."""

    scheme: str
    host: str  # A-label host name, lower case, or an IP literal (IPv6 without brackets)
    port: int  # explicit or the scheme's default
    target: str  # request-target: percent-encoded path (at least "/") and "?query"
    literal: IPAddress | None  # the host as an address when it is an IP literal
    url: str  # the normalised URL (no fragment)

    @property
    def default_port(self) -> bool:
        return self.port == DEFAULT_PORTS[self.scheme]

    @property
    def host_header(self) -> str:
        """The Host header (and URL authority): host or [v6], plus :port when not default."""
        host = f"[{self.host}]" if isinstance(self.literal, ipaddress.IPv6Address) else self.host
        return host if self.default_port else f"{host}:{self.port}"


def parse_url(
    url: str, *, require_https: bool = True, allow_http_hosts: Container[str] = frozenset()
) -> Target:
    """Parse `url` strictly (see the module docstring) or raise UnsafeURL saying why.

    With `require_https`, plain http is refused unless the host is in `allow_http_hosts`. The
    outbound client parses with require_https=False and applies the full rule (which also
    allows http to addresses in allowed networks) once the host is resolved."""
    if not isinstance(url, str):
        raise UnsafeURL(f"not a URL: expected text, got {type(url).__name__}")
    if len(url) > MAX_URL:
        raise UnsafeURL(f"the URL is longer than {MAX_URL} characters")
    _refuse_unsafe_characters(url)
    match = _SCHEME.match(url)
    if not match:
        raise UnsafeURL(f"not an absolute http(s) URL: {shown(url)}")
    scheme = match.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeURL(f"scheme {shown(scheme, 20)} is not allowed: only http and https URLs")
    rest = url[match.end() :]
    if not rest.startswith("//"):
        raise UnsafeURL(f"expected '//' after '{scheme}:' in {shown(url)}")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, rest = rest[:end], rest[end:]
    host, port, literal = _parse_authority(authority, scheme)

    rest = rest.split("#", 1)[0]  # the fragment is never sent
    path, sep, query = rest.partition("?")
    target = _remove_dot_segments(_encode(path, _PATH_KEEP) or "/")
    if sep:
        target += "?" + _encode(query, _QUERY_KEEP)
    if require_https and scheme == "http" and host not in allow_http_hosts:
        raise UnsafeURL(f"{HTTPS_REQUIRED}, got {shown(url)}")
    # Built in two steps: url needs host_header, which needs the other fields.
    partial = Target(scheme, host, port, target, literal, "")
    return Target(scheme, host, port, target, literal, f"{scheme}://{partial.host_header}{target}")


def _refuse_unsafe_characters(url: str) -> None:
    for index, ch in enumerate(url):
        if ch == "\\":
            raise UnsafeURL(
                f"a backslash is not allowed in a URL (clients disagree on what it means), "
                f"at position {index}"
            )
        if ch.isspace():
            raise UnsafeURL(
                f"whitespace (U+{ord(ch):04X}) is not allowed in a URL, at position {index}"
            )
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise UnsafeURL(
                f"control or invisible character U+{ord(ch):04X} is not allowed in a URL, "
                f"at position {index}"
            )


def _parse_authority(authority: str, scheme: str) -> tuple[str, int, IPAddress | None]:
    if "@" in authority:
        raise UnsafeURL("credentials in the URL are not allowed (use custom headers)")
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise UnsafeURL(f"unterminated IPv6 literal in {shown(authority)}")
        inside, after = authority[1:close], authority[close + 1 :]
        if "%" in inside:
            raise UnsafeURL("IPv6 zone ids (%25…) are not allowed in a URL")
        if after and not after.startswith(":"):
            raise UnsafeURL(f"unexpected characters after the IPv6 literal in {shown(authority)}")
        try:
            if not _IPV6_CHARS.fullmatch(inside):
                raise ValueError(inside)
            literal: IPAddress | None = ipaddress.IPv6Address(inside)
        except ValueError:
            raise UnsafeURL(f"not a valid IPv6 address: {shown(inside)}") from None
        host = literal.compressed
        port_text: str | None = after[1:] if after else None
    else:
        if "%" in authority:
            raise UnsafeURL("percent-encoding is not allowed in the host")
        if authority.count(":") > 1:
            raise UnsafeURL(
                f"not a valid host: {shown(authority)} (an IPv6 address must be in brackets)"
            )
        host_text, sep, port_part = authority.partition(":")
        port_text = port_part if sep else None
        host, literal = _parse_host(host_text)
    return host, _parse_port(port_text, scheme), literal


def _parse_host(text: str) -> tuple[str, IPAddress | None]:
    if not text:
        raise UnsafeURL("the URL has no host")
    if text.isascii():
        if not _ASCII_HOST.fullmatch(text):
            raise UnsafeURL(f"not a valid host name: {shown(text)}")
        name = text.lower()
    else:
        try:
            name = idna.encode(text, uts46=True).decode("ascii").lower()
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise UnsafeURL(f"not a valid international host name {shown(text)}: {exc}") from None
    if name.endswith("."):
        name = name[:-1]
    if text.isascii() and _DOTTED_QUAD.fullmatch(name):
        return name, ipaddress.IPv4Address(name)
    labels = name.split(".")
    if not name or "" in labels:
        raise UnsafeURL(f"host {shown(text)} has an empty label")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise UnsafeURL(
            f"host {shown(text)} is a number or a non-canonical IPv4 address "
            "(only the dotted-quad form a.b.c.d, without leading zeros, is accepted)"
        )
    if len(name) > 253:
        raise UnsafeURL(f"host {shown(text)} is longer than 253 characters")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise UnsafeURL(
                f"host {shown(text)} has an invalid label {shown(label, 70)} "
                "(1 to 63 letters, digits, '-' or '_')"
            )
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                raise UnsafeURL(f"host {shown(text)} has an invalid A-label {label!r}") from None
    return name, None


def _parse_port(text: str | None, scheme: str) -> int:
    if text is None:
        return DEFAULT_PORTS[scheme]
    if not text:
        raise UnsafeURL("the port is empty (drop the ':' or give a number)")
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise UnsafeURL(f"not a valid port: {shown(text, 20)} (1 to 65535, digits only)")
    return int(text)


def _encode(text: str, keep: frozenset[str]) -> str:
    """Percent-encode (UTF-8) every character not in `keep`, except valid %XX escapes."""
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch in keep:
            out.append(ch)
        elif ch == "%" and _is_escape(text, index):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _is_escape(text: str, index: int) -> bool:
    """Whether text[index] (a '%') starts a valid %XX escape."""
    return text[index + 1 : index + 2] in _HEX and text[index + 2 : index + 3] in _HEX


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path; `%2e` counts as a dot (as in the WHATWG standard)."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        dots = segment.lower().replace("%2e", ".")
        if dots == ".":
            if last:
                out.append("")
        elif dots == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)
