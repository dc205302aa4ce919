"""Findings about a rendered feed, as a reader would meet it: parsed back with feedparser (RSS,
Atom) or validated against the JSON Feed 1.1 schema (JSON). For previews, not a replacement for
the W3C validator, whose rules the renderers follow and the tests check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import feedparser
import jsonschema

from feeds._common import image_type
from feeds.model import Item

SCHEMA = Path(__file__).parent / "schemas" / "jsonfeed-1.1.schema.json"


# Longer headlines are cut: Google's Article structured data stops at 110 characters, and feed
# readers' lists show less than that.
TITLE_MAX = 110


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "error", "warning" or "info"
    message: str
    item: int | None = None  # 1-based position of the item it is about; None: the document


@cache
def _json_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def check(body: bytes, fmt: str) -> list[Finding]:
    """What is wrong or notable in `body`, a document in `fmt` (rss, atom or json)."""
    if fmt == "json":
        return _check_json(body)
    return _check_xml(body, fmt)


def _check_json(body: bytes) -> list[Finding]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        return [Finding("error", f"not JSON: {exc}")]
    findings = [
        Finding(
            "error",
            f"JSON Feed 1.1 schema: {'/'.join(map(str, e.absolute_path)) or 'feed'}: {e.message}",
        )
        for e in sorted(_json_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]
    items = doc.get("items", []) if isinstance(doc, dict) else []
    findings += _counts(len(items), bool(isinstance(doc, dict) and doc.get("next_url")))
    findings += [
        Finding("warning", f"item {i + 1} ({item.get('id')}): no summary or content", i + 1)
        for i, item in enumerate(items)
        if isinstance(item, dict) and not (item.get("summary") or item.get("content_html"))
    ]
    return findings


def _check_xml(body: bytes, fmt: str) -> list[Finding]:
    parsed = feedparser.parse(body)
    findings: list[Finding] = []
    if parsed.bozo:
        findings.append(Finding("error", f"not well-formed: {parsed.bozo_exception}"))
    expected = "rss20" if fmt == "rss" else "atom10"
    if parsed.version != expected:
        findings.append(Finding("error", f"read as {parsed.version or 'unknown'}, not {expected}"))
    links = {link.get("rel"): link.get("href") for link in parsed.feed.get("links", [])}
    for rel in ("self", "hub"):
        if rel not in links:
            findings.append(Finding("warning", f'no <atom:link rel="{rel}">'))
    entries = parsed.entries
    findings += _counts(len(entries), "next" in links)
    for i, entry in enumerate(entries):
        where = f"item {i + 1} ({entry.get('id', 'no id')})"
        if not entry.get("id"):
            findings.append(Finding("error", f"{where}: no guid / id", i + 1))
        if not entry.get("published_parsed"):
            findings.append(Finding("warning", f"{where}: no publication date", i + 1))
        if not (entry.get("summary") or entry.get("content")):
            findings.append(Finding("warning", f"{where}: no summary or content", i + 1))
    return findings


def _counts(items: int, has_next: bool) -> list[Finding]:
    if not items:
        return [Finding("warning", "no items: the channel shows no published story yet")]
    more = "; older stories on the next page" if has_next else ""
    return [Finding("info", f"{items} item{'' if items == 1 else 's'}{more}")]


def check_items(items: Sequence[Item]) -> list[Finding]:
    """What an editor can improve in each item, whatever the format: the things readers and
    link previews show (title length, summary, image with its caption, size and type)."""
    findings: list[Finding] = []
    for i, item in enumerate(items):
        n = i + 1
        where = f"item {n} ({item.id})"
        if len(item.title) > TITLE_MAX:
            findings.append(
                Finding(
                    "warning",
                    f"{where}: title is {len(item.title)} characters; readers and search "
                    f"results cut it after about {TITLE_MAX}",
                    n,
                )
            )
        if not item.summary and item.content_html:
            findings.append(
                Finding("warning", f"{where}: no summary: readers show the start of the body", n)
            )
        elif not item.summary:
            # Worded as check() words it for RSS and JSON, so the two agree and one can go; Atom
            # gives such an entry its title as summary, so check() cannot see it there.
            findings.append(Finding("warning", f"{where}: no summary or content", n))
        image = item.image
        if image is None:
            findings.append(Finding("info", f"{where}: no image", n))
            continue
        if not image.caption:
            findings.append(
                Finding(
                    "warning",
                    f"{where}: image has no caption: it is the image's alt text, so people "
                    "who cannot see it learn nothing of it",
                    n,
                )
            )
        if not (image.width and image.height):
            findings.append(
                Finding(
                    "info",
                    f"{where}: image width and height unknown: readers cannot make room "
                    "for it before it loads",
                    n,
                )
            )
        if image_type(image) is None:
            findings.append(
                Finding(
                    "warning",
                    f"{where}: image type unknown (no MIME type, no known extension): RSS "
                    "gets no enclosure for it",
                    n,
                )
            )
    return findings
