"""Short link routes: the redirect /s/<code>, and visit statistics in the API."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from syndication.errors import NotFound
from syndication.links.redirect import LOOKUP_SQL, resolve
from syndication.links.service import link_stats
from syndication.runtime import runtime

bp = Blueprint("links", __name__)


@bp.get("/s/<code>")
def follow(code: str) -> Response:
    rt = runtime()
    outcome = resolve(
        rt.db.fetch_one(LOOKUP_SQL, (code,)),
        rt.settings,
        rt.visits,
        medium="qr" if request.args.get("m") == "qr" else "link",
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


@bp.get("/api/v1/links/<code>/stats")
def stats(code: str) -> Response:
    rt = runtime()
    days = request.args.get("days", "30")
    if not days.isdigit() or not 1 <= int(days) <= 366:
        abort(400, "days: must be a whole number between 1 and 366")
    with rt.db.read() as session:
        try:
            return jsonify(link_stats(session, code, now=rt.clock(), days=int(days)))
        except NotFound as exc:
            abort(404, exc.message)
