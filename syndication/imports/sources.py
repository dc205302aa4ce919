"""`read_source`: load a file or URL, decide what kind of document it is, hand it to a parser.

Every per-source problem (missing file, HTTP error, oversized or binary input) becomes one
error Record rather than an exception, so one bad argument never stops an import of many.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from syndication.imports.feed_source import parse_feed
from syndication.imports.json_source import parse_json, parse_jsonl
from syndication.imports.records import Record, failed
from syndication.imports.text_source import parse_text

DEFAULT_MAX_BYTES = 50 * 2**20
FETCH_TIMEOUT = (5, 30)  # (connect, read) seconds
USER_AGENT = "syndication-import/0.1"

_BOM = b"\xef\xbb\xbf"
_FEED_SUFFIXES = {".xml", ".rss", ".atom"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}
# What a feed looks like in its first bytes when the name does not say.
_FEED_STARTS = (b"<?xml", b"<rss", b"<feed", b"<rdf:rdf")
_HTML_STARTS = (b"<!doctype html", b"<html")


class InputTooLarge(ValueError):
    pass


def read_source(
    path_or_url: str,
    *,
    tz: ZoneInfo,
    source: str | None = None,
    fetch: Callable[[str], bytes] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    own_base: str | None = None,
) -> Iterator[Record]:
    """Yield one Record per story found in `path_or_url` (a file path or an http(s) URL).

    `tz` is the zone of dates printed without one (plain-text exports); `source` overrides
    (text, feeds) or fills in (JSON) the story's source; `fetch` replaces the HTTP client;
    `own_base` (the service's base URL) lets feed items linking to our story pages keep their
    codes.
    """
    where = path_or_url
    try:
        if "://" in path_or_url:
            raw = _load_url(path_or_url, fetch, max_bytes)
            name = urlsplit(path_or_url).path
        else:
            raw = _load_file(path_or_url, max_bytes)
            name = path_or_url
    except (OSError, ValueError) as exc:
        yield failed(where, _describe(exc))
        return

    if len(raw) > max_bytes:  # a caller-supplied fetch is not bound by the cap
        yield failed(where, _too_large(max_bytes))
        return
    raw = raw.removeprefix(_BOM)
    if not raw.strip():
        yield failed(where, "is empty")
        return

    kind = _kind(name, raw)
    if kind == "html":
        yield failed(where, "looks like an HTML page, not a feed or an article export")
    elif kind == "feed":
        # feedparser reads the XML declaration's encoding itself, so it gets bytes.
        yield from parse_feed(raw, where, source=source, own_base=own_base)
    else:
        try:
            text = _decode(raw)
        except ValueError as exc:
            yield failed(where, str(exc))
            return
        if kind == "json":
            yield from parse_json(text, where, source=source)
        elif kind == "jsonl":
            yield from parse_jsonl(text, where, source=source)
        else:
            yield from parse_text(text, where, tz=tz, source=source)


def fetch_url(url: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """GET `url` and return its body, refusing to hold more than `max_bytes` in memory."""
    headers = {"User-Agent": USER_AGENT}
    with requests.get(url, timeout=FETCH_TIMEOUT, stream=True, headers=headers) as response:
        response.raise_for_status()
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise InputTooLarge(_too_large(max_bytes))
        body = bytearray()
        # iter_content decompresses, so the cap also bounds a gzip bomb.
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                raise InputTooLarge(_too_large(max_bytes))
        return bytes(body)


def _load_url(url: str, fetch: Callable[[str], bytes] | None, max_bytes: int) -> bytes:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {scheme!r} (only http and https)")
    fetch = fetch or functools.partial(fetch_url, max_bytes=max_bytes)
    return fetch(url)


def _load_file(path: str, max_bytes: int) -> bytes:
    # Read one byte past the cap instead of trusting stat(): pipes and /dev files have no size.
    with Path(path).open("rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise InputTooLarge(_too_large(max_bytes))
    return raw


def _kind(name: str, raw: bytes) -> str:
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    head = raw[:512].lstrip().lower()
    if suffix in _FEED_SUFFIXES or head.startswith(_FEED_STARTS):
        return "feed"
    if head.startswith(_HTML_STARTS):
        return "html"
    return "text"


def _decode(raw: bytes) -> str:
    # NUL is valid UTF-8 but never part of a text export or JSON: it means a binary file.
    if b"\x00" in raw:
        raise ValueError("looks like binary data, not UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not valid UTF-8 text (bad byte at offset {exc.start})") from None


def _too_large(max_bytes: int) -> str:
    return f"is larger than the {_size(max_bytes)} limit"


def _size(n: int) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def _describe(exc: BaseException) -> str:
    """A one-line reason for the CLI, without requests' nested pool/retry wrappers."""
    if isinstance(exc, InputTooLarge):
        return str(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason or ''}".rstrip()
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, requests.ConnectionError):
        root = _root_os_error(exc)
        reason = root.strerror if root is not None and root.strerror else "connection failed"
        return f"could not connect: {reason}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _root_os_error(exc: BaseException) -> OSError | None:
    """The socket-level error (e.g. ECONNREFUSED) buried under urllib3's wrappers."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    found: OSError | None = None
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            found = current
        pending.extend([*current.args, getattr(current, "reason", None)])
        pending.extend([current.__cause__, current.__context__])
    return found
