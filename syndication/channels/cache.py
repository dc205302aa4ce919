"""Rendered feed pages kept in memory, keyed by the channel's version.

No timer: a story change bumps the version of every channel it touches (in the same transaction),
so the next request misses and renders anew; stale entries simply age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str  # strong: a hash of the body
    last_modified: datetime


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
