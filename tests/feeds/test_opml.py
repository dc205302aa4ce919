"""OPML 2.0 subscription lists."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from lxml import etree

from feeds import OutlineFeed, render_opml

OUTLINES = (
    OutlineFeed(
        title="World & <News> \u0627\u0644\u0639\u0627\u0644\u0645\x0b",
        xml_url="https://news.example.com/feeds/world.rss?x=1&y=2",
        html_url="https://news.example.com/channels/world",
        type="rss",
        description="Everything \U0001f30d",
        language="ar",
    ),
    OutlineFeed(
        title="Sport",
        xml_url="https://news.example.com/feeds/sport.json",
        html_url="https://news.example.com/channels/sport",
        type="json",
    ),
)


def test_document() -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    out = render_opml("Channels & co", OUTLINES, owner_name="Desk", date_created=created)
    assert out.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(out)
    assert root.tag == "opml" and root.get("version") == "2.0"
    head = root.find("head")
    assert head.findtext("title") == "Channels & co"
    assert head.findtext("dateCreated") == "Mon, 06 May 2024 07:08:09 +0000"
    assert parsedate_to_datetime(head.findtext("dateCreated")) == created
    assert head.findtext("ownerName") == "Desk"
    assert head.findtext("docs") == "http://opml.org/spec2.opml"
    first, second = root.find("body").findall("outline")
    assert first.attrib == {
        "type": "rss",
        "text": "World & <News> \u0627\u0644\u0639\u0627\u0644\u0645",
        "title": "World & <News> \u0627\u0644\u0639\u0627\u0644\u0645",
        "xmlUrl": "https://news.example.com/feeds/world.rss?x=1&y=2",
        "htmlUrl": "https://news.example.com/channels/world",
        "description": "Everything \U0001f30d",
        "language": "ar",
    }
    assert second.get("type") == "json"
    assert "description" not in second.attrib and "language" not in second.attrib


def test_minimal_head() -> None:
    root = etree.fromstring(render_opml("Minimal", OUTLINES[:1]))
    assert [child.tag for child in root.find("head")] == ["title", "docs"]
    assert len(root.find("body")) == 1


def test_no_outline_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one outline"):
        render_opml("Empty", ())


def test_naive_date_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_opml("x", OUTLINES, date_created=datetime(2024, 1, 1))
