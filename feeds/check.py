"""Findings about a rendered feed, as a reader would meet it: parsed back with feedparser (RSS,
Atom) or validated against the JSON Feed 1.1 schema (JSON). For previews, not a replacement for
the W3C validator, whose rules the renderers follow and the tests check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import feedparser
import jsonschema

SCHEMA = Path(__file__).parent / "schemas" / "jsonfeed-1.1.schema.json"


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "error", "warning" or "info"
    message: str


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
        Finding("warning", f"item {i + 1} ({item.get('id')}): no summary or content")
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
            findings.append(Finding("error", f"{where}: no guid / id"))
        if not entry.get("published_parsed"):
            findings.append(Finding("warning", f"{where}: no publication date"))
        if not (entry.get("summary") or entry.get("content")):
            findings.append(Finding("warning", f"{where}: no summary or content"))
    return findings


def _counts(items: int, has_next: bool) -> list[Finding]:
    if not items:
        return [Finding("warning", "no items: the channel shows no published story yet")]
    more = "; older stories on the next page" if has_next else ""
    return [Finding("info", f"{items} item{'' if items == 1 else 's'}{more}")]
