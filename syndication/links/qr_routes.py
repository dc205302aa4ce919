"""GET /s/<code>/qr.svg and /s/<code>/qr.png: the QR code of a short link, marked as a scan.

The image encodes `<base>/s/<code>?m=qr`, so the redirect counts scans apart from clicks. This
route handles what the WSGI fast path (links/qr_fastpath.py) does not: the first request for a
code and parameter set (one indexed query, then a render that is cached), bad parameters (400,
naming the parameter) and unknown or deleted codes (404).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from syndication.auth.access import public
from syndication.links.qr import QrParamError, parse_query, render_png, render_svg
from syndication.links.qr_fastpath import CONTENT_TYPES, EXTENSION_KEY, QrImage, QrStore
from syndication.links.service import short_url
from syndication.runtime import runtime

bp = Blueprint("qr", __name__)
LINK_SQL = (
    "SELECT links.id, stories.status FROM links LEFT JOIN stories ON stories.id = links.story_id"
    " WHERE links.code = ? AND links.deleted_at IS NULL"
)
RENDERERS = {"svg": render_svg, "png": render_png}


def _plain(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@bp.get("/s/<code>/qr.<fmt>")
@public
def qr_image(code: str, fmt: str) -> Response:
    if fmt not in CONTENT_TYPES:
        return _plain(404, f"unknown QR format {fmt!r}: use svg or png")
    try:
        # The raw query string, exactly as the fast path reads it, so both share cache keys.
        params = parse_query(request.environ.get("QUERY_STRING", ""))
    except QrParamError as exc:
        return _plain(400, str(exc))
    store: QrStore = current_app.extensions[EXTENSION_KEY]
    image = store.get(code, fmt, params)
    if image is None:
        rt = runtime()
        row = rt.db.fetch_one(LINK_SQL, (code,))
        if row is None:
            return _plain(404, f"no short link {code!r}")
        if row[1] == "killed":
            return _plain(410, f"the story of short link {code!r} was taken down")
        try:
            body = RENDERERS[fmt](short_url(rt.settings, code) + "?m=qr", params)
        except QrParamError as exc:  # size too small for this code and margin
            return _plain(400, str(exc))
        image = QrImage.make(body, fmt)
        store.put(code, fmt, params, image)
        store.renders += 1
    if image.not_modified(request.headers.get("If-None-Match")):
        return Response(status=304, headers=image.not_modified_headers)
    return Response(image.body, headers=image.headers)
