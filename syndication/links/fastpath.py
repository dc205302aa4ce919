"""Short link redirects answered at the WSGI layer, before Flask.

A redirect is the other hot path besides feeds: Flask's request context, session handling and
response objects cost twice the redirect itself (bench/RESULTS.md). This middleware answers
`GET|HEAD /s/<code>` whenever the answer is a redirect — the same lookup and the same decision
(links/redirect.py) as the Flask route, the visit buffered the same way — and hands everything
else (unknown, expired, used up, retracted: the HTML error pages) to the Flask route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from syndication.links.redirect import answer
from syndication.runtime import Runtime

_PATH = re.compile(r"/s/([A-Za-z0-9][A-Za-z0-9_-]{0,63})")
_STATUS_LINES = {
    301: "301 MOVED PERMANENTLY",
    302: "302 FOUND",
    307: "307 TEMPORARY REDIRECT",
    308: "308 PERMANENT REDIRECT",
}


def medium_of(query: str) -> str:
    """`?m=qr` marks a scan of the QR code; anything else is a click on the link."""
    if not query:
        return "link"
    return "qr" if ("m", "qr") in parse_qsl(query) else "link"


class RedirectFastPath:
    def __init__(self, app: Callable[..., Iterable[bytes]], rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method == "GET" or method == "HEAD":
            match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match:
                rt = self.rt
                outcome = answer(
                    rt.db,
                    match[1],
                    rt.settings,
                    rt.visits,
                    medium=medium_of(environ.get("QUERY_STRING", "")),
                    user_agent=environ.get("HTTP_USER_AGENT", ""),
                    referrer=environ.get("HTTP_REFERER"),
                    now=rt.clock(),
                )
                if outcome.location is not None:
                    start_response(
                        _STATUS_LINES[outcome.status],
                        [
                            ("Location", outcome.location),
                            ("Cache-Control", "private, no-store"),
                            ("Content-Length", "0"),
                        ],
                    )
                    return []
        return self.app(environ, start_response)
