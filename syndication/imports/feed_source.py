"""RSS and Atom feeds, read with feedparser, mapped onto the story schema."""

from __future__ import annotations

import calendar
import html
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser
import langcodes

from syndication.imports.records import Record, content_identity, failed

_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_MARKUP = re.compile(r"<[A-Za-z!/]")
# Our own story pages are <base_url>/stories/<code>; a guid or link of that form carries the code
# (so our feeds round-trip). Another site's /stories/… URL is only an identity: it must never
# address, and overwrite, one of our stories.
_STORY_PATH = re.compile(r"/stories/([A-Za-z0-9][A-Za-z0-9_-]{0,63})/?$")
# Character references, to find those naming a UTF-16 surrogate (&#xD800;, &#55296;): XML
# forbids them, and feedparser's fallback parser raises UnicodeEncodeError on one, losing the
# whole feed. They become U+FFFD, as feedparser does with undecodable bytes.
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def parse_feed(
    raw: bytes, where: str, *, source: str | None = None, own_base: str | None = None
) -> Iterator[Record]:
    """One Record per entry. `own_base` is the service's base URL: links to its story pages
    carry the story's code."""
    # A file object, never a str: feedparser would treat a str that looks like a URL or a
    # path as something to open.
    raw = _CHAR_REF.sub(_no_surrogate, raw)
    try:
        parsed = feedparser.parse(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the other sources
        yield failed(where, f"not a readable feed: {type(exc).__name__}: {exc}")
        return
    if not parsed.entries:
        if parsed.bozo:
            yield failed(where, f"not a readable feed: {_bozo_reason(parsed)}")
        elif not parsed.version:
            yield failed(where, "not an RSS or Atom feed")
        return

    channel = parsed.feed
    feed_title = _plain(channel.get("title", ""), channel.get("title_detail"))
    language = _language(channel.get("language"))
    is_atom = parsed.version.startswith("atom")
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            data = _story(entry, is_atom=is_atom, own_base=own_base)
        except Exception as exc:  # noqa: BLE001 - one odd item must not cost the others
            yield failed(f"{where}: item {number}", _item_error(exc))
            continue
        if source or feed_title:
            data["source"] = source or feed_title
        if language and "language" not in data:
            data["language"] = language
        if "external_id" not in data:
            data["external_id"] = content_identity("feed", data)
        yield Record(location=f"{where}: item {number}", data=data)


def _no_surrogate(ref: re.Match[bytes]) -> bytes:
    number = int(ref[1], 16) if ref[1] else int(ref[2])
    return b"&#xFFFD;" if 0xD800 <= number <= 0xDFFF else ref[0]


class _ItemError(ValueError):
    """An item that cannot become a story; str() is the reason."""


def _item_error(exc: Exception) -> str:
    if isinstance(exc, _ItemError):
        return str(exc)
    return f"unreadable item: {type(exc).__name__}: {exc}"


def _story(entry: Any, *, is_atom: bool, own_base: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    title = _plain(entry.get("title", ""), entry.get("title_detail"))
    if title:
        data["title"] = title
    link = (entry.get("link") or "").strip()
    if link:
        data["url"] = link
    guid = (entry.get("id") or "").strip()
    if guid or link:
        data["external_id"] = guid or link
    code = _story_code(guid, own_base) or _story_code(link, own_base)
    if code:
        data["code"] = code

    # feedparser copies the content into "summary" when the item has none, without a
    # summary_detail: that copy is not a lead the feed gave, so it is skipped.
    detail = dict.get(entry, "summary_detail")
    summary = (dict.get(entry, "summary") or "") if detail else ""
    summary_text = _plain(summary, detail)
    if summary_text:
        data["summary"] = summary_text
    body = _body_html(entry, is_atom=is_atom)
    if body is None and _has_markup(detail, summary):
        body = summary
    if body and body.strip():
        data["body_html"] = body.strip()

    authors = _unique(a.get("name") or a.get("email") or "" for a in entry.get("authors", []))
    if authors:
        data["authors"] = authors
    tags = _unique(t.get("term") or t.get("label") or "" for t in entry.get("tags", []))
    if tags:
        data["tags"] = tags
    # dict.get again: a missing updated_parsed would be answered with published_parsed.
    for key, field in (("published_parsed", "published_at"), ("updated_parsed", "updated_at")):
        stamp = dict.get(entry, key)
        if stamp:
            try:
                data[field] = _iso_utc(stamp)
            except (OverflowError, ValueError, OSError):
                raise _ItemError(f"{field}: date is out of range") from None
    image = _image(entry)
    if image:
        data["image"] = image
    language = _language((entry.get("title_detail") or {}).get("language"))
    if language:
        data["language"] = language
    return data


def _body_html(entry: Any, *, is_atom: bool) -> str | None:
    for content in entry.get("content", []):
        kind = content.get("type", "")
        if kind in _HTML_TYPES:
            return content.get("value", "")
        # In RSS feedparser may file <media:description> under `content` as text/plain, so
        # only Atom's <content type="text"> counts as a plain-text body. (feedparser keeps no
        # media caption we could rely on, so images carry none.)
        if is_atom and kind == "text/plain":
            return _paragraphs(content.get("value", ""))
    return None


def _image(entry: Any) -> dict[str, Any] | None:
    candidates = [(m.get("url"), m) for m in entry.get("media_content", []) if _is_image(m)]
    candidates += [
        (link.get("href"), link)
        for link in entry.get("links", [])
        if link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/")
    ]
    for url, attrs in candidates:
        if not url:
            continue
        image: dict[str, Any] = {"url": url}
        if attrs.get("type"):
            image["type"] = attrs["type"]
        for key in ("length", "width", "height"):
            value = str(attrs.get(key) or "").strip()
            if value.isdigit():
                image[key] = int(value)
        return image
    return None


def _is_image(media: dict[str, Any]) -> bool:
    return media.get("medium") == "image" or (media.get("type") or "").startswith("image/")


def _story_code(value: str, own_base: str | None) -> str | None:
    """The code in a URL of one of our story pages (http or https: a proxy may change it)."""
    if not own_base:
        return None
    parts, own = urlsplit(value), urlsplit(own_base)
    if parts.scheme.lower() not in ("http", "https") or parts.netloc.lower() != own.netloc.lower():
        return None
    prefix = own.path.rstrip("/")
    if not parts.path.startswith(prefix + "/stories/"):
        return None
    match = _STORY_PATH.fullmatch(parts.path[len(prefix) :])
    return match.group(1) if match else None


def _iso_utc(stamp: time.struct_time) -> str:
    # feedparser normalises every date to UTC in the *_parsed struct.
    return datetime.fromtimestamp(calendar.timegm(stamp), UTC).isoformat()


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    # A feed's bad <language> should not sink its items: drop it rather than fail them.
    return langcodes.standardize_tag(value) if langcodes.tag_is_valid(value) else None


def _is_html(detail: Any) -> bool:
    return (detail or {}).get("type", "text/html") in _HTML_TYPES


def _has_markup(detail: Any, value: str) -> bool:
    # feedparser labels every RSS description text/html; only real tags make it a body.
    return _is_html(detail) and bool(_MARKUP.search(value))


def _plain(value: str, detail: Any) -> str:
    return _to_text(value) if _is_html(detail) else " ".join(value.split())


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        value = " ".join(str(value).split())
        if value:
            seen.setdefault(value, None)
    return list(seen)


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return "\n".join(f"<p>{html.escape(b, quote=False)}</p>" for b in blocks)


def _bozo_reason(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return str(exc) if exc else "unknown error"


class _TextExtractor(HTMLParser):
    """Visible text of an HTML fragment: tags dropped, entities decoded, blocks spaced."""

    _SKIP = frozenset("script style template noscript".split())
    _BLOCKS = frozenset(
        "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote figure figcaption tr table section"
        " article".split()
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _to_text(fragment: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    return " ".join("".join(extractor.parts).split())
