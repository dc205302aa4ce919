"""Requests counted by route class and status, in the outermost WSGI middleware: what the fast
paths (cached feeds, short link redirects, QR images) answer before Flask counts too.

Kept cheap, as it wraps the hottest request the service answers (a feed cache hit): the class
comes from the path's first segment (a dict lookup, no routing), and the counter's child for a
(class, status) pair is looked up once and kept (bench/RESULTS.md, "Request metrics").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from syndication.ops.metrics import Metrics

# First path segment -> route class. Anything else is "other" (home, channel pages, sitemaps,
# static files, /healthz, /ready, /metrics): a bounded set of label values whatever is asked.
_CLASSES = {
    "feeds": "feeds",
    "feeds.opml": "feeds",
    "stories": "story_pages",
    "s": "short_links",
    "hub": "hub",
    "api": "api",
    "admin": "admin",
    "portal": "portal",
    "media": "media",
}
ROUTE_CLASSES = (*dict.fromkeys(_CLASSES.values()), "qr", "other")


def route_class(path: str) -> str:
    """The class of a request path, for the route label."""
    first = path[1:].split("/", 1)[0] if path.startswith("/") else ""
    name = _CLASSES.get(first, "other")
    if name == "short_links" and "/qr." in path:
        return "qr"  # /s/<code>/qr.svg|png
    return name


class RequestCounter:
    def __init__(self, app: Callable[..., Iterable[bytes]], metrics: Metrics) -> None:
        self.app = app
        self.counter = metrics.requests
        # (route class, status) -> the counter's child; bounded by the classes times the
        # statuses the service answers with. Filled without a lock: a race only looks the same
        # child up twice.
        self._children: dict[tuple[str, str], Any] = {}

    def _count(self, route: str, status: str) -> None:
        child = self._children.get((route, status))
        if child is None:
            child = self._children[(route, status)] = self.counter.labels(route, status)
        child.inc()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        route = route_class(environ.get("PATH_INFO", ""))
        counted = []

        def counting_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            if not counted:  # once, though an error after the headers calls it again
                counted.append(True)
                self._count(route, status[:3])
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, counting_start_response)
        except BaseException:
            if not counted:
                self._count(route, "500")  # the server answers 500 for what escapes the app
            raise
