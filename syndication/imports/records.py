"""The one type every parser yields."""

from __future__ import annotations

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
