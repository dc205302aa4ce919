"""The one type every parser yields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Record:
    """One story read from a source, or the reason it could not be read.

    `location` says where it came from ("file.txt:12", "file.json: record 3",
    "https://x/feed.xml: item 4") so the CLI can point at the problem and carry on.
    """

    location: str
    data: dict[str, Any] | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.data is not None


def failed(location: str, reason: str) -> Record:
    return Record(location=location, data=None, error=reason)


def bad_utf8(text: str) -> bool:
    """True if `text`, decoded with surrogateescape, held bytes that are not UTF-8."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


NOT_UTF8 = "is not valid UTF-8 text"


def content_identity(kind: str, data: dict[str, Any]) -> str:
    """An external id for a record that has neither story code nor id of its own.

    It names the story by what a reader sees (source, title, date), so importing the same
    file twice updates the story instead of duplicating it.
    """
    key = "\n".join(str(data.get(k, "")) for k in ("source", "title", "published_at"))
    return f"{kind}:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
