"""Who may read /metrics: a client address within `metrics_allow`, or a request carrying the
bearer token `metrics_token`. Only a hash of the token is kept, and compared in constant time;
the token is never logged nor echoed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from syndication.config import Settings, parse_cidrs

ALLOWED = 200


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address((value or "").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1 (a dual-stack socket's view)
    return ip


class ScrapeAccess:
    def __init__(self, settings: Settings) -> None:
        self.networks = parse_cidrs("metrics_allow", settings.metrics_allow)
        token = settings.metrics_token
        if token.startswith("sha256:"):
            self.token_hash: bytes | None = bytes.fromhex(token.removeprefix("sha256:"))
        else:
            self.token_hash = hashlib.sha256(token.encode()).digest() if token else None

    def decide(self, address: str | None, authorization: str | None) -> int:
        """ALLOWED (200), 401 (a token is configured and none was sent) or 403.

        `address` is the client's as the app reads it (request.remote_addr: behind
        trusted_proxies, ProxyFix has put the real client's there)."""
        ip = _address(address)
        if ip is not None and any(ip in network for network in self.networks):
            return ALLOWED
        scheme, _, presented = (authorization or "").strip().partition(" ")
        presented = presented.strip()
        if self.token_hash is None:
            return 403
        if scheme.lower() != "bearer" or not presented:
            return 401
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        return ALLOWED if hmac.compare_digest(digest, self.token_hash) else 403
