"""Text and URLs to the letter, end to end on SQLite and PostgreSQL: a story sent through the
API with the hostile strings newsrooms really send comes out of every feed, the OPML and the
story page clean, as independent clients read them (feedparser on RSS and Atom, the JSON Feed
1.1 schema with jsonschema's own `format: uri` checker on JSON Feed).
"""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from lxml import etree

from syndication.auth.tokens import create_token
from tests.storyfactory import (
    NOW,
    UNPRINTABLE,
    URI_RE,
    add_channel,
    add_story,
    parse_json,
    parse_xml,
)

IRI = "https://example.com/café/ünïcödé?a=1&b=2"
URI = "https://example.com/caf%C3%A9/%C3%BCn%C3%AFc%C3%B6d%C3%A9?a=1&b=2"
IMAGE_IRI = "https://bücher.example/bild-ä.jpg"
IMAGE_URI = "https://xn--bcher-kva.example/bild-%C3%A4.jpg"
C1 = "\x80\x9f\x9d"
HOSTILE = {
    "code": "hostile-1",
    "title": f"Profits & Losses: <b>Q3</b>{C1}\ufeff",
    "summary": f"Tom &amp; Jerry<br>second line\x85third{C1}",
    "url": IRI,
    "authors": ["O'Brien & Sons <ob@example.com>", "Zo\u00eb &lt;i&gt;Ng&lt;/i&gt;"],
    "section": "World <i>news</i>",
    "tags": ["R&amp;D", "\ufeffTech"],
    "image": {"url": IMAGE_IRI, "type": "image/jpeg", "caption": f"A <b>map</b>{C1} &amp; key"},
}
TITLE = "Profits & Losses: Q3"
SUMMARY = "Tom & Jerry\nsecond line\nthird"
AUTHORS = ["O'Brien & Sons", "Zo\u00eb Ng"]
CHANNEL_TITLE = "Hostile & <Tests>"  # not an HTML element: text, kept


@pytest.fixture
def hostile(rt, client):
    add_channel(rt, {"slug": "world", "title": "Hostile &amp; <Tests>\x9f"}, now=NOW - timedelta(1))
    with rt.db.write() as s:
        token = create_token(s, "editor", "editor", now=NOW)[1]
    r = client.post(
        "/api/v1/stories",
        json={**HOSTILE, "status": "published", "published_at": "2025-03-01T09:00:00Z"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.get_json()
    add_story(rt, {"code": "nobody-2", "title": "No byline", "summary": "s"}, now=NOW)
    return r.get_json()


def test_stored_clean_and_returned_by_the_api(hostile):
    assert hostile["title"] == TITLE
    assert hostile["summary"] == SUMMARY
    assert hostile["authors"] == AUTHORS  # the address is dropped, not kept in the name
    assert hostile["section"] == "World news"
    assert hostile["tags"] == ["R&D", "Tech"]
    assert hostile["image"]["caption"] == "A map & key"
    # URLs are stored as given: the API gives back what the editor sent.
    assert hostile["url"] == IRI and hostile["image"]["url"] == IMAGE_IRI


def _xml_urls(raw: bytes) -> list[str]:
    root = etree.fromstring(raw)
    urls = [v for el in root.iter() for k, v in el.attrib.items() if k in ("href", "url")]
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname in ("link", "guid", "id"):
            if el.text and el.text.strip():
                urls.append(el.text.strip())
    return urls


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_xml_feeds(client, hostile, fmt):
    raw = client.get(f"/feeds/world.{fmt}").data
    assert not UNPRINTABLE.search(raw.decode("utf-8"))
    assert b"ob@example.com" not in raw  # dropped at write: no format prints it
    for url in _xml_urls(raw):
        assert URI_RE.match(url), url
    parsed = parse_xml(raw)
    assert parsed.feed.title == CHANNEL_TITLE
    nobody, story = parsed.entries
    assert story.title == TITLE and story.link == URI
    assert [a.name for a in story.authors] == AUTHORS
    assert nobody.author_detail.name == CHANNEL_TITLE  # credited to the channel, as elsewhere
    assert {t.term for t in story.tags} == {"World news", "R&D", "Tech"}
    assert story.media_content[0]["url"] == IMAGE_URI


def test_json_feed(client, hostile):
    doc = parse_json(client.get("/feeds/world.json").data)  # format: uri checked by jsonschema
    assert doc["title"] == CHANNEL_TITLE
    nobody, story = doc["items"]
    assert story["title"] == TITLE and story["summary"] == SUMMARY
    assert story["url"] == URI and story["image"] == IMAGE_URI
    assert [a["name"] for a in story["authors"]] == AUTHORS
    assert [a["name"] for a in nobody["authors"]] == [CHANNEL_TITLE]


def test_opml_and_story_page(client, hostile):
    opml = etree.fromstring(client.get("/feeds.opml").data)
    for outline in opml.iter("outline"):
        # OPML outline text is HTML (OPML 2.0), so the title is escaped once more.
        assert html.unescape(outline.get("title")).startswith(CHANNEL_TITLE)
        assert URI_RE.match(outline.get("xmlUrl")) and URI_RE.match(outline.get("htmlUrl"))
    page = client.get("/stories/hostile-1").get_data(as_text=True)
    assert f'<link rel="canonical" href="{URI.replace("&", "&amp;")}">' in page
    assert IRI not in page and IMAGE_IRI not in page and IMAGE_URI in page
    assert "ob@example.com" not in page
    assert not UNPRINTABLE.search(page)
