"""Every document a reader or crawler gets, on the shared hostile-story fixture
(tests/hostile_stories.py), over HTTP through the Flask test client, on SQLite and PostgreSQL:

- every feed page (RSS, Atom, JSON Feed; each channel, the all-stories one included; first and
  later pages, walked by their next links) read by feedparser without bozo, or validated by the
  JSON Feed 1.1 schema with `format: uri`: titles, links, authors, summaries, content,
  categories, images and captions as the fixture says a reader must see them, each story once,
  Atom `updated` distinct within each document, the hub on first pages only;
- the OPML in its three formats: well-formed, each channel once, titles escaped for its HTML;
- the sitemaps (news, index, story sitemaps) against the published XSDs, and robots.txt naming
  the index and the news sitemap.

The W3C Feed Validation Service's own code is run by hand on the same fixture (its findings and
fixes are in the commit messages); no test depends on it.
"""

from __future__ import annotations

import html
import urllib.robotparser
from datetime import timedelta

import pytest

from tests.hostile_stories import BASE, BY_CODE, CHANNELS, NOW, STORIES, Channel, Expected, load
from tests.pushkit import FakeClock
from tests.storyfactory import (
    CONTENT_TYPES,
    NS,
    SITEINDEX,
    UNPRINTABLE,
    URI_RE,
    URLSET,
    links,
    parse_json,
    parse_xml,
    valid_sitemap,
    xml_tree,
)

HOSTILE_CAPTIONS = {e.caption for e in BY_CODE.values() if e.caption}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def app(clocked_app):
    return clocked_app


@pytest.fixture
def site(rt, client):
    load(rt)
    return client


def walk(client, slug: str, fmt: str):
    """(url, body) of every page of a channel's feed, following next links from the first."""
    url, seen = f"{BASE}/feeds/{slug}.{fmt}", []
    while url:
        assert url not in seen and len(seen) < 20, "the walk does not end"
        response = client.get(url.removeprefix(BASE))
        assert response.status_code == 200, (url, response.data)
        assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
        body = response.data
        assert not UNPRINTABLE.search(body.decode("utf-8")), url
        assert b"@example." not in body, url  # bylines' addresses are dropped at write
        page_links = links(body, fmt)
        assert page_links["self"] == url
        # Only the first page is a WebSub topic; later ones lead back to it.
        assert ("hub" in page_links) == (not seen), url
        if seen and fmt != "json":
            assert page_links["first"] == f"{BASE}/feeds/{slug}.{fmt}"
        yield url, body
        seen.append(url)
        url = page_links.get("next")
    assert len(seen) > 1 or slug == "arabic", f"{slug}: the fixture means to page every channel"


def _authors(e: Expected, channel: Channel) -> list[str]:
    # A story without authors is credited to its channel, on the item, in every format.
    return list(e.authors) or [channel.title]


def _as_text(detail) -> str:
    """A feedparser text construct as the text a reader shows (RSS descriptions are HTML)."""
    return detail.value if detail.type == "text/plain" else html.unescape(detail.value)


def _check_body(e: Expected, bodies: list[str]) -> None:
    for fragment in e.body_has:
        assert any(fragment in b for b in bodies), (e.code, fragment, bodies)
    for fragment in e.body_lacks:
        assert all(fragment not in b for b in bodies), (e.code, fragment)
    for caption in HOSTILE_CAPTIONS:  # a caption never poses as the story's content
        assert all(caption not in b for b in bodies), (e.code, caption)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_every_xml_feed_page(site, fmt):
    for channel in CHANNELS:
        codes = []
        for url, body in walk(site, channel.slug, fmt):
            parsed = parse_xml(body)  # bozo 0
            assert parsed.version == ("rss20" if fmt == "rss" else "atom10")
            assert parsed.feed.title == channel.title
            root = xml_tree(body)
            items = root.findall("channel/item") if fmt == "rss" else root.findall("atom:entry", NS)
            assert len(items) == len(parsed.entries)
            if fmt == "atom":
                updated = [i.findtext("atom:updated", namespaces=NS) for i in items]
                assert len(set(updated)) == len(updated), (url, updated)
            for entry, item in zip(parsed.entries, items, strict=True):
                code = entry.id.removeprefix(f"{BASE}/stories/")
                codes.append(code)
                e = BY_CODE[code]
                assert entry.id == e.page
                assert entry.title == e.title
                assert entry.title_detail.type == "text/plain"
                assert entry.link == e.link and URI_RE.match(entry.link)
                assert [a.name for a in entry.authors] == _authors(e, channel)
                assert _as_text(entry.summary_detail) == e.summary
                assert [t.term for t in entry.get("tags", [])] == list(e.categories)
                contents = [c.value for c in entry.get("content", [])]
                if channel.full and (e.body_has or e.body_lacks):
                    assert contents, code
                    _check_body(e, contents)
                elif not channel.full:
                    assert contents == [], code
                media = item.findall("media:content", NS)
                if e.image:
                    assert [m.get("url") for m in media] == [e.image]
                    assert entry.media_content[0]["url"] == e.image
                    captions = [t.text for t in item.findall("media:content/media:title", NS)]
                    assert captions == ([e.caption] if e.caption else [])
                else:
                    assert media == []
        assert codes == list(channel.codes), (channel.slug, fmt)


def test_every_json_feed_page(site):
    for channel in CHANNELS:
        codes = []
        for _, body in walk(site, channel.slug, "json"):
            doc = parse_json(body)  # the JSON Feed 1.1 schema, format: uri checked
            assert doc["title"] == channel.title
            for item in doc["items"]:
                code = item["id"].removeprefix(f"{BASE}/stories/")
                codes.append(code)
                e = BY_CODE[code]
                assert item["id"] == e.page
                assert item["title"] == e.title
                assert item["url"] == e.link
                assert item["summary"] == e.summary
                assert [a["name"] for a in item["authors"]] == _authors(e, channel)
                assert item.get("tags", []) == list(e.categories)
                assert item.get("image") == e.image
                caption = item.get("_media", {}).get("image_caption")
                assert caption == e.caption
                if channel.full and (e.body_has or e.body_lacks):
                    _check_body(e, [item["content_html"]])
                elif not channel.full:
                    assert "content_html" not in item
        assert codes == list(channel.codes), channel.slug


@pytest.mark.parametrize(
    "query, fmt", [("", "rss"), ("?format=atom", "atom"), ("?format=json", "json")]
)
def test_opml_in_every_format(site, query, fmt):
    response = site.get(f"/feeds.opml{query}")
    assert response.status_code == 200
    assert not UNPRINTABLE.search(response.get_data(as_text=True))
    root = xml_tree(response.data)  # well-formed
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        f"{BASE}/feeds/{c.slug}.{fmt}" for c in sorted(CHANNELS, key=lambda c: c.slug)
    ]
    by_url = {o.get("xmlUrl"): o for o in outlines}
    for channel in CHANNELS:
        outline = by_url[f"{BASE}/feeds/{channel.slug}.{fmt}"]
        assert outline.get("type") == "rss"
        # OPML text is HTML: the plain-text title is escaped once more, and reads back whole.
        assert html.unescape(outline.get("text")) == channel.title
        assert html.unescape(outline.get("title")) == channel.title
        assert "<" not in outline.get("title")
        assert URI_RE.match(outline.get("htmlUrl"))


def test_sitemaps_and_robots(site):
    # A story is listed at its canonical URL when that is on this site (iri-2's is elsewhere).
    on_site = {e.link: e for e in BY_CODE.values() if e.link.startswith(f"{BASE}/")}
    assert len(on_site) == len(STORIES) - 1

    news = valid_sitemap(site.get("/sitemaps/news.xml").data, URLSET)
    listed = {
        url.findtext("sm:loc", namespaces=NS): url.findtext("news:news/news:title", namespaces=NS)
        for url in news.iterfind("sm:url", NS)
    }
    assert listed == {link: e.title for link, e in on_site.items()}

    index = valid_sitemap(site.get("/sitemap.xml").data, SITEINDEX)
    files = [loc.text for loc in index.iterfind("sm:sitemap/sm:loc", NS)]
    assert files == [f"{BASE}/sitemaps/stories-1.xml"]
    story_locs = []
    for file in files:
        urlset = valid_sitemap(site.get(file.removeprefix(BASE)).data, URLSET)
        story_locs += [loc.text for loc in urlset.iterfind("sm:url/sm:loc", NS)]
    assert sorted(story_locs) == sorted(on_site)

    robots = site.get("/robots.txt")
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(robots.get_data(as_text=True).splitlines())
    assert parser.site_maps() == [f"{BASE}/sitemap.xml", f"{BASE}/sitemaps/news.xml"]
    for named in parser.site_maps():
        assert site.get(named.removeprefix(BASE)).status_code == 200


def test_fixture_has_what_it_promises():
    """The fixture itself: two edits within one second, two stories at one instant."""
    twice = next(s for s in STORIES if s.expected.code == "twice-11")
    (first, _), (second, _) = twice.edits
    assert first.replace(microsecond=0) == second.replace(microsecond=0)
    assert second - first < timedelta(seconds=1)
    same = next(s for s in STORIES if s.expected.code == "same-12")
    assert same.edits[0][0] == second
    assert any(not e.authors for e in BY_CODE.values())
