"""Name resolution for the outbound client: one lookup per request, every answer kept.

The client resolves a host once, checks every address it got, and connects to one of those
addresses: nothing resolves the name a second time, so a name that flips between a public
address and 127.0.0.1 (DNS rebinding) cannot slip past the check. A Resolver is anything with
`resolve`; tests pass their own (the world's DNS is outside the test machine)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Protocol

from .addresses import IPAddress
from .errors import DNSFailure, shown


class Resolver(Protocol):
    """Resolves host names to addresses for the outbound client (run on the client's loop)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host` (de-duplicated, in the order given), or raise DNSFailure."""
        ...


class SystemResolver:
    """The system's resolver (getaddrinfo: /etc/hosts, DNS, nsswitch) on the running loop's
    default executor. The outbound client sets a bounded thread pool as its loop's default
    executor, so lookups that hang hold at most that many threads; the request's deadline
    stops the wait (getaddrinfo itself cannot be given a timeout)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            reason = exc.strerror or exc
            raise DNSFailure(f"host {shown(host)} does not resolve: {reason}") from None
        except (OSError, UnicodeError) as exc:
            raise DNSFailure(f"host {shown(host)} does not resolve: {exc}") from None
        addresses = unique_addresses(info[4][0] for info in infos)
        if not addresses:
            raise DNSFailure(f"host {shown(host)} does not resolve: no address")
        return addresses


def unique_addresses(raw: Iterable[str]) -> list[IPAddress]:
    """Addresses from text (a `%scope` suffix dropped), de-duplicated, in their first order."""
    seen: list[IPAddress] = []
    for text in raw:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
        if addr not in seen:
            seen.append(addr)
    return seen
