"""Rendered feed pages kept in memory, keyed by the channel's version.

No timer: a story change bumps the version of every channel it touches (in the same transaction),
so the next request misses and renders anew; stale entries simply age out of the LRU. A page
carries its response headers ready-made, so serving it does no formatting work at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from werkzeug.http import http_date, parse_date


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str  # strong, without quotes: a hash of the body
    last_modified: datetime  # whole seconds, as HTTP dates have them
    headers: list[tuple[str, str]]  # of a 200, Content-Length included
    not_modified_headers: list[tuple[str, str]]  # of a 304: validators and caching, no body

    @classmethod
    def make(
        cls,
        body: bytes,
        etag: str,
        last_modified: datetime,
        content_type: str,
        extra: list[tuple[str, str]],
    ) -> Page:
        etag_header = ("ETag", f'"{etag}"')
        return cls(
            body,
            etag,
            last_modified.replace(microsecond=0),
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                etag_header,
                ("Last-Modified", http_date(last_modified)),
                *extra,
            ],
            # RFC 9110 15.4.5: a 304 repeats ETag and caching fields; with an ETag present,
            # Last-Modified is representation metadata to leave out.
            [etag_header, *extra],
        )

    def not_modified(self, if_none_match: str | None, if_modified_since: str | None) -> bool:
        """Conditional GET (RFC 9110 13.1): If-None-Match decides when present, with the weak
        comparison (W/ prefixes ignored); otherwise If-Modified-Since."""
        if if_none_match is not None:
            if if_none_match.strip() == "*":
                return True
            return any(
                tag.strip().removeprefix("W/").strip('"') == self.etag
                for tag in if_none_match.split(",")
            )
        if if_modified_since is not None:
            when = parse_date(if_modified_since)
            return when is not None and self.last_modified <= when
        return False


class PageCache:
    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: tuple, page: Page) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self._max:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)
