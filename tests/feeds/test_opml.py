"""OPML 2.0 subscription lists."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

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
    # text and title are HTML (OPML 2.0, and the W3C validator parses them so): escaped once
    # more, so that read as HTML they say what the plain-text title says.
    assert first.attrib == {
        "type": "rss",
        "text": "World &amp; &lt;News&gt; \u0627\u0644\u0639\u0627\u0644\u0645",
        "title": "World &amp; &lt;News&gt; \u0627\u0644\u0639\u0627\u0644\u0645",
        "xmlUrl": "https://news.example.com/feeds/world.rss?x=1&y=2",
        "htmlUrl": "https://news.example.com/channels/world",
        "description": "Everything \U0001f30d",
        "language": "ar",
    }
    assert second.get("type") == "json"  # as given: the caller chooses
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


class _HtmlReading(HTMLParser):
    """What an HTML parser (the W3C validator's reading of OPML text) makes of a value."""

    def __init__(self, value: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""
        self.feed(value)
        self.close()

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        self.tags.append("/" + tag)

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text += data


@pytest.mark.parametrize(
    "title",
    ["Hostile & <Tests>", "Profits & Losses: <b>Q3</b>", "a < b > c &amp; d", "AT&T \u00e9t\u00e9"],
)
def test_titles_read_as_html_are_the_plain_text(title: str) -> None:
    """No tag for the validator to call NotHtml, and an HTML reader gets the title back."""
    feed = OutlineFeed(
        title=title,
        xml_url="https://x.test/f.rss",
        html_url="https://x.test/",
        type="rss",
        description=title,
    )
    outline = etree.fromstring(render_opml(title, [feed])).find("body/outline")
    for name in ("text", "title", "description"):
        reading = _HtmlReading(outline.get(name))
        assert reading.tags == [] and reading.text == title
