"""Checks on URLs the service calls (partner webhooks, WebSub callbacks): https only, and never a
private, loopback, link-local or otherwise non-public address after DNS resolution, unless the
host is allowed by the `outbound_allow` setting (host names and CIDR ranges)."""

from __future__ import annotations

import functools
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from syndication.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """A URL the service refuses to call; str() says why."""


class ResolveTimedOut(Exception):
    """The host did not resolve within the time given: neither allowed nor refused yet."""


# Bounded lookups run here, so a resolver that never answers holds one of these threads, not
# the request's (getaddrinfo itself cannot be given a timeout).
_RESOLVERS = ThreadPoolExecutor(4, thread_name_prefix="resolve")


def _allow_list(settings: Settings) -> tuple[frozenset[str], tuple[ipaddress._BaseNetwork, ...]]:
    return _parse_allow_list(settings.outbound_allow_list)


@functools.lru_cache(maxsize=32)
def _parse_allow_list(
    entries: tuple[str, ...],
) -> tuple[frozenset[str], tuple[ipaddress._BaseNetwork, ...]]:
    """The allow-list's host names and networks (parsed once per distinct setting: this is only
    the setting's text, the DNS resolution of the URL's host is still done on every check)."""
    names: set[str] = set()
    networks: list[ipaddress._BaseNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(networks)


def _why_not_public(addr: IPAddress) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for attr, label in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(addr, attr):
            return label
    if not addr.is_global:
        return "non-public"
    return None


def resolve_host(host: str, port: int, timeout: float | None = None) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself); ResolveTimedOut
    when a `timeout` is given and the resolver takes longer."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        if timeout is None:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        else:
            lookup = _RESOLVERS.submit(socket.getaddrinfo, host, port, proto=socket.IPPROTO_TCP)
            try:
                infos = lookup.result(timeout)
            except TimeoutError:
                raise ResolveTimedOut(
                    f"host {host!r} did not resolve within {timeout:g} s"
                ) from None
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"host {host!r} does not resolve: {exc}") from None
    seen: list[IPAddress] = []
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if addr not in seen:
            seen.append(addr)
    return seen


def check_url(
    url: str, settings: Settings, *, resolve: bool = True, resolve_timeout: float | None = None
) -> str:
    """Return `url` if the service may call it, else raise UnsafeURL with the reason.

    With resolve=False host names are not looked up (only IP literals are checked); with a
    `resolve_timeout`, a lookup taking longer raises ResolveTimedOut."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"must be an https URL, got scheme {parts.scheme or 'none'!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in the URL are not allowed (use custom headers)")
    names, networks = _allow_list(settings)
    if host in names:
        return url  # explicitly allowed: any address, http too
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses: list[IPAddress] = []
    if literal is not None or resolve:
        try:
            addresses = resolve_host(host, port, resolve_timeout)
        except UnsafeURL:
            if parts.scheme != "https":
                addresses = []  # the scheme is the first thing to fix
            else:
                raise
    allowed = bool(addresses) and all(any(a in n for n in networks) for a in addresses)
    if parts.scheme != "https" and not allowed:
        raise UnsafeURL(
            f"must use https (plain http only for hosts in outbound_allow), got {url!r}"
        )
    if allowed:
        return url
    for addr in addresses:
        if any(addr in n for n in networks):
            continue
        reason = _why_not_public(addr)
        if reason:
            raise UnsafeURL(
                f"host {host!r} resolves to {reason} address {addr}; "
                "only public addresses can be called unless allowed by outbound_allow"
            )
    return url
