"""`read_source`: load a file or URL, decide what kind of document it is, hand it to a parser.

Every per-source problem (missing file, HTTP error, oversized or binary input) becomes one
error Record rather than an exception, so one bad argument never stops an import of many.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from syndication.imports.feed_source import parse_feed
from syndication.imports.json_source import parse_json, parse_jsonl
from syndication.imports.records import Record, failed
from syndication.imports.text_source import parse_text
from syndication.outbound import OutboundClient, OutboundError

DEFAULT_MAX_BYTES = 50 * 2**20
FETCH_TIMEOUT = 120.0  # seconds for the whole download, connect to last byte
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
    (text, feeds) or fills in (JSON) the story's source; `fetch` downloads a URL (`fetcher`:
    through the service's outbound client); `own_base` (the service's base URL) lets feed
    items linking to our story pages keep their codes.
    """
    where = path_or_url
    try:
        if "://" in path_or_url:
            raw = _load_url(path_or_url, fetch)
            name = urlsplit(path_or_url).path
        else:
            raw = _load_file(path_or_url, max_bytes)
            name = path_or_url
    except (OSError, ValueError, OutboundError) as exc:
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
            # Line-based formats keep their good lines: a bad byte fails only its record.
            text = _decode(raw, per_line=kind != "json")
        except ValueError as exc:
            yield failed(where, str(exc))
            return
        if kind == "json":
            yield from parse_json(text, where, source=source)
        elif kind == "jsonl":
            yield from parse_jsonl(text, where, source=source)
        else:
            yield from parse_text(text, where, tz=tz, source=source)


class HTTPStatusError(ValueError):
    """The server answered, but not with the document (4xx, 5xx, a redirect)."""


def fetcher(
    client: OutboundClient, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = FETCH_TIMEOUT
) -> Callable[[str], bytes]:
    """A `fetch` for read_source: GET through the outbound client (the URL read strictly, its
    host resolved once and checked against private ranges unless `outbound_allow` lets it,
    the connection pinned, one deadline, redirects not followed), plain http allowed, gzip
    decoded, at most `max_bytes` held in memory (the cap bounds a gzip bomb too)."""

    def fetch(url: str) -> bytes:
        response = client.request_sync(
            "GET",
            url,
            headers={"User-Agent": USER_AGENT},
            require_https=False,
            timeout=timeout,
            max_read=max_bytes,
            decompress=True,
        )
        if not 200 <= response.status < 300:
            raise HTTPStatusError(f"HTTP {response.status} {response.reason}".rstrip())
        if response.truncated:
            raise InputTooLarge(_too_large(max_bytes))
        return response.body

    return fetch


def _load_url(url: str, fetch: Callable[[str], bytes] | None) -> bytes:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {scheme!r} (only http and https)")
    if fetch is None:
        raise ValueError("URLs can be imported only with a fetcher (the service's outbound client)")
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


def _decode(raw: bytes, *, per_line: bool = False) -> str:
    """The text of `raw`. With `per_line`, bytes that are not UTF-8 become lone surrogates
    (surrogateescape), which valid UTF-8 never yields: the parsers refuse the records that
    hold one (`records.bad_utf8`) and keep the rest."""
    # NUL is valid UTF-8 but never part of a text export or JSON: it means a binary file.
    if b"\x00" in raw:
        raise ValueError("looks like binary data, not UTF-8 text")
    if per_line:
        return raw.decode("utf-8", errors="surrogateescape")
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
    """A one-line reason for the CLI."""
    if isinstance(exc, InputTooLarge | HTTPStatusError | OutboundError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
