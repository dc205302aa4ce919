"""Uploaded images on disk: content-addressed files under `media_path` (default: the instance
folder's media/), served at <base_url>/media/<sha256>.<ext>. Knows nothing of HTTP.

A file's name is the SHA-256 of the bytes stored (the clean copy, images.clean_image), so the
same upload is the same file and the same URL (idempotent, no database row needed), and a URL
never changes what it shows: it can be cached for a year, immutable.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from syndication.config import Settings
from syndication.errors import ValidationError
from syndication.media.images import EXTENSIONS, clean_image, read_header

PREFIX = "/media/"
NAME_RE = re.compile(r"[0-9a-f]{64}\.(?:jpg|png|webp|gif)")


class TooLarge(ValidationError):
    """The file is larger than media_max_bytes (413 over HTTP)."""

    code = "too_large"


@dataclass(frozen=True)
class Media:
    name: str
    type: str
    length: int
    width: int
    height: int

    def url(self, settings: Settings) -> str:
        return media_url(settings, self.name)

    def as_image(self, settings: Settings) -> dict[str, Any]:
        """A story's `image` fields (without caption) for this file."""
        return {
            "url": self.url(settings),
            "type": self.type,
            "length": self.length,
            "width": self.width,
            "height": self.height,
        }


def media_url(settings: Settings, name: str) -> str:
    return f"{settings.base_url}{PREFIX}{name}"


def name_of_url(settings: Settings, url: str | None) -> str | None:
    """The media file name `url` points at when it is one of this service's media URLs."""
    if not url or not url.startswith(settings.base_url + PREFIX):
        return None
    name = url[len(settings.base_url + PREFIX) :]
    return name if NAME_RE.fullmatch(name) else ""


class MediaStore:
    def __init__(self, folder: Path, *, max_bytes: int, max_pixels: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaStore:
        return cls(
            settings.media_dir,
            max_bytes=settings.media_max_bytes,
            max_pixels=settings.media_max_pixels,
        )

    def path(self, name: str) -> Path | None:
        """The file of a media name, if the name is one and the file exists."""
        if not NAME_RE.fullmatch(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None

    def get(self, name: str) -> Media | None:
        path = self.path(name)
        if path is None:
            return None
        mime, width, height = read_header(str(path))
        return Media(name, mime, path.stat().st_size, width, height)

    def check_size(self, length: int | None) -> None:
        if length is not None and length > self.max_bytes:
            raise TooLarge(
                {"file": f"is larger than {self.max_bytes:,} bytes (setting media_max_bytes)"}
            )

    def read(self, stream: BinaryIO) -> bytes:
        """The bytes of an uploaded file, its size checked before they are read into memory."""
        try:
            stream.seek(0, os.SEEK_END)
            size: int | None = stream.tell()
            stream.seek(0)
        except (AttributeError, OSError):
            size = None  # not seekable: the read below is bounded all the same
        self.check_size(size)
        data = stream.read(self.max_bytes + 1)
        self.check_size(len(data))
        return data

    def put(self, data: bytes) -> tuple[Media, bool]:
        """Store an image (checked and cleaned); return it and whether it is new. Raises
        ValidationError (field "file"), TooLarge. CPU-bound: call it outside any transaction."""
        self.check_size(len(data))
        image = clean_image(data, max_pixels=self.max_pixels)
        name = f"{hashlib.sha256(image.data).hexdigest()}.{image.extension}"
        media = Media(name, image.type, len(image.data), image.width, image.height)
        target = self.folder / name
        if target.is_file():
            return media, False
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed into place: a reader never sees half a file, and two
        # uploads of the same image at once both end with the one complete file.
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(image.data)
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return media, True


def mime_of(name: str) -> str:
    return EXTENSIONS[name.rsplit(".", 1)[1]]
