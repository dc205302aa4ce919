"""Rendered feed pages kept in memory, keyed by the channel's version, bounded in bytes.

No timer: a story change bumps the version of every channel it touches (in the same transaction),
so the next request misses and renders anew; stale entries simply age out of the LRU. A page
carries its response headers ready-made, so serving it does no formatting work at all.

The cache is bounded by the bytes it holds, not by its number of entries: one entry may be a
page of fifty 1 MB stories or a 300-byte QR code, so a count says nothing about memory. Deeper
pages of a feed are only cached when reached through a next link of a page cached here (see
`links_to`): a cursor a client made up is served, never kept, so strangers cannot fill the cache
nor push the hot pages out of it.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from werkzeug.http import http_date, parse_date

from syndication import compression
from syndication.channels.modified import date_settled, http_instant


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str  # strong, without quotes: a hash of the body
    last_modified: datetime  # the change rounded up to whole seconds, as HTTP dates have them
    headers: list[tuple[str, str]]  # of a 200, Content-Length included
    not_modified_headers: list[tuple[str, str]]  # of a 304: validators and caching, no body
    # The same page gzip-coded, made once with it (its own body, ETag and headers), or None.
    gzipped: Page | None = None

    @property
    def nbytes(self) -> int:
        """Both codings: the cache keeps the gzip bytes beside the identity bytes."""
        size = cached_size(self.body, self.headers)
        return size + self.gzipped.nbytes if self.gzipped is not None else size

    def for_encoding(self, accept_encoding: str | None) -> Page:
        """The representation to send for a request's Accept-Encoding header."""
        gzipped = self.gzipped
        if gzipped is not None and compression.accepts_gzip(accept_encoding):
            return gzipped
        return self

    @classmethod
    def make(
        cls,
        body: bytes,
        etag: str,
        last_modified: datetime,
        content_type: str,
        extra: list[tuple[str, str]],
        *,
        compress: bool = True,
    ) -> Page:
        """A page and, when `compress` and it pays, its gzip twin (compression.py): each with a
        strong ETag of its own and `Vary: Accept-Encoding`."""
        if not compress:
            return cls._one(body, etag, last_modified, content_type, extra)
        extra = [*extra, compression.VARY]
        coded = compression.gzip_body(body)
        gzipped = None
        if coded is not None:
            gzipped = cls._one(
                coded,
                etag + compression.GZIP_SUFFIX,
                last_modified,
                content_type,
                extra,
                coding=(("Content-Encoding", "gzip"),),
            )
        return cls._one(body, etag, last_modified, content_type, extra, gzipped=gzipped)

    @classmethod
    def _one(
        cls,
        body: bytes,
        etag: str,
        last_modified: datetime,
        content_type: str,
        extra: list[tuple[str, str]],
        coding: tuple[tuple[str, str], ...] = (),
        gzipped: Page | None = None,
    ) -> Page:
        etag_header = ("ETag", f'"{etag}"')
        last_modified = http_instant(last_modified)  # rounded up: see channels/modified.py
        return cls(
            body,
            etag,
            last_modified,
            [
                ("Content-Type", content_type),
                *coding,
                ("Content-Length", str(len(body))),
                etag_header,
                ("Last-Modified", http_date(last_modified)),
                *extra,
            ],
            # RFC 9110 15.4.5: a 304 repeats ETag and caching fields (Vary among them); with an
            # ETag present, Last-Modified is representation metadata to leave out.
            [etag_header, *extra],
            gzipped,
        )

    def headers_at(self, now: datetime) -> list[tuple[str, str]]:
        """The headers of a 200 sent at `now`: without Last-Modified until the clock has passed
        it (see channels/modified.py)."""
        if date_settled(self.last_modified, now):
            return self.headers
        return [header for header in self.headers if header[0] != "Last-Modified"]

    def not_modified(
        self, if_none_match: str | None, if_modified_since: str | None, now: datetime
    ) -> bool:
        """Conditional GET (RFC 9110 13.1): If-None-Match decides when present, with the weak
        comparison (W/ prefixes ignored); otherwise If-Modified-Since, once the clock has passed
        Last-Modified (channels/modified.py)."""
        if if_none_match is not None:
            if if_none_match.strip() == "*":
                return True
            return any(
                tag.strip().removeprefix("W/").strip('"') == self.etag
                for tag in if_none_match.split(",")
            )
        if if_modified_since is not None:
            when = parse_date(if_modified_since)
            return (
                when is not None
                and self.last_modified <= when
                and date_settled(self.last_modified, now)
            )
        return False


# What an entry costs besides its bytes: the object, its header tuples, the key and the LRU's
# dict slot, rounded up (measured with tracemalloc at about 1 KiB for a feed page's headers).
ENTRY_OVERHEAD = 1024


def cached_size(body: bytes, headers: list[tuple[str, str]]) -> int:
    """The memory an entry with this body and these headers holds, as the caches account it."""
    return (
        sys.getsizeof(body)
        + sum(sys.getsizeof(name) + sys.getsizeof(value) for name, value in headers)
        + ENTRY_OVERHEAD
    )


class Cacheable(Protocol):
    @property
    def nbytes(self) -> int: ...


class PageCache:
    """An LRU of rendered responses bounded by `max_bytes` (their `nbytes`, summed).

    An entry larger than a quarter of the budget is not kept: it would push out the many small
    hot pages for one cold one. `max_entries` is a second, optional bound.
    """

    def __init__(self, max_bytes: int, max_entries: int | None = None) -> None:
        self.max_bytes = max_bytes
        self._max_entries = max_entries
        self._pages: OrderedDict[Hashable, tuple[Cacheable, int, Hashable | None]] = OrderedDict()
        self._linked: dict[Hashable, int] = {}  # key -> how many cached entries link to it
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Cacheable | None:
        with self._lock:
            entry = self._pages.get(key)
            if entry is None:
                return None
            self._pages.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, page: Cacheable, *, links_to: Hashable | None = None) -> bool:
        """Keep `page` under `key`; `links_to` is the key of the page its next link leads to.
        False when the page is too large to keep."""
        size = page.nbytes
        if size * 4 > self.max_bytes:
            return False
        with self._lock:
            self._drop(key)
            self._pages[key] = (page, size, links_to)
            self._bytes += size
            if links_to is not None:
                self._linked[links_to] = self._linked.get(links_to, 0) + 1
            while self._bytes > self.max_bytes or (
                self._max_entries is not None and len(self._pages) > self._max_entries
            ):
                self._drop(next(iter(self._pages)))
        return True

    def is_linked(self, key: Hashable) -> bool:
        """Whether a page cached here links to `key` (so the service itself produced it)."""
        with self._lock:
            return key in self._linked

    def _drop(self, key: Hashable) -> None:
        entry = self._pages.pop(key, None)
        if entry is None:
            return
        self._bytes -= entry[1]
        target = entry[2]
        if target is not None:
            left = self._linked[target] - 1
            if left:
                self._linked[target] = left
            else:
                del self._linked[target]

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._linked.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """The bytes the cached entries hold, as accounted against `max_bytes`."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._pages)
