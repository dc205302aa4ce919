"""Content coding of public documents (RFC 9110 8.4, 12.5.3): whether a request takes gzip, and
the gzip-coded twin of a body.

Cached documents (feed pages, and whatever else is kept as a `channels.cache.Page`) are
compressed once, when the page is made; `Page.for_encoding` picks the twin per request. Documents
made per request (OPML, HTML pages) go through `encode_response`. Either way the gzip
representation has its own strong ETag (the identity's with a `-gz` suffix inside the quotes),
so a revalidation with one encoding's tag never answers 304 for the other.

gzip only, though PyPI's `brotli` wheel is maintained: feedparser and the W3C validator send
`gzip, deflate` and never br; gzip already divides a feed by six, and brotli's usual 10-20 % more
on text (not measured here) would cost a third copy of every cached page, for browsers only.

Only public, cacheable documents are encoded: a page that reflects the caller's input beside a
secret (the admin's CSRF token) would leak it to a BREACH-style length attack.
"""

from __future__ import annotations

import gzip
from functools import lru_cache

from werkzeug.wrappers import Response

# Below this, gzip's framing and the second ETag buy next to nothing (a 304 body is empty anyway).
MIN_BYTES = 256
# Fixed, so every web worker (and every node) makes the same bytes for a strong ETag.
LEVEL = 6
GZIP_SUFFIX = "-gz"
VARY = ("Vary", "Accept-Encoding")


def gzip_body(body: bytes) -> bytes | None:
    """The gzip coding of `body`, the same bytes on every call (no timestamp, no file name);
    None when the body is too small for it to pay or it would not shrink."""
    if len(body) < MIN_BYTES:
        return None
    coded = gzip.compress(body, compresslevel=LEVEL, mtime=0)
    return coded if len(coded) < len(body) else None


def _qvalue(params: list[str]) -> float | None:
    """The q parameter of one Accept-Encoding member: 1 when absent, None when malformed."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if 0 <= q <= 1 else None
    return 1.0


@lru_cache(maxsize=256)  # clients send a handful of distinct headers; parse each once
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether a request with this Accept-Encoding takes gzip (RFC 9110 12.5.3).

    gzip (or its alias x-gzip) with q > 0, or `*` with q > 0 when gzip is not named; and not
    when the client ranks identity above it (`gzip;q=0.5, identity`). No header means identity:
    any coding is allowed then, but a client that sends none may not decode one. A malformed
    member is ignored, as if it were not there.
    """
    if not accept_encoding:
        return False
    named: dict[str, float] = {}
    for member in accept_encoding.split(","):
        coding, *params = member.split(";")
        coding = coding.strip().lower()
        q = _qvalue(params)
        if not coding or q is None:
            continue
        if coding == "x-gzip":
            coding = "gzip"
        named[coding] = max(q, named.get(coding, 0.0))
    gzip_q = named.get("gzip", named.get("*", 0.0))
    if gzip_q <= 0:
        return False
    return "identity" not in named or gzip_q >= named["identity"]


def encode_response(response: Response, accept_encoding: str | None) -> Response:
    """Gzip a buffered response in place when the request takes it: body, Content-Encoding,
    Content-Length, ETag (suffixed) and Vary. Call before conditional-GET handling
    (`make_conditional`), so a 304 is decided on the encoding's own ETag."""
    if (
        response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
    ):
        return response
    response.vary.add("Accept-Encoding")
    if not accepts_gzip(accept_encoding):
        return response
    coded = gzip_body(response.get_data())
    if coded is None:
        return response
    response.set_data(coded)  # Content-Length too
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag:
        response.set_etag(etag + GZIP_SUFFIX, weak)
    return response
