"""Media payloads of the API: the upload (multipart) and the stored image it becomes."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields as f

from syndication.media.images import ACCEPTED


class MediaIn(ma.Schema):
    file = Upload(
        required=True,
        metadata={
            "description": f"The image: {ACCEPTED}, at most `media_max_bytes` bytes and "
            "`media_max_pixels` pixels. Its type is read from its bytes; the part's "
            "Content-Type and file name are ignored."
        },
    )


class MediaOut(ma.Schema):
    """An uploaded image, in the shape of a story's `image` (add a `caption` and send it as
    the story's `image`)."""

    url = f.String(
        required=True,
        metadata={
            "format": "uri",
            "description": "Public URL, <base_url>/media/<sha256 of the bytes>.<ext>: the same "
            "image always has the same URL, served with `Cache-Control: immutable`",
        },
    )
    type = f.String(
        required=True,
        validate=ma.validate.OneOf(("image/jpeg", "image/png", "image/webp", "image/gif")),
        metadata={"description": "MIME type, detected from the bytes"},
    )
    length = f.Integer(required=True, metadata={"description": "size in bytes, as stored"})
    width = f.Integer(required=True, metadata={"description": "pixels"})
    height = f.Integer(required=True, metadata={"description": "pixels"})
