"""Plain-text article exports, as news sites print a story page:

    QR Code                                   <- page furniture, dropped
    Harbour Bridge Reopens After Repairs      <- title
    14 Feb 2025 09:10                         <- date, local time in --tz
    Coastal Herald - The harbour bridge ...   <- "<Source> - <lead>"
    Engineers replaced the main cables ...    <- body, one paragraph per line
    Story Code: 2204117
    News Link : https://...                   <- URL here, on the next line, or absent
    Coastal Herald                            <- trailing source, dropped

Several articles may share a file, separated by a line `---`. A broken article becomes an
error Record naming the line; the others still come through.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from syndication.imports.records import NOT_UTF8, Record, bad_utf8, content_identity, failed

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEPARATOR = re.compile(r"^\s*---\s*$")
_FURNITURE = re.compile(r"^(?:QR\s*Code\s*)+$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{1,2})\s+([A-Za-z]+)\.?\s+(\d{4})\s+(\d{1,2}):(\d{2})$")
_DATE_FORMAT = "D Mon YYYY HH:MM"
# Source, then a hyphen, en dash or em dash with spaces around it, then the lead.
_LEAD = re.compile(r"^(?P<source>\S.*?)\s+[-\u2013\u2014]\s+(?P<summary>\S.*)$")
_MAX_SOURCE_LEN = 80  # longer than any outlet's name: the dash is inside a sentence
_STORY_CODE = re.compile(r"^Story\s*Code\s*:\s*(?P<value>.*)$", re.IGNORECASE)
_NEWS_LINK = re.compile(r"^News\s*Link\s*:\s*(?P<value>.*)$", re.IGNORECASE)
_URL = re.compile(r"^https?://[^\s/]+\S*$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# English month names as the exports print them ("Feb"), also spelled out or "Sept".
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {name[:3]: number for number, name in enumerate(_MONTH_NAMES.split(), start=1)}
_MONTHS |= {name: number for number, name in enumerate(_MONTH_NAMES.split(), start=1)}
_MONTHS["sept"] = 9

Line = tuple[int, str]  # (1-based line number in the file, stripped text)


class ArticleError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")


def parse_text(
    text: str, where: str, *, tz: ZoneInfo, source: str | None = None
) -> Iterator[Record]:
    """One Record per article in `text`; `where` prefixes each location ("file.txt:12")."""
    text = text.removeprefix("\ufeff")
    for chunk in _articles(_LINE_BREAK.split(text)):
        lines = [(number, line) for number, line in chunk if line]
        if not lines:  # blank space around a separator is not an article
            continue
        location = f"{where}:{lines[0][0]}"
        bad = next((number for number, line in lines if bad_utf8(line)), None)
        if bad is not None:
            yield failed(location, f"line {bad}: {NOT_UTF8}")
            continue
        try:
            data = _article(lines, tz=tz, source=source)
        except ArticleError as exc:
            yield failed(location, str(exc))
        except Exception as exc:  # noqa: BLE001 - one odd article must not cost the others
            yield failed(location, f"unreadable article: {type(exc).__name__}: {exc}")
        else:
            yield Record(location=location, data=data)


def _articles(raw_lines: list[str]) -> Iterator[list[Line]]:
    chunk: list[Line] = []
    for number, line in enumerate(raw_lines, start=1):
        if _SEPARATOR.match(line):
            yield chunk
            chunk = []
        else:
            chunk.append((number, line.strip()))
    yield chunk


def _article(lines: list[Line], *, tz: ZoneInfo, source: str | None) -> dict[str, Any]:
    """Story fields from the non-empty lines of one article."""
    rest = _drop_furniture(lines)
    if not rest:
        raise ArticleError(lines[0][0], "article has no title (only page furniture)")
    (title_no, title), rest = rest[0], rest[1:]
    if _DATE.match(title) or _is_marker(title):
        raise ArticleError(title_no, f"article has no title (found '{_clip(title)}' first)")
    data: dict[str, Any] = {"title": title}

    if rest and not _is_marker(rest[0][1]) and not _is_undated_lead(rest[0][1]):
        data["published_at"] = _parse_date(*rest[0], tz=tz)
        rest = rest[1:]

    parsed_source = None
    if rest and not _is_marker(rest[0][1]):
        lead = rest[0][1]
        rest = rest[1:]
        match = _LEAD.match(lead)
        if match and len(match["source"]) <= _MAX_SOURCE_LEN:
            parsed_source, lead = match["source"], match["summary"]
        data["summary"] = lead

    effective_source = source or parsed_source
    if rest and any(_same_name(rest[-1][1], name) for name in (parsed_source, source) if name):
        rest = rest[:-1]  # sites print the outlet's name again under the story

    paragraphs = _read_tail(rest, data)
    if paragraphs:
        data["body_html"] = "\n".join(
            f"<p>{html.escape(text, quote=False)}</p>" for text in paragraphs
        )
    if effective_source:
        data["source"] = effective_source
    if "code" not in data:
        data["external_id"] = content_identity("text", data)
    return data


def _drop_furniture(lines: list[Line]) -> list[Line]:
    for index, (_, text) in enumerate(lines):
        if not _FURNITURE.match(text):
            return lines[index:]
    return []


def _is_undated_lead(text: str) -> bool:
    # No date line: the line after the title is already "<Source> - <lead>". Anything else,
    # in particular a line starting with a digit, is read as the date and must parse.
    return bool(_LEAD.match(text)) and not text[:1].isdigit()


def _parse_date(number: int, text: str, *, tz: ZoneInfo) -> str:
    if not text[:1].isdigit():
        raise ArticleError(
            number, f"expected a date line ({_DATE_FORMAT}) after the title, found '{_clip(text)}'"
        )
    invalid = ArticleError(number, f"date '{text}' is not a valid date (expected {_DATE_FORMAT})")
    match = _DATE.match(text)
    if not match or match[2].lower() not in _MONTHS:
        raise invalid
    day, month_name, year, hour, minute = match.groups()
    try:
        naive = datetime(int(year), _MONTHS[month_name.lower()], int(day), int(hour), int(minute))
    except ValueError:
        raise invalid from None
    local = naive.replace(tzinfo=tz)
    try:
        round_trip = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise ArticleError(number, f"date '{text}' in {tz} is out of range") from None
    # zoneinfo accepts wall times skipped by a spring-forward change; they never appeared on
    # a real clock, so guessing an hour either way would be silently wrong.
    if round_trip != naive:
        raise ArticleError(
            number, f"date '{text}' does not exist in {tz} (the clocks went forward)"
        )
    # A repeated hour (autumn) reads as its first occurrence (fold=0), as a clock showed it.
    return local.isoformat()


def _read_tail(lines: list[Line], data: dict[str, Any]) -> list[str]:
    """Pick Story Code and News Link out of the lines after the lead; return the body."""
    paragraphs: list[str] = []
    index = 0
    while index < len(lines):
        number, text = lines[index]
        index += 1
        if code_match := _STORY_CODE.match(text):
            code = code_match["value"].strip()
            if not _CODE.match(code):
                raise ArticleError(number, f"story code '{_clip(code)}' is not valid")
            if data.get("code", code) != code:
                raise ArticleError(number, f"second story code '{code}' (already {data['code']})")
            data["code"] = code
        elif link_match := _NEWS_LINK.match(text):
            url = link_match["value"].strip()
            if not url and index < len(lines) and _URL.match(lines[index][1]):
                url = lines[index][1]
                index += 1
            if url and not _URL.match(url):
                raise ArticleError(number, f"news link '{_clip(url)}' is not an http(s) URL")
            if url:
                data["url"] = url
        else:
            paragraphs.append(text)
    return paragraphs


def _is_marker(text: str) -> bool:
    return bool(_STORY_CODE.match(text) or _NEWS_LINK.match(text))


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
