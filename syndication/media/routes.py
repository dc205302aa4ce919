"""GET /media/<sha256>.<ext>: uploaded images, public, cacheable for a year (immutable)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_file

from syndication.auth.access import public
from syndication.media.store import MediaStore, mime_of
from syndication.runtime import runtime

bp = Blueprint("media", __name__)
YEAR = 31_536_000


@bp.get("/media/<name>")
@public
def media(name: str) -> Response:
    path = MediaStore.from_settings(runtime().settings).path(name)
    if path is None:
        abort(404, "No such media file.")
    response = send_file(path, mimetype=mime_of(name), etag=name.split(".")[0], conditional=True)
    # The name is the SHA-256 of the bytes: they can never change under this URL.
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    # Served as the image it was checked to be, never sniffed into anything else, and inert
    # if opened on its own (a stored file is a clean re-encoding, this is belt and braces).
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
