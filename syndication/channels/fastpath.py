"""Cached feed pages served at the WSGI layer, before Flask.

A feed cache hit is the hottest request the service answers; going through Flask's request
context, routing and response objects cost more than the hit itself (bench/RESULTS.md). This
middleware answers exactly the requests whose page is already cached at the channel's current
version — one indexed read — and hands everything else (misses, errors, odd query strings) to
the Flask route in channels/routes.py, which holds the full behaviour. Both use the same cache
and the same conditional-GET rule, so a response is identical whichever layer sends it.
Headers that an after_request hook would add do not reach these responses: put them on the Page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from syndication.channels.cache import Page
from syndication.runtime import Runtime

_PATH = re.compile(r"/feeds/([a-z0-9]+(?:-[a-z0-9]+)*)\.(rss|atom|json)")
_CURSOR_QUERY = re.compile(r"before=(-?[0-9]{1,19}-[0-9]{1,19})")
HEAD_SQL = "SELECT id, version, formats FROM channels WHERE slug = ?"


def cached_page(rt: Runtime, slug: str, fmt: str, raw_before: str | None) -> Page | None:
    """The page if it is cached at the channel's current version (the one query of a hit)."""
    head = rt.db.fetch_one(HEAD_SQL, (slug,))
    if head is None:
        return None
    channel_id, version, formats = head
    # SQLite hands the JSON column over as text ('["rss", "atom"]'), PostgreSQL as a list.
    enabled = f'"{fmt}"' in formats if isinstance(formats, str) else fmt in formats
    if not enabled:
        return None
    return rt.pages.get((channel_id, version, fmt, raw_before))


class FeedFastPath:
    def __init__(self, app: Callable[..., Iterable[bytes]], rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "GET" or method == "HEAD":
            match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match:
                query = environ.get("QUERY_STRING", "")
                cursor = _CURSOR_QUERY.fullmatch(query) if query else None
                if not query or cursor:
                    page = cached_page(self.rt, match[1], match[2], cursor[1] if cursor else None)
                    if page is not None:
                        # A miss is counted by the Flask route, which looks again.
                        self.rt.metrics.feed_cache_lookup(match[2], True)
                        page = page.for_encoding(environ.get("HTTP_ACCEPT_ENCODING"))
                        return self._send(page, environ, start_response, method == "HEAD")
        return self.app(environ, start_response)

    def _send(
        self, page: Page, environ: dict[str, Any], start_response: Callable, head: bool
    ) -> Iterable[bytes]:
        now = self.rt.clock()
        if page.not_modified(
            environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"), now
        ):
            start_response("304 NOT MODIFIED", list(page.not_modified_headers))
            return []
        start_response("200 OK", list(page.headers_at(now)))
        return [] if head else [page.body]
