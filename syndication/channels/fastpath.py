"""Cached feed pages served at the WSGI layer, before Flask.

A feed cache hit is the hottest request the service answers; going through Flask's request
context, routing and response objects cost more than the hit itself (bench/RESULTS.md). This
middleware answers exactly the requests whose page is already cached at the channel's current
version — one indexed read — and hands everything else (misses, errors, odd query strings) to
the Flask route in channels/routes.py, which holds the full behaviour. Both use the same cache
and the same conditional-GET rule, so a response is identical whichever layer sends it.
Headers that an after_request hook would add do not reach these responses: put them on the Page.
A GET of a channel's first page is counted for its reach (reach/buffer.py: an append to this
process's buffer), here and in the route alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from syndication.channels.cache import Page
from syndication.runtime import Runtime

_PATH = re.compile(r"/feeds/([a-z0-9]+(?:-[a-z0-9]+)*)\.(rss|atom|json)")
_CURSOR_QUERY = re.compile(r"before=(-?[0-9]{1,19}-[0-9]{1,19})")
HEAD_SQL = "SELECT id, version, formats FROM channels WHERE slug = ?"


def cached_page(
    rt: Runtime, slug: str, fmt: str, raw_before: str | None
) -> tuple[int, Page] | None:
    """The channel's id and the page, if it is cached at the channel's current version (the one
    query of a hit)."""
    head = rt.db.fetch_one(HEAD_SQL, (slug,))
    if head is None:
        return None
    channel_id, version, formats = head
    # SQLite hands the JSON column over as text ('["rss", "atom"]'), PostgreSQL as a list.
    enabled = f'"{fmt}"' in formats if isinstance(formats, str) else fmt in formats
    if not enabled:
        return None
    page = rt.pages.get((channel_id, version, fmt, raw_before))
    return None if page is None else (channel_id, page)


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
                    found = cached_page(self.rt, match[1], match[2], cursor[1] if cursor else None)
                    if found is not None:
                        channel_id, page = found
                        # A miss is counted by the Flask route, which looks again.
                        self.rt.metrics.feed_cache_lookup(match[2], True)
                        now = self.rt.clock()
                        if method == "GET" and not cursor:
                            self.rt.reach.hit(
                                channel_id,
                                environ.get("HTTP_USER_AGENT", ""),
                                environ.get("REMOTE_ADDR", ""),
                                now,
                            )
                        page = page.for_encoding(environ.get("HTTP_ACCEPT_ENCODING"))
                        return self._send(page, environ, start_response, method == "HEAD", now)
        return self.app(environ, start_response)

    def _send(
        self,
        page: Page,
        environ: dict[str, Any],
        start_response: Callable,
        head: bool,
        now: datetime,
    ) -> Iterable[bytes]:
        if page.not_modified(
            environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"), now
        ):
            start_response("304 NOT MODIFIED", list(page.not_modified_headers))
            return []
        start_response("200 OK", list(page.headers_at(now)))
        return [] if head else [page.body]
