"""What an uploaded file really is, read by Pillow, and the clean copy of it that is stored.

Nothing the client says is believed: not its Content-Type, not its file name. The bytes must
open as JPEG, PNG, WebP or GIF (Pillow restricted to those four decoders: SVG, BMP, TIFF, PDF,
HTML and anything else are refused before any other decoder sees them), declare no more pixels
than the limit (checked on the header, before a byte of pixel data is decoded, so a
decompression bomb costs nothing), and decode completely (a truncated file is refused).

The stored file is then the image encoded again by Pillow, not the bytes sent: whatever rode
along outside the pixels (HTML or a ZIP appended after the image's end, scripts in comments,
EXIF with the camera's GPS position, XMP) is not in it, so a polyglot comes out a plain image.
Kept: the colour profile (ICC) and, for JPEG, the original quantisation tables (`quality=
"keep"`: no visible loss); an EXIF orientation is applied to the pixels before it is dropped.
The encoding is deterministic, so the same upload always gives the same bytes (and name).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from syndication.errors import ValidationError

# Pillow format -> (MIME type, file extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
EXTENSIONS = {ext: mime for mime, ext in FORMATS.values()}
ACCEPTED = "JPEG, PNG, WebP or GIF"
_ORIENTATION = 0x0112
# Lossy re-encodings (a rotated JPEG, a lossy WebP) are written at this quality.
LOSSY_QUALITY = 90


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    type: str
    extension: str
    width: int
    height: int


def _refuse(message: str) -> ValidationError:
    return ValidationError({"file": message})


def _frames(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1) or 1)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    try:
        # Pillow refuses beyond twice its MAX_IMAGE_PIXELS by itself (and only warns between
        # one and two times it); media_max_pixels, at most MAX_IMAGE_PIXELS, is checked below.
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        frames = _frames(image)
    except Image.DecompressionBombError:
        raise _refuse(f"has too many pixels (more than {max_pixels:,})") from None
    except UnidentifiedImageError:
        raise _refuse(f"is not a {ACCEPTED} image") from None
    except Exception:  # noqa: BLE001 - any failure of a decoder on hostile bytes is a refusal
        raise _refuse(f"is not a readable {ACCEPTED} image") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise _refuse("has no pixels")
    if width * height * frames > max_pixels:
        raise _refuse(
            f"has too many pixels: {width}×{height}"
            + (f"×{frames} frames" if frames > 1 else "")
            + f", more than {max_pixels:,} (setting media_max_pixels)"
        )
    return image


def _decode_all(image: Image.Image) -> None:
    """Decode every frame: a truncated or corrupt file fails here, not in a reader's browser."""
    for index in range(_frames(image)):
        image.seek(index)
        image.load()
    image.seek(0)


# What an encoder may carry over from the decoded file's `info`: how to show the pixels. The rest
# (comments, EXIF, XMP, Photoshop blocks, text chunks) is where payloads and private data ride.
_KEPT_INFO = frozenset({"transparency", "background", "duration", "loop", "disposal", "blend"})


def _strip_info(image: Image.Image) -> None:
    for key in set(image.info) - _KEPT_INFO:
        del image.info[key]


def _encode(image: Image.Image, data: bytes) -> bytes:
    out = io.BytesIO()
    kind = image.format
    icc = image.info.get("icc_profile") or None
    animated = _frames(image) > 1
    if kind == "JPEG":
        if image.getexif().get(_ORIENTATION, 1) != 1:
            upright = ImageOps.exif_transpose(image)
            _strip_info(upright)
            upright.save(out, "JPEG", quality=LOSSY_QUALITY, icc_profile=icc)
        else:
            _strip_info(image)
            image.save(out, "JPEG", quality="keep", icc_profile=icc)
        return out.getvalue()
    _strip_info(image)
    if kind == "PNG":
        image.save(out, "PNG", icc_profile=icc, save_all=animated)
    elif kind == "GIF":
        image.save(out, "GIF", save_all=animated)
    else:  # WEBP
        lossless = data[12:16] == b"VP8L" or (data[12:16] == b"VP8X" and b"VP8L" in data)
        options = {"lossless": True} if lossless else {"quality": LOSSY_QUALITY}
        image.save(out, "WEBP", icc_profile=icc or "", save_all=animated, **options)
    return out.getvalue()


def clean_image(data: bytes, *, max_pixels: int) -> CleanImage:
    """The image in `data`, checked and encoded again; ValidationError on field "file"."""
    if not data:
        raise _refuse("is empty (0 bytes)")
    image = _open(data, max_pixels)
    kind = image.format or ""
    try:
        _decode_all(image)
        encoded = _encode(image, data)
        width, height = Image.open(io.BytesIO(encoded)).size
    except MemoryError:
        raise _refuse("is too large to decode") from None
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - truncated, corrupt, or a decoder's error on hostile bytes
        raise _refuse(f"is truncated or corrupt: not a readable {ACCEPTED} image") from None
    finally:
        image.close()
    mime, extension = FORMATS[kind]
    return CleanImage(encoded, mime, extension, width, height)


def read_header(data: io.BufferedIOBase | str) -> tuple[str, int, int]:
    """(MIME type, width, height) of a stored file, from its header only."""
    with Image.open(data, formats=list(FORMATS)) as image:
        return FORMATS[image.format or ""][0], image.size[0], image.size[1]
