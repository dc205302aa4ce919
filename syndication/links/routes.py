"""Short link routes: the redirect /s/<code> (the API's /api/v1/links lives in api/links.py).

Redirects are mostly answered by links/fastpath.py before Flask; this route answers the rest
(the error pages) and anything the middleware is bypassed for, with the same decision.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from syndication.auth.access import public
from syndication.links.fastpath import medium_of
from syndication.links.redirect import answer
from syndication.runtime import runtime

bp = Blueprint("links", __name__)


@bp.get("/s/<code>")
@public
def follow(code: str) -> Response:
    rt = runtime()
    outcome = answer(
        rt.db,
        code,
        rt.settings,
        rt.visits,
        medium=medium_of(request.query_string.decode("latin-1")),
        user_agent=request.headers.get("User-Agent", ""),
        referrer=request.headers.get("Referer"),
        now=rt.clock(),
    )
    if outcome.location is None:
        abort(outcome.status, outcome.reason)
    response = Response(status=outcome.status, headers={"Location": outcome.location})
    # Every visit must come back to be counted: no shared or browser caching of the redirect.
    response.headers["Cache-Control"] = "private, no-store"
    return response
