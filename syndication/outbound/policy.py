"""What may be called: the `outbound_allow` setting, the deadline and the read cap, and the rule
that judges a parsed URL and its resolved addresses.

The rule (documented for operators; keep it exactly):

- a host NAME in the allow list may resolve to any address and may use plain http;
- a URL whose every resolved address lies in an allowed network may use those addresses and
  plain http;
- otherwise https is required (unless the caller asks for require_https=False), and every
  resolved address must be public or lie in an allowed network.

An IP-literal host is judged like a resolved address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import idna

from .addresses import IPAddress, IPNetwork, why_not_public
from .errors import UnsafeURL, shown
from .urls import HTTPS_REQUIRED, Target

if TYPE_CHECKING:  # only a type: the package imports nothing else from the service
    from syndication.config import Settings


@dataclass(frozen=True)
class OutboundPolicy:
    """Allowed names and networks, one deadline for a whole exchange (seconds, from DNS to the
    last byte read) and how much of a response body is read."""

    allow_names: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    timeout: float = 15.0
    max_read: int = 65536

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        """The policy of a `syndication.config.Settings`: `outbound_allow_list` and
        `outbound_timeout` (15 s when the setting does not exist)."""
        names, networks = parse_allow_list(settings.outbound_allow_list)
        return cls(
            allow_names=names,
            allow_networks=networks,
            timeout=float(getattr(settings, "outbound_timeout", 15.0)),
        )

    def allows_name(self, host: str) -> bool:
        return host in self.allow_names

    def allows_address(self, addr: IPAddress) -> bool:
        """Whether `addr` lies in an allowed network (an IPv4-mapped IPv6 address counts as
        its IPv4 address: that is where a dual-stack socket connects)."""
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            if any(addr.ipv4_mapped in network for network in self.allow_networks):
                return True
        return any(addr in network for network in self.allow_networks)


def parse_allow_list(entries: Iterable[str]) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """Split allow-list entries into host names (A-label, lower case, no trailing dot) and
    networks (CIDR ranges or single addresses, IPv6 possibly bracketed)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = entry.rstrip(".")
        if not name.isascii():
            try:
                name = idna.encode(name, uts46=True).decode("ascii")
            except (idna.IDNAError, UnicodeError, ValueError):
                pass  # kept as written: it can never match a parsed host, which is harmless
        names.add(name)
    return frozenset(names), tuple(networks)


@dataclass(frozen=True)
class Checked:
    """A URL that passed the policy, with the addresses it may be connected to (one or more,
    in the resolver's order; the IP literal itself when the host is one)."""

    target: Target
    addresses: tuple[IPAddress, ...]


def judge(
    target: Target,
    addresses: Iterable[IPAddress],
    policy: OutboundPolicy,
    *,
    require_https: bool = True,
) -> None:
    """Raise UnsafeURL if `target`, resolved to `addresses`, may not be called (the rule in the
    module docstring). An empty `addresses` means "not resolved": only the scheme is judged."""
    if policy.allows_name(target.host):
        return
    addresses = list(addresses)
    allowed = bool(addresses) and all(policy.allows_address(a) for a in addresses)
    if require_https and target.scheme != "https" and not allowed:
        raise UnsafeURL(f"{HTTPS_REQUIRED}, got {shown(target.url)}")
    if allowed:
        return
    for addr in addresses:
        if policy.allows_address(addr):
            continue
        reason = why_not_public(addr)
        if reason:
            if target.literal is not None:
                subject = f"address {addr} is not public ({reason})"
            else:
                subject = f"host {shown(target.host)} resolves to {reason} address {addr}"
            raise UnsafeURL(
                f"{subject}; only public addresses can be called unless allowed by outbound_allow"
            )
