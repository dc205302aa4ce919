"""Image captions in every format, on SQLite and PostgreSQL: Media RSS media:title on the
media:content in RSS and Atom, the `_media` extension in JSON Feed (schema-valid), while
feedparser's entry title, summary and content stay the story's, in full-content and
summary-only channels alike."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.storyfactory import (
    NOW,
    NS,
    add_channel,
    add_story,
    page_url,
    parse_json,
    parse_xml,
    xml_tree,
)

CAPTION = "Dawn over the harbour \u2014 Ana & Bo, \u0645\u064a\u0646\u0627\u0621 \U0001f305"
SUMMARY = "The bridge reopened after two years."
BODY = "<p>The bridge <b>reopened</b> this morning.</p>"


@pytest.fixture
def stories(rt):
    add_channel(rt, {"slug": "full", "title": "Full"}, now=NOW - timedelta(days=1))
    add_channel(
        rt, {"slug": "brief", "title": "Brief", "content": "summary"}, now=NOW - timedelta(days=1)
    )
    image = {"url": "https://cdn.example.test/dawn.jpg", "type": "image/jpeg", "width": 800}
    add_story(
        rt,
        {
            "code": "cap-1",
            "title": "Bridge reopens",
            "summary": SUMMARY,
            "body_html": BODY,
            "image": {**image, "caption": CAPTION},
            "published_at": NOW - timedelta(hours=1),
        },
        now=NOW - timedelta(hours=1),
    )
    add_story(
        rt,
        {
            "code": "nocap-2",
            "title": "No caption",
            "summary": "Short.",
            "image": image,
            "published_at": NOW - timedelta(hours=2),
        },
        now=NOW - timedelta(hours=2),
    )
    return rt


@pytest.mark.parametrize("channel", ["full", "brief"])
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_caption_is_a_media_title_and_the_entry_stays_the_story(client, stories, fmt, channel):
    body = client.get(f"/feeds/{channel}.{fmt}").data
    root = xml_tree(body)
    items = root.findall("channel/item") if fmt == "rss" else root.findall("atom:entry", NS)
    captioned, plain = items
    titles = captioned.findall("media:content/media:title", NS)
    assert [(t.text, t.get("type")) for t in titles] == [(CAPTION, "plain")]
    # media:description would be read by feedparser as the entry's content or summary.
    assert captioned.findall(".//media:description", NS) == []
    assert plain.findall(".//media:title", NS) == []

    entry, other = parse_xml(body).entries
    assert entry.id == page_url("cap-1")
    assert entry.title == "Bridge reopens"
    assert entry.summary == SUMMARY
    contents = [c.value for c in entry.get("content", [])]
    assert all(CAPTION not in c for c in contents)
    if channel == "full":
        assert any("reopened" in c for c in contents)
    else:
        assert contents == []
    assert entry.media_content[0]["url"] == "https://cdn.example.test/dawn.jpg"
    assert other.title == "No caption" and other.summary == "Short."


@pytest.mark.parametrize("channel", ["full", "brief"])
def test_caption_in_json_feed_extension(client, stories, channel):
    doc = parse_json(client.get(f"/feeds/{channel}.json").data)  # JSON Feed 1.1 schema
    captioned, plain = doc["items"]
    assert captioned["image"] == "https://cdn.example.test/dawn.jpg"
    assert captioned["_media"] == {"image_caption": CAPTION}
    assert CAPTION not in captioned.get("content_html", "") + captioned.get("content_text", "")
    assert captioned["summary"] == SUMMARY
    assert "_media" not in plain and plain["image"] == "https://cdn.example.test/dawn.jpg"
