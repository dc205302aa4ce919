"""Forward proxies for outbound calls: none unless configured, and the pinning holds through one.

The request still goes to the checked address: a plain-http request is sent to the proxy as
`POST http://<address>:<port>/path` with `Host: <name>`, and an https one as
`CONNECT <address>:<port>` with TLS (SNI and certificate check by host name) inside the tunnel.
So the proxy never resolves the name itself (no second lookup that could answer differently),
and a proxy that filters by destination sees addresses, not names."""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from yarl import URL

from .urls import Target


@dataclass(frozen=True)
class Proxies:
    """Proxy URLs by scheme ("http", "https", "all" as a fallback) and the NO_PROXY list."""

    by_scheme: Mapping[str, URL] = field(default_factory=dict)
    headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # by scheme
    no: str = ""

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str] | None) -> Proxies:
        """Read {"http": url, "https": url, "all": url, "no": "host1,host2"} (the shape of
        urllib.request.getproxies()). Credentials in a proxy URL become its
        Proxy-Authorization header. ValueError on a proxy URL that is not http(s)://host."""
        by_scheme: dict[str, URL] = {}
        headers: dict[str, dict[str, str]] = {}
        no = ""
        for key, value in (mapping or {}).items():
            key = key.lower().removesuffix("_proxy")
            if key == "no":
                no = value or ""
                continue
            if key not in ("http", "https", "all") or not value:
                continue
            if "://" not in value:
                value = "http://" + value  # as curl and requests read "proxy:3128"
            url = URL(value)
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError(f"not an http(s) proxy URL: {url.with_user(None)}")
            if url.user is not None:
                credentials = f"{unquote(url.raw_user or '')}:{unquote(url.raw_password or '')}"
                token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
                headers[key] = {"Proxy-Authorization": f"Basic {token}"}
                url = url.with_user(None)
            by_scheme[key] = url
        return cls(by_scheme=by_scheme, headers=headers, no=no)

    @classmethod
    def from_environment(cls) -> Proxies:
        """HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY as they are now (read once)."""
        return cls.from_mapping(urllib.request.getproxies())

    def __bool__(self) -> bool:
        return bool(self.by_scheme)

    def for_target(self, target: Target) -> tuple[URL | None, Mapping[str, str] | None]:
        """The proxy to use for `target` and its headers, or (None, None) to connect directly
        (no proxy for the scheme, or the host matches NO_PROXY)."""
        key = target.scheme if target.scheme in self.by_scheme else "all"
        proxy = self.by_scheme.get(key)
        if proxy is None:
            return None, None
        if self.no and urllib.request.proxy_bypass_environment(target.host, {"no": self.no}):
            return None, None
        return proxy, self.headers.get(key)
