"""The outbound HTTP client: the one way the service calls URLs it was given (partner webhooks,
WebSub verification, notifications and denials, `syndication import <URL>`).

Strict URL parsing (`urls`), address classification (`addresses`), the allow-list policy
(`policy`), one DNS resolution per call (`resolver`), connections pinned to the checked address
with one deadline and a read cap (`client`). See `client`'s docstring for pinning and proxies.

This package imports nothing from the rest of the service (`syndication.config.Settings` only as
a type, for `OutboundPolicy.from_settings`), so it can be tested and reused on its own."""

from .addresses import IPAddress, IPNetwork, why_not_public
from .client import OutboundClient, default_ssl_context
from .errors import (
    BadResponse,
    ConnectFailed,
    DNSFailure,
    OutboundError,
    ResolveTimedOut,
    TimedOut,
    UnsafeURL,
)
from .policy import Checked, OutboundPolicy, judge, parse_allow_list
from .proxies import Proxies
from .resolver import Resolver, SystemResolver
from .response import Response
from .urls import Target, parse_url

__all__ = [
    "BadResponse",
    "Checked",
    "ConnectFailed",
    "DNSFailure",
    "IPAddress",
    "IPNetwork",
    "OutboundClient",
    "OutboundError",
    "OutboundPolicy",
    "Proxies",
    "ResolveTimedOut",
    "Resolver",
    "Response",
    "SystemResolver",
    "Target",
    "TimedOut",
    "UnsafeURL",
    "default_ssl_context",
    "judge",
    "parse_allow_list",
    "parse_url",
    "why_not_public",
]
