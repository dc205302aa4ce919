"""Helpers for the feed route tests: set up stories and channels through the services, fetch and
parse feeds with real parsers (feedparser, lxml, jsonschema)."""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
from lxml import etree

from syndication.channels.service import create_channel, update_channel
from syndication.stories.service import create_story

BASE = "http://news.example.test"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SCHEMA_PATH = Path(__file__).parent / "feeds" / "jsonfeed-1.1.schema.json"
DATA = Path(__file__).parent / "data"
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}
# An RFC 3986 URI: ASCII, every "%" starting an escape (what the W3C validator, JSON Feed's
# `format: uri` and the sitemap schemas ask of a URL).
URI_RE = re.compile(r"^https?://(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")
# What no printed text may hold: C1 controls, DEL, U+FEFF, U+FFFD, non-characters.
UNPRINTABLE = re.compile("[\x7f-\x9f\ufdd0-\ufdef\ufeff\ufffd-\uffff]")


def add_story(rt, data: dict[str, Any], *, now: datetime = NOW, status: str = "published") -> str:
    """Create a story (published unless `status` says otherwise); return its code."""
    with rt.db.write() as s:
        return create_story(s, rt.settings, data, now=now, default_status=status).code


def add_channel(rt, data: dict[str, Any], *, now: datetime = NOW) -> None:
    with rt.db.write() as s:
        create_channel(s, data, now=now)


def edit_channel(rt, slug: str, data: dict[str, Any], *, now: datetime) -> None:
    with rt.db.write() as s:
        update_channel(s, slug, data, now=now)


def feed_url(slug: str, fmt: str) -> str:
    return f"{BASE}/feeds/{slug}.{fmt}"


def page_url(code: str) -> str:
    return f"{BASE}/stories/{code}"


def parse_xml(body: bytes) -> feedparser.FeedParserDict:
    """feedparser on the bytes, failing on any well-formedness problem."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, f"feedparser bozo: {parsed.get('bozo_exception')!r}"
    return parsed


def xml_tree(body: bytes) -> etree._Element:
    return etree.fromstring(body)


def struct_dt(value) -> datetime:
    """feedparser's UTC struct_time as an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(value), UTC)


_SCHEMA: dict[str, Any] | None = None


def jsonfeed_schema() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        assert SCHEMA_PATH.is_file(), f"vendored JSON Feed 1.1 schema missing at {SCHEMA_PATH}"
        _SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _SCHEMA


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON Feed document, validated against the JSON Feed 1.1 schema."""
    doc = json.loads(body.decode("utf-8"))
    schema = jsonfeed_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema, format_checker=cls.FORMAT_CHECKER).validate(doc)
    return doc


def links(body: bytes, fmt: str) -> dict[str, str]:
    """rel -> href of the feed-level links (atom:link in RSS, link in Atom; JSON URLs)."""
    if fmt == "json":
        doc = json.loads(body)
        out = {"self": doc["feed_url"]}
        if "next_url" in doc:
            out["next"] = doc["next_url"]
        for hub in doc.get("hubs", []):
            out["hub"] = hub["url"]
        return out
    root = xml_tree(body)
    parent = root.find("channel") if fmt == "rss" else root
    out: dict[str, str] = {}
    for link in parent.findall("atom:link", NS):
        rel = link.get("rel", "alternate")
        assert rel not in out or out[rel] == link.get("href"), f"two different rel={rel} links"
        out[rel] = link.get("href")
    return out


def item_ids(body: bytes, fmt: str) -> list[str]:
    """The guids / ids of the items in document order."""
    if fmt == "json":
        return [item["id"] for item in json.loads(body)["items"]]
    parsed = parse_xml(body)
    return [entry.id for entry in parsed.entries]


def _urlset_schema() -> etree.XMLSchema:
    # sitemap.xsd validates other namespaces' elements strictly: news:news needs its schema too.
    wrapper = f"""<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">
      <xsd:import namespace="{NS["sm"]}" schemaLocation="{(DATA / "sitemap.xsd").as_uri()}"/>
      <xsd:import namespace="{NS["news"]}"
                  schemaLocation="{(DATA / "sitemap-news.xsd").as_uri()}"/>
    </xsd:schema>"""
    return etree.XMLSchema(etree.fromstring(wrapper))


# The published schemas (copies and sources in tests/data/README.md).
URLSET = _urlset_schema()
SITEINDEX = etree.XMLSchema(etree.parse(str(DATA / "siteindex.xsd")))


def valid_sitemap(body: bytes, schema: etree.XMLSchema) -> etree._Element:
    """The sitemap (URLSET) or sitemap index (SITEINDEX) document, valid against the schema,
    with every loc a URI."""
    root = etree.fromstring(body)
    schema.assertValid(root)
    for loc in root.iterfind(".//sm:loc", NS):
        assert URI_RE.match(loc.text), loc.text
    return root
