"""Feeds over HTTP, on SQLite and PostgreSQL: hostile stories in RSS, Atom and JSON Feed, headers,
change tracking (ETag / Last-Modified / dates), conditional GET, errors, OPML and the page cache.

Everything is set up through the services and read back through the Flask test client with real
parsers: feedparser and lxml for XML, jsonschema with the vendored JSON Feed 1.1 schema.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import pytest
from lxml import etree

from syndication.app import create_app
from syndication.stories.service import retract_story, update_story
from tests.storyfactory import (
    BASE,
    CONTENT_TYPES,
    NOW,
    NS,
    add_channel,
    add_story,
    edit_channel,
    feed_url,
    item_ids,
    links,
    page_url,
    parse_json,
    parse_xml,
    struct_dt,
    xml_tree,
)

FORMATS = ("rss", "atom", "json")
DAY_BEFORE = NOW - timedelta(days=1)

# Characters XML 1.0 forbids: C0 controls, a non-character and a lone surrogate.
FORBIDDEN = "\x01\x0b\ufffe\ud800"
AMP_TITLE_IN = f'Ben &{FORBIDDEN} Jerry <3 "quotes" a < b &amp; \U0001f366'
# Stored as plain text: "&amp;" decoded, "<3" and "a < b" are text, not tags.
AMP_TITLE = 'Ben & Jerry <3 "quotes" a < b & \U0001f366'
RTL_TITLE = "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"
HOSTILE_BODY = (
    '<p onclick="steal()">Read <a href="/about?a=1&amp;b=2">more</a> '
    '<img src="img/map.png" onerror="x()"> Tom &amp; Jerry &lt;3'
    f" bad{FORBIDDEN}char</p><script>alert(1)</script>"
    '<a href="javascript:alert(2)">js</a>'
)
ALL_CODES = ("amp-1", "rtl-2", "bare-3", "gone-4", "future-5", "sched-6", "draft-7")
VISIBLE = ("bare-3", "rtl-2", "amp-1")  # newest first


def dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def http_date(value: str) -> datetime:
    return parsedate_to_datetime(value)


@pytest.fixture
def hostile(rt):
    """Channels 'world' (full content), 'brief' (summaries) and 'rss-only', and the stories."""
    add_channel(rt, {"slug": "world", "title": "World & <News>"}, now=DAY_BEFORE)
    add_channel(rt, {"slug": "brief", "title": "Brief", "content": "summary"}, now=DAY_BEFORE)
    add_channel(rt, {"slug": "rss-only", "title": "Only RSS", "formats": ["rss"]}, now=DAY_BEFORE)
    add_story(
        rt,
        {
            "code": "amp-1",
            "title": AMP_TITLE_IN,
            "summary": f"Tom & Jerry <b>x</b> a < b{FORBIDDEN}",
            "body_html": HOSTILE_BODY,
            "section": "World",
            "tags": ["Politics & Law", "Tech"],
            "authors": ["Zo\u00eb O'Brien", "\u0633\u0627\u0631\u0629"],
            "image": {
                "url": "https://cdn.example.test/a.jpg",
                "type": "image/jpeg",
                "length": 12345,
                "width": 800,
                "height": 600,
                "caption": "A & <B>",
            },
            "published_at": NOW - timedelta(hours=3),
        },
        now=NOW - timedelta(hours=3),
    )
    add_story(
        rt,
        {
            "code": "rtl-2",
            "title": RTL_TITLE,
            "language": "ar",
            "summary": "\u0646\u0635 \u0642\u0635\u064a\u0631",
            "body_html": "<p>\u0646\u0635</p>",
            "url": "https://partner.example.test/a?id=1&x=2",
            "image": {"url": "https://cdn.example.test/b.png"},  # no type, no length
            "published_at": NOW - timedelta(hours=2),
        },
        now=NOW - timedelta(hours=2),
    )
    add_story(
        rt,
        {"code": "bare-3", "title": "Plain", "published_at": NOW - timedelta(hours=1)},
        now=NOW - timedelta(hours=1),
    )
    add_story(
        rt,
        {"code": "gone-4", "title": "Retracted", "section": "World"},
        now=NOW - timedelta(hours=4),
    )
    with rt.db.write() as s:
        retract_story(s, rt.settings, "gone-4", now=NOW - timedelta(minutes=30))
    add_story(
        rt,
        {"code": "future-5", "title": "Future", "published_at": NOW + timedelta(days=2)},
        now=NOW,
    )
    add_story(
        rt,
        {
            "code": "sched-6",
            "title": "Scheduled",
            "status": "scheduled",
            "publish_at": NOW + timedelta(days=1),
        },
        now=NOW,
        status="draft",
    )
    add_story(rt, {"code": "draft-7", "title": "Draft"}, now=NOW, status="draft")
    return rt


def _check_body(html: str) -> None:
    assert 'href="http://news.example.test/about?a=1&amp;b=2"' in html
    assert 'src="http://news.example.test/stories/img/map.png"' in html
    for bad in ("<script", "onclick", "onerror", "javascript:", "\x01", "\x0b", "\ufffe"):
        assert bad not in html
    assert "badchar" in html


def _get(client, url: str, **headers):
    response = client.get(url, headers=headers)
    return response


# --- 1. hostile stories in every format --------------------------------------------------------


def test_rss_hostile_channel(client, hostile):
    response = _get(client, "/feeds/world.rss")
    assert response.status_code == 200
    parsed = parse_xml(response.data)
    assert parsed.version == "rss20"
    assert parsed.feed.title == "World & <News>"
    assert struct_dt(parsed.feed.updated_parsed) == NOW - timedelta(minutes=30)  # the retraction
    assert parsed.feed.language == "en"
    assert [e.id for e in parsed.entries] == [page_url(c) for c in VISIBLE]
    assert [e.title for e in parsed.entries] == ["Plain", RTL_TITLE, AMP_TITLE]
    bare, rtl, amp = parsed.entries
    assert [e.link for e in parsed.entries] == [
        page_url("bare-3"),
        "https://partner.example.test/a?id=1&x=2",
        page_url("amp-1"),
    ]
    assert [struct_dt(e.published_parsed) for e in parsed.entries] == [
        NOW - timedelta(hours=h) for h in (1, 2, 3)
    ]
    # content:encoded holds the sanitised body, with absolute links.
    _check_body(amp.content[0].value)
    assert "Tom &amp; Jerry x a &lt; b" == amp.summary  # <b> removed at write
    assert [t.term for t in amp.tags] == ["World", "Politics & Law", "Tech"]
    assert amp.enclosures == [
        {"href": "https://cdn.example.test/a.jpg", "length": "12345", "type": "image/jpeg"}
    ]
    assert amp.media_content[0]["url"] == "https://cdn.example.test/a.jpg"
    assert rtl.enclosures[0]["href"] == "https://cdn.example.test/b.png"
    assert rtl.enclosures[0]["type"] == "image/png"  # inferred from the URL
    assert rtl.enclosures[0]["length"] == "0"  # RSS requires one; 0 = unknown
    assert "content" in rtl and rtl.content[0].value == "<p>\u0646\u0635</p>"
    assert "enclosures" not in bare or bare.enclosures == []
    assert "content" not in bare and "tags" not in bare
    # lxml: exact elements.
    channel = xml_tree(response.data).find("channel")
    items = channel.findall("item")
    amp_item = items[2]
    assert amp_item.find("guid").get("isPermaLink") == "true"
    assert [c.text for c in amp_item.findall("dc:creator", NS)] == [
        "Zo\u00eb O'Brien",
        "\u0633\u0627\u0631\u0629",
    ]
    assert items[1].find("dc:language", NS).text == "ar"
    assert amp_item.find("content:encoded", NS) is not None
    # The canonical URL is the link, never the guid.
    assert items[1].find("guid").text == page_url("rtl-2")
    for code in ("gone-4", "future-5", "sched-6", "draft-7"):
        assert code.encode() not in response.data


def test_atom_hostile_channel(client, hostile):
    response = _get(client, "/feeds/world.atom")
    assert response.status_code == 200
    parsed = parse_xml(response.data)
    assert parsed.version == "atom10"
    assert parsed.feed.title == "World & <News>"
    assert struct_dt(parsed.feed.updated_parsed) == NOW - timedelta(minutes=30)
    assert [e.id for e in parsed.entries] == [page_url(c) for c in VISIBLE]
    assert [e.title for e in parsed.entries] == ["Plain", RTL_TITLE, AMP_TITLE]
    bare, rtl, amp = parsed.entries
    assert rtl.link == "https://partner.example.test/a?id=1&x=2"
    assert [struct_dt(e.published_parsed) for e in parsed.entries] == [
        NOW - timedelta(hours=h) for h in (1, 2, 3)
    ]
    assert [struct_dt(e.updated_parsed) for e in parsed.entries] == [
        NOW - timedelta(hours=h) for h in (1, 2, 3)
    ]
    _check_body(amp.content[0].value)
    assert rtl.content[0].value == "<p>\u0646\u0635</p>"
    assert rtl.content[0].language == "ar"
    assert [t.term for t in amp.tags] == ["World", "Politics & Law", "Tech"]
    assert [a.name for a in amp.authors] == ["Zo\u00eb O'Brien", "\u0633\u0627\u0631\u0629"]
    assert {
        "href": "https://cdn.example.test/a.jpg",
        "type": "image/jpeg",
        "length": "12345",
    }.items() <= amp.enclosures[0].items()
    assert rtl.enclosures[0]["href"] == "https://cdn.example.test/b.png"
    assert "length" not in rtl.enclosures[0]  # unknown, so left out
    assert "content" not in bare
    root = xml_tree(response.data)
    entries = root.findall("atom:entry", NS)
    # The one entry without authors is credited to the channel, on the entry, as in RSS and
    # JSON Feed (readers do not apply RFC 4287's inheritance alike).
    assert entries[0].find("atom:author/atom:name", NS).text == "World & <News>"
    assert root.find("atom:author/atom:name", NS).text == "World & <News>"
    for code in ("future-5", "sched-6", "draft-7"):
        assert code.encode() not in response.data
    # The retracted story is no entry, only an RFC 6721 tombstone (tests/test_kill.py).
    assert [
        e.get("ref") for e in root.iter("{http://purl.org/atompub/tombstones/1.0}deleted-entry")
    ] == [page_url("gone-4")]
    assert response.data.count(b"gone-4") == 1


def test_json_hostile_channel(client, hostile):
    response = _get(client, "/feeds/world.json")
    assert response.status_code == 200
    doc = parse_json(response.data)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == "World & <News>"
    assert doc["feed_url"] == feed_url("world", "json")
    assert doc["home_page_url"] == f"{BASE}/channels/world"
    assert doc["language"] == "en"
    assert doc["authors"] == [{"name": "World & <News>"}]
    assert doc["hubs"] == [{"type": "WebSub", "url": f"{BASE}/hub"}]
    assert "next_url" not in doc  # three items, one page
    items = doc["items"]
    assert [i["id"] for i in items] == [page_url(c) for c in VISIBLE]
    assert [i["title"] for i in items] == ["Plain", RTL_TITLE, AMP_TITLE]
    bare, rtl, amp = items
    assert rtl["url"] == "https://partner.example.test/a?id=1&x=2"
    assert rtl["language"] == "ar"
    assert [dt(i["date_published"]) for i in items] == [NOW - timedelta(hours=h) for h in (1, 2, 3)]
    _check_body(amp["content_html"])
    assert amp["summary"] == "Tom & Jerry x a < b"
    assert amp["tags"] == ["World", "Politics & Law", "Tech"]
    assert amp["authors"] == [{"name": "Zo\u00eb O'Brien"}, {"name": "\u0633\u0627\u0631\u0629"}]
    assert amp["image"] == "https://cdn.example.test/a.jpg"
    assert rtl["image"] == "https://cdn.example.test/b.png"
    assert "image" not in bare and "tags" not in bare
    assert bare["content_text"] == ""


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_image_caption_never_poses_as_content(client, hostile, fmt):
    """No caption as media:description: feedparser (and readers built on it) reads one as the
    entry's content, so a caption would be shown as the story (test_feed_captions.py)."""
    response = _get(client, f"/feeds/world.{fmt}")
    root = xml_tree(response.data)
    item = root.findall("channel/item")[2] if fmt == "rss" else root.findall("atom:entry", NS)[2]
    assert item.findall(".//media:description", NS) == []
    entry = feedparser.parse(response.data).entries[2]
    assert all("A & <B>" not in c.value for c in entry.get("content", []))


def test_next_url_in_json_with_small_limit(client, rt, hostile):
    edit_channel(rt, "world", {"limit": 2}, now=NOW)
    doc = parse_json(_get(client, "/feeds/world.json").data)
    assert len(doc["items"]) == 2
    assert doc["next_url"].startswith(feed_url("world", "json") + "?before=")
    page2 = parse_json(_get(client, doc["next_url"].removeprefix(BASE)).data)
    assert [i["id"] for i in page2["items"]] == [page_url("amp-1")]
    assert page2["feed_url"] == doc["next_url"]


MARKUP_TITLE = "<b>Bold</b> & <i>it</i> &lt;x&gt; ]]> end"
# As stored: HTML tags removed, references decoded; "<x>" is no HTML element, so it is text.
MARKUP_TEXT = "Bold & it <x> ]]> end"


@pytest.mark.parametrize("fmt", FORMATS)
def test_markup_lookalikes_round_trip(client, rt, fmt):
    """Plain text that looks like markup, entities or a CDATA end is printed as the text stored
    (tags of HTML elements removed, references decoded); a body holding "]]>" survives the
    CDATA section it is written in."""
    add_channel(rt, {"slug": "world", "title": "W"}, now=DAY_BEFORE)
    add_story(
        rt,
        {
            "code": "m1",
            "title": MARKUP_TITLE,
            "summary": "a </p> b ]]> c",
            "body_html": "<p>x ]]&gt; y</p><pre>]]></pre>",
        },
    )
    add_story(
        rt,
        {"code": "m2", "title": "Body only", "body_html": "<p>Only body</p>"},
        now=NOW + timedelta(seconds=1),
    )
    body = _get(client, f"/feeds/world.{fmt}").data
    if fmt == "json":
        items = parse_json(body)["items"]
        assert items[1]["title"] == MARKUP_TEXT
        assert items[1]["summary"] == "a \n b ]]> c"  # a block tag ends a line
        assert items[1]["content_html"] == "<p>x ]]&gt; y</p><pre>]]&gt;</pre>"
        assert items[0]["content_html"] == "<p>Only body</p>"
        return
    body_only, markup = parse_xml(body).entries
    assert markup.title == MARKUP_TEXT
    assert markup.content[0].value == "<p>x ]]&gt; y</p><pre>]]&gt;</pre>"
    # A story with a body but no summary still carries its body (RSS: in <description>).
    shown = body_only.content[0].value if "content" in body_only else body_only.summary
    assert shown == "<p>Only body</p>"


@pytest.mark.parametrize("fmt", FORMATS)
def test_summary_channel_has_no_content(client, hostile, fmt):
    body = _get(client, f"/feeds/brief.{fmt}").data
    if fmt == "json":
        items = parse_json(body)["items"]
        assert [i["id"] for i in items] == [page_url(c) for c in VISIBLE]
        assert all("content_html" not in i for i in items)
        assert items[2]["content_text"] == "Tom & Jerry x a < b"
        return
    parsed = parse_xml(body)
    assert [e.id for e in parsed.entries] == [page_url(c) for c in VISIBLE]
    for entry in parsed.entries:
        assert "content" not in entry
    assert b"content:encoded" not in body and b"<content" not in body
    assert b"badchar" not in body  # the body is nowhere


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("paged", [False, True])
def test_headers_and_self_hub_links(client, rt, hostile, fmt, paged):
    url = f"/feeds/world.{fmt}"
    if paged:
        edit_channel(rt, "world", {"limit": 1}, now=NOW)
        url = links(_get(client, url).data, fmt)["next"].removeprefix(BASE)
        assert "?before=" in url
    response = _get(client, url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert response.headers["Cache-Control"] == "public, max-age=60"
    header_links = dict(
        (rel, href)
        for href, rel in re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', response.headers["Link"])
    )
    doc_links = links(response.data, fmt)
    assert doc_links["self"] == BASE + url
    if paged:
        # Not a WebSub topic: no hub, but the way to the topic (RFC 5005 paging).
        assert "hub" not in header_links and "hub" not in doc_links
        assert header_links["self"] == BASE + url
        assert header_links["first"] == feed_url("world", fmt)
        assert header_links["next"] == doc_links["next"]
        if fmt != "json":  # JSON Feed has no field for it: the Link header carries it
            assert doc_links["first"] == feed_url("world", fmt)
    else:
        assert header_links == {"hub": f"{BASE}/hub", "self": BASE + url}
        assert doc_links["hub"] == f"{BASE}/hub"
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    expected = NOW if paged else NOW - timedelta(minutes=30)  # the limit edit, or the retraction
    assert http_date(response.headers["Last-Modified"]) == expected


def test_max_age_follows_the_setting(settings, hostile):
    app = create_app(dataclasses.replace(settings, feed_max_age=300))
    try:
        response = app.test_client().get("/feeds/world.atom")
        assert response.headers["Cache-Control"] == "public, max-age=300"
    finally:
        app.extensions["syndication"].db.dispose()


# --- 2. changes move dates and validators -------------------------------------------------------


@pytest.fixture
def sections(rt):
    add_channel(
        rt, {"slug": "world", "title": "World", "filter": {"sections": ["World"]}}, now=DAY_BEFORE
    )
    add_channel(
        rt, {"slug": "sport", "title": "Sport", "filter": {"sections": ["Sport"]}}, now=DAY_BEFORE
    )
    add_channel(rt, {"slug": "all", "title": "All"}, now=DAY_BEFORE)
    add_story(
        rt, {"code": "w1", "title": "World one", "section": "World"}, now=NOW - timedelta(hours=2)
    )
    add_story(
        rt, {"code": "s1", "title": "Sport one", "section": "Sport"}, now=NOW - timedelta(hours=1)
    )
    return rt


def _validators(client, slug: str, fmt: str = "atom") -> tuple[str, str, bytes]:
    response = _get(client, f"/feeds/{slug}.{fmt}")
    assert response.status_code == 200
    return response.headers["ETag"], response.headers["Last-Modified"], response.data


def test_edit_keeps_guid_moves_updated_and_validators(client, rt, sections):
    before = {slug: _validators(client, slug) for slug in ("world", "sport", "all")}
    json_before = parse_json(_get(client, "/feeds/world.json").data)["items"][0]
    edited_at = NOW + timedelta(hours=1)
    with rt.db.write() as s:
        update_story(s, rt.settings, "w1", {"title": "World one, corrected"}, now=edited_at)
    after = {slug: _validators(client, slug) for slug in ("world", "sport", "all")}

    for slug in ("world", "all"):
        assert after[slug][0] != before[slug][0], slug
        assert http_date(after[slug][1]) == edited_at, slug
    assert after["sport"][:2] == before["sport"][:2]  # not shown there: untouched

    entry = next(e for e in parse_xml(after["world"][2]).entries if e.id == page_url("w1"))
    assert entry.title == "World one, corrected"
    assert struct_dt(entry.updated_parsed) == edited_at
    assert struct_dt(entry.published_parsed) == NOW - timedelta(hours=2)
    assert struct_dt(parse_xml(after["world"][2]).feed.updated_parsed) == edited_at

    json_after = parse_json(_get(client, "/feeds/world.json").data)["items"][0]
    assert json_after["id"] == json_before["id"] == page_url("w1")
    assert dt(json_after["date_modified"]) == edited_at
    assert json_after["date_published"] == json_before["date_published"]


def test_retraction_moves_the_dates_of_channels_that_showed_it(client, rt, sections):
    before_sport = _validators(client, "sport", "rss")
    retracted_at = NOW + timedelta(hours=2)
    with rt.db.write() as s:
        retract_story(s, rt.settings, "w1", now=retracted_at)
    for slug in ("world", "all"):
        rss = _get(client, f"/feeds/{slug}.rss")
        parsed = parse_xml(rss.data)
        assert struct_dt(parsed.feed.updated_parsed) == retracted_at  # lastBuildDate
        assert http_date(rss.headers["Last-Modified"]) == retracted_at
        assert page_url("w1") not in [e.id for e in parsed.entries]
        atom = parse_xml(_get(client, f"/feeds/{slug}.atom").data)
        assert struct_dt(atom.feed.updated_parsed) == retracted_at
        assert page_url("w1") not in [e.id for e in atom.entries]
        assert page_url("w1") not in item_ids(_get(client, f"/feeds/{slug}.json").data, "json")
    assert _validators(client, "sport", "rss")[:2] == before_sport[:2]


def test_channel_filter_edit_changes_etag(client, rt, sections):
    etag, _, body = _validators(client, "sport", "json")
    assert item_ids(body, "json") == [page_url("s1")]
    edit_channel(
        rt, "sport", {"filter": {"sections": ["Sport", "World"]}}, now=NOW + timedelta(hours=3)
    )
    etag2, modified2, body2 = _validators(client, "sport", "json")
    assert etag2 != etag
    assert http_date(modified2) == NOW + timedelta(hours=3)
    assert item_ids(body2, "json") == [page_url("s1"), page_url("w1")]


def test_story_without_any_term_updates_the_unfiltered_channel(client, rt):
    """A story with no section, tag, language, source or author still shows in (and moves) a
    channel whose filter is empty, even when that channel's page is already cached."""
    add_channel(rt, {"slug": "all", "title": "All"}, now=DAY_BEFORE)
    add_story(rt, {"code": "t1", "title": "First", "section": "News"}, now=NOW)
    etag, _, body = _validators(client, "all", "json")
    assert item_ids(body, "json") == [page_url("t1")]
    add_story(rt, {"code": "t2", "title": "No terms at all"}, now=NOW + timedelta(minutes=5))
    etag2, modified2, body2 = _validators(client, "all", "json")
    assert item_ids(body2, "json") == [page_url("t2"), page_url("t1")]
    assert etag2 != etag
    assert http_date(modified2) == NOW + timedelta(minutes=5)
    with rt.db.write() as s:
        retract_story(s, rt.settings, "t2", now=NOW + timedelta(minutes=10))
    etag3, modified3, body3 = _validators(client, "all", "json")
    assert item_ids(body3, "json") == [page_url("t1")]
    assert http_date(modified3) == NOW + timedelta(minutes=10)


# --- 3. conditional GET -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_conditional_get(client, rt, fmt):
    changed_at = NOW.replace(microsecond=654321)  # Last-Modified has whole seconds
    add_channel(rt, {"slug": "world", "title": "World"}, now=DAY_BEFORE)
    add_story(rt, {"code": "c1", "title": "One", "section": "News"}, now=changed_at)
    url = f"/feeds/world.{fmt}"
    first = _get(client, url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert re.fullmatch(r'"[^"]+"', etag)  # strong

    not_modified = _get(client, url, **{"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag

    assert _get(client, url, **{"If-Modified-Since": modified}).status_code == 304
    later = "Sat, 01 Mar 2025 13:00:00 GMT"
    assert _get(client, url, **{"If-Modified-Since": later}).status_code == 304

    assert _get(client, url, **{"If-None-Match": '"stale"'}).status_code == 200
    # If-None-Match compares weakly (RFC 9110 13.1.2); "*" matches any current representation.
    assert _get(client, url, **{"If-None-Match": f"W/{etag}"}).status_code == 304
    assert _get(client, url, **{"If-None-Match": f'"stale", {etag}'}).status_code == 304
    assert _get(client, url, **{"If-None-Match": "*"}).status_code == 304
    assert not_modified.headers["Cache-Control"] == "public, max-age=60"
    earlier = "Sat, 01 Mar 2025 11:59:59 GMT"
    assert _get(client, url, **{"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = _get(client, url, **{"If-None-Match": '"stale"', "If-Modified-Since": modified})
    assert both.status_code == 200 and both.data == first.data

    add_story(
        rt, {"code": "c2", "title": "Two", "section": "News"}, now=changed_at + timedelta(minutes=1)
    )
    after = _get(client, url, **{"If-None-Match": etag, "If-Modified-Since": modified})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag


# --- 5. errors and OPML -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/feeds/nope.rss", 404),
        ("/feeds/world.xml", 404),
        ("/feeds/world.JSON", 404),
        ("/feeds/rss-only.json", 404),
        ("/feeds/rss-only.atom", 404),
        ("/feeds/world.rss?before=abc", 400),
    ],
)
def test_errors_are_plain_text(client, hostile, url, status):
    response = _get(client, url)
    assert response.status_code == status
    assert response.mimetype == "text/plain"
    assert response.data.strip()


def test_rss_only_channel_serves_rss(client, hostile):
    response = _get(client, "/feeds/rss-only.rss")
    assert response.status_code == 200
    assert [e.id for e in parse_xml(response.data).entries] == [page_url(c) for c in VISIBLE]


@pytest.mark.parametrize("query", ["", "?format=rss", "?format=atom", "?format=json"])
def test_opml_lists_every_channel_once(client, rt, hostile, query):
    """One outline per channel, type="rss" (OPML's subscription type) in every format; a
    channel that does not publish the format asked for is listed in one it does publish.
    More in test_opml_newsboat.py (a real reader imports it)."""
    fmt = query.removeprefix("?format=") or "rss"
    response = _get(client, "/feeds.opml" + query)
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    created = http_date(root.findtext("head/dateCreated"))
    assert created == NOW - timedelta(minutes=30)  # the newest change of any channel
    outlines = root.findall("body/outline")
    got = [(o.get("xmlUrl"), o.get("htmlUrl"), o.get("type")) for o in outlines]
    assert sorted(got) == [
        (feed_url(slug, f), f"{BASE}/channels/{slug}", "rss")
        for slug, f in (("brief", fmt), ("rss-only", "rss"), ("world", fmt))
    ]
    titles = {o.get("xmlUrl"): (o.get("text"), o.get("title")) for o in outlines}
    # text and title are HTML to OPML readers and the W3C validator: the title escaped once more.
    assert titles[feed_url("world", fmt)] == ("World &amp; &lt;News&gt;",) * 2
    # Each listed feed really is served.
    for xml_url, _, _ in got:
        assert _get(client, xml_url.removeprefix(BASE)).status_code == 200


@pytest.mark.parametrize("query", ["?format=xml", "?format=", "?format=RSS"])
def test_opml_unknown_format_is_400(client, hostile, query):
    response = _get(client, "/feeds.opml" + query)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert "unknown OPML feed format" in response.get_data(as_text=True)
    assert "rss, atom or json" in response.get_data(as_text=True)


def test_opml_without_channels_is_404_not_an_invalid_document(client):
    """OPML 2.0's body holds one or more outlines: with no channel there is no list to give."""
    response = client.get("/feeds.opml")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"
    assert "no channels yet" in response.get_data(as_text=True)


# --- 7. the page cache --------------------------------------------------------------------------


def test_unchanged_channel_is_served_from_the_cache(client, rt, hostile):
    rt.pages.clear()
    first = _get(client, "/feeds/world.rss")
    assert len(rt.pages) == 1
    second = _get(client, "/feeds/world.rss")
    assert len(rt.pages) == 1  # no new render
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    _get(client, "/feeds/world.atom")
    _get(client, "/feeds/world.json")
    assert len(rt.pages) == 3
    for fmt in FORMATS:
        _get(client, f"/feeds/world.{fmt}")
    assert len(rt.pages) == 3

    with rt.db.write() as s:
        update_story(s, rt.settings, "amp-1", {"title": "Changed"}, now=NOW + timedelta(hours=1))
    third = _get(client, "/feeds/world.rss")
    assert len(rt.pages) == 4  # a fresh render under the channel's new version
    assert third.headers["ETag"] != first.headers["ETag"]
    assert "Changed" in [e.title for e in parse_xml(third.data).entries]
    _get(client, "/feeds/world.rss")
    assert len(rt.pages) == 4


def test_cache_entries_are_bounded(settings, hostile):
    app = create_app(dataclasses.replace(settings, feed_cache_entries=2))
    try:
        client = app.test_client()
        runtime = app.extensions["syndication"]
        bodies = {fmt: client.get(f"/feeds/world.{fmt}").data for fmt in FORMATS}
        assert len(runtime.pages) == 2
        again = {fmt: client.get(f"/feeds/world.{fmt}").data for fmt in FORMATS}
        assert again == bodies
        assert json.loads(bodies["json"])["items"]
    finally:
        app.extensions["syndication"].db.dispose()


@pytest.mark.parametrize("fmt", FORMATS)
def test_cache_hit_at_the_wsgi_layer_answers_like_the_route(client, rt, hostile, fmt):
    """The first request renders through the Flask route, the next ones are served by the
    WSGI fast path from the cache: the same bytes and the same headers either way."""
    rt.pages.clear()
    miss = client.get(f"/feeds/world.{fmt}")
    hit = client.get(f"/feeds/world.{fmt}")
    assert len(rt.pages) == 1
    assert miss.status_code == hit.status_code == 200
    assert miss.data == hit.data
    assert sorted(miss.headers.items()) == sorted(hit.headers.items())
    etag = hit.headers["ETag"]
    for headers in ({"If-None-Match": etag}, {"If-Modified-Since": hit.headers["Last-Modified"]}):
        rt.pages.clear()
        slow = client.get(f"/feeds/world.{fmt}", headers=headers)
        fast = client.get(f"/feeds/world.{fmt}", headers=headers)
        assert slow.status_code == fast.status_code == 304
        assert slow.data == fast.data == b""
        assert sorted(slow.headers.items()) == sorted(fast.headers.items())
    head = client.head(f"/feeds/world.{fmt}")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(hit.data))
