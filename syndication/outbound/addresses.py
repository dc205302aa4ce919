"""Is an address public? The judgement behind "only public addresses can be called".

An IPv6 address can carry an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
`::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`): a dual-stack socket,
a NAT64 gateway or a 6to4 relay would deliver to that IPv4 address, so it is unwrapped and
judged. Teredo (`2001::/32`) hides its client address behind an XOR and is refused outright.

The special-purpose ranges are listed here rather than taken only from `ipaddress`, whose tables
changed across Python patch releases (3.11.7 calls 192.0.0.8, 64:ff9b:1::1 and 5f00::1 global);
`is_global` still has the final word on anything not listed."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA special-purpose registries: ranges that are not globally reachable, with the label shown
# in messages. Order matters where ranges nest (the more specific first).
_V4_RANGES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), label)
    for net, label in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # former 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_V6_RANGES: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), label)
    for net, label in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "discard-only"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "IETF protocol assignment"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "reserved"),  # SRv6 SIDs
        ("fc00::/7", "private"),  # unique local
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NAT64_LOCAL_96 = ipaddress.IPv6Network("64:ff9b:1::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def why_not_public(addr: IPAddress | str) -> str | None:
    """A short label saying why `addr` is not a public address ("loopback", "private",
    "link-local", "multicast", "reserved", "unspecified", "shared address space", "Teredo",
    "non-public"…), or None when it is public and may be called."""
    if isinstance(addr, str):
        addr = ipaddress.ip_address(addr)
    if isinstance(addr, ipaddress.IPv4Address):
        return _why_not_public_v4(addr)
    return _why_not_public_v6(addr)


def _why_not_public_v4(addr: ipaddress.IPv4Address) -> str | None:
    for network, label in _V4_RANGES:
        if addr in network:
            return label
    return _by_attributes(addr)


def _why_not_public_v6(addr: ipaddress.IPv6Address) -> str | None:
    if addr.ipv4_mapped is not None:
        return _why_not_public_v4(addr.ipv4_mapped)
    if addr in _NAT64:
        return _why_not_public_v4(_low32(addr))
    if addr in _NAT64_LOCAL:
        # Local-use NAT64 translates to the site's own choice of IPv4 space: never public.
        return _why_not_public_v4(_nat64_local_v4(addr)) or "non-public"
    if addr in _TEREDO:
        return "Teredo"
    if addr in _SIX_TO_FOUR:
        assert addr.sixtofour is not None
        reason = _why_not_public_v4(addr.sixtofour)
        if reason:
            return reason
    elif addr in _V4_COMPATIBLE and int(addr) > 1:
        # Deprecated IPv4-compatible form (::a.b.c.d): judged by its IPv4, and never public.
        return _why_not_public_v4(_low32(addr)) or "reserved"
    for network, label in _V6_RANGES:
        if addr in network:
            return label
    return _by_attributes(addr)


def _by_attributes(addr: IPAddress) -> str | None:
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


def _low32(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)


def _nat64_local_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    """The IPv4 address in a 64:ff9b:1::/48 address (RFC 6052 §2.2): the /96 layout when the
    prefix is used as a /96, else the /48 layout (16 bits before the 'u' octet, 16 after)."""
    if addr in _NAT64_LOCAL_96:
        return _low32(addr)
    value = int(addr)
    high = (value >> 64) & 0xFFFF  # bits 48..63
    low = (value >> 40) & 0xFFFF  # bits 72..87
    return ipaddress.IPv4Address((high << 16) | low)
