"""Helpers for the import parser tests (named uniquely: test folders share one import path)."""

from __future__ import annotations

import ipaddress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

from syndication.imports import Record, read_source
from syndication.imports.sources import DEFAULT_MAX_BYTES, fetcher
from syndication.outbound import OutboundClient, OutboundPolicy

DATA = Path(__file__).parent / "data"
LONDON = ZoneInfo("Europe/London")


LOOPBACK = OutboundPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))


def read_all(path_or_url: str | Path, policy: OutboundPolicy = LOOPBACK, **kwargs) -> list[Record]:
    """Every record of a file, or of a URL fetched through a real outbound client (allowed to
    call this machine's test servers unless another `policy` is given)."""
    kwargs.setdefault("tz", LONDON)
    if "://" not in str(path_or_url) or "fetch" in kwargs:
        return list(read_source(str(path_or_url), **kwargs))
    with OutboundClient(policy) as client:
        fetch = fetcher(client, max_bytes=kwargs.get("max_bytes", DEFAULT_MAX_BYTES))
        return list(read_source(str(path_or_url), fetch=fetch, **kwargs))


class Served:
    """A real HTTP server on 127.0.0.1: `routes` maps a path to (status, content type, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                status, kind, body = routes.get(self.path, (404, "text/plain", b"not here"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path
