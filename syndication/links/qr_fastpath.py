"""Cached QR images served at the WSGI layer, before Flask (like channels/fastpath.py).

A QR image never changes for a given code and parameters (codes are never reused), so a cached
image is served with no database query at all: parse the query string (memoised), one dict
lookup, headers made when the image was rendered. Misses, errors and anything odd go to the Flask
route in links/qr_routes.py, which renders, caches and holds the full behaviour; both layers
share the cache, the query parsing and the conditional-GET rule, so a response is identical
whichever layer sends it.

A link deleted after its QR was cached keeps being served from this process's cache until the
entry ages out of the LRU — as it would from every browser and CDN that holds the year-long,
immutable response anyway.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from syndication.channels.cache import PageCache, cached_size
from syndication.links.qr import QrParamError, QrParams, parse_query

# Bytes of rendered images kept per process. Parameters are the client's choice (size, colours,
# margin, ecc), so the key space is huge; a byte bound keeps it at this whatever is asked. An
# image is a few hundred bytes (SVG) to a few kB (2048 px PNG): thousands fit.
CACHE_BYTES = 8 * 1024 * 1024
CONTENT_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
CACHE_CONTROL = "public, max-age=31536000, immutable"
EXTENSION_KEY = "syndication.qr"
# The codes links/codes.py hands out and the custom slugs it accepts.
_PATH = re.compile(r"/s/([A-Za-z0-9_-]{1,64})/qr\.(svg|png)")


@dataclass(frozen=True, slots=True)
class QrImage:
    body: bytes
    etag: str  # strong, without quotes: a hash of the body
    headers: list[tuple[str, str]]  # of a 200, Content-Length included
    not_modified_headers: list[tuple[str, str]]  # of a 304

    @property
    def nbytes(self) -> int:
        return cached_size(self.body, self.headers)

    @classmethod
    def make(cls, body: bytes, fmt: str) -> QrImage:
        etag = hashlib.sha256(body).hexdigest()[:32]
        common = [("ETag", f'"{etag}"'), ("Cache-Control", CACHE_CONTROL)]
        return cls(
            body,
            etag,
            [
                ("Content-Type", CONTENT_TYPES[fmt]),
                ("Content-Length", str(len(body))),
                *common,
                ("X-Content-Type-Options", "nosniff"),
            ],
            common,
        )

    def not_modified(self, if_none_match: str | None) -> bool:
        """If-None-Match (RFC 9110 13.1.2): weak comparison, '*' matches."""
        if if_none_match is None:
            return False
        if if_none_match.strip() == "*":
            return True
        return any(
            tag.strip().removeprefix("W/").strip('"') == self.etag
            for tag in if_none_match.split(",")
        )


@dataclass
class QrStore:
    """The rendered images of this process, keyed by (code, fmt, QrParams), and counters."""

    cache: PageCache = field(default_factory=lambda: PageCache(CACHE_BYTES))
    hits: int = 0  # answered by the fast path (not exact under concurrent increments)
    renders: int = 0  # rendered by the route

    def get(self, code: str, fmt: str, params: QrParams) -> QrImage | None:
        return self.cache.get((code, fmt, params))  # type: ignore[return-value]

    def put(self, code: str, fmt: str, params: QrParams, image: QrImage) -> None:
        self.cache.put((code, fmt, params), image)  # type: ignore[arg-type]


def forget_images() -> None:
    """Drop this process's cached QR images: after a takedown its News Link's QR answers 410
    at once here (other processes' caches age out, as for a deleted link)."""
    from flask import current_app

    store = current_app.extensions.get(EXTENSION_KEY)
    if store is not None:
        store.cache.clear()


class QrFastPath:
    def __init__(self, app: Callable[..., Iterable[bytes]], store: QrStore) -> None:
        self.app = app
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "GET" or method == "HEAD":
            path = environ.get("PATH_INFO", "")
            match = _PATH.fullmatch(path) if path.startswith("/s/") else None
            if match:
                try:
                    params = parse_query(environ.get("QUERY_STRING", ""))
                except QrParamError:
                    params = None  # the route answers the 400
                image = self.store.get(match[1], match[2], params) if params else None
                if image is not None:
                    self.store.hits += 1
                    if image.not_modified(environ.get("HTTP_IF_NONE_MATCH")):
                        start_response("304 NOT MODIFIED", list(image.not_modified_headers))
                        return []
                    start_response("200 OK", list(image.headers))
                    return [] if method == "HEAD" else [image.body]
        return self.app(environ, start_response)
