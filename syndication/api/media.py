"""/api/v1/media: upload an image (multipart/form-data, field `file`); answers its public URL,
type, size and dimensions, ready to be a story's `image`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from syndication.api.common import Blueprint
from syndication.api.media_schemas import MediaIn, MediaOut
from syndication.auth.access import requires
from syndication.media.store import MediaStore, TooLarge
from syndication.runtime import runtime

blp = Blueprint("media_api", __name__, url_prefix="/api/v1/media", description="Uploaded images")
LOCATION = {"Location": {"description": "URL of the image", "schema": {"type": "string"}}}


@blp.errorhandler(TooLarge)
def _too_large(exc: TooLarge) -> Response:
    response = jsonify(error={"code": exc.code, "message": exc.message, "fields": exc.fields})
    response.status_code = 413
    return response


@blp.route("", methods=["POST"])
@requires("editor")
@blp.arguments(MediaIn, location="files")
@blp.response(201, MediaOut, headers=LOCATION, description="A new image was stored")
@blp.alt_response(
    200, schema=MediaOut, headers=LOCATION, description="The same image was uploaded before"
)
def upload(files: dict[str, Any]) -> Any:
    """Upload an image

    JPEG, PNG, WebP or GIF, sent as multipart/form-data in the field `file`. The type, size and
    pixel dimensions are read from the bytes with Pillow (the client's Content-Type and file
    name are not believed); SVG and every other type are refused, and so are empty, truncated
    and corrupt files and images with more than `media_max_pixels` pixels (422), and files
    larger than `media_max_bytes` (413). What is stored is the image encoded again, without
    its metadata (EXIF, GPS, comments) or anything appended to it. The same image uploaded
    twice is stored once: the second upload answers 200 with the same URL.
    """
    rt = runtime()
    store = MediaStore.from_settings(rt.settings)
    media, new = store.put(store.read(files["file"].stream))
    url = media.url(rt.settings)
    return media.as_image(rt.settings), 201 if new else 200, {"Location": url}
