"""Atom 1.0 output, read back with feedparser and lxml."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import feedparser
from lxml import etree

from feeds import Feed, Person, render
from feeds.atom import entry_updated

from .feed_samples import FORBIDDEN, SELF_URL, SITE, TAGS

A = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def test_hostile_feed_round_trips(hostile: Feed) -> None:
    parsed = feedparser.parse(render(hostile, "atom"))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"

    feed = parsed.feed
    assert feed.title == "World & <News> \U0001f30d"
    assert feed.subtitle == "Everything & more <from> the world"
    # Stable across pages: the first page's URL, not this page's.
    assert feed.id == f"{SITE}/feeds/world.rss"
    assert feed.link == hostile.link
    links = {(link.rel, link.href) for link in feed.links}
    assert {
        ("alternate", hostile.link),
        ("self", SELF_URL),
        ("hub", f"{SITE}/hub"),
        ("next", f"{SITE}/feeds/world.rss?page=3"),
        ("first", f"{SITE}/feeds/world.rss"),
    } <= links
    assert feed.updated == "2024-05-06T09:08:09+00:00"
    assert feed.rights == "\u00a9 2024 Example News & Partners"
    assert feed.logo == hostile.logo
    assert feed.icon == hostile.icon
    assert feed.author_detail.name == "The World Desk"

    first, second, third = parsed.entries
    assert first.title == "Ben & Jerry <3 \"quotes\" 'apos' > 2 \U0001f366"
    assert first.id == f"{SITE}/stories/42"
    assert first.link == f"{SITE}/stories/42"
    assert first.published == "2024-05-06T07:08:09+00:00"
    assert first.updated == "2024-05-06T08:08:09+00:00"
    assert first.summary == "Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt; a &lt; b"
    assert first.content[0].type == "text/html"
    assert f'href="{SITE}/stories/42?a=1&amp;b=2"' in first.content[0].value
    assert [t.term for t in first.tags] == list(TAGS)
    assert [a.name for a in first.authors] == ["Zo\u00eb O'Brien & Co", "\u05d3\u05e0\u05d4"]
    assert first.enclosures == [
        {"href": f"{SITE}/media/42.jpg", "type": "image/jpeg", "length": "12345"}
    ]
    assert first.media_thumbnail[0]["url"] == f"{SITE}/media/42.jpg"

    assert second.published == "2024-05-05T23:30:00+02:00"
    assert second.updated == "2024-05-05T23:45:00+02:00"
    assert second.summary == "\u0645\u0644\u062e\u0635 \u0627\u0644\u062e\u0628\u0631"
    assert second.summary_detail.type == "text/plain"
    assert "content" not in second
    assert second.enclosures == [{"href": f"{SITE}/media/43.png", "type": "image/png"}]

    assert third.enclosures == []
    assert third.content[0].value == "<p>Only <em>HTML</em> &amp; nothing else</p>"


def test_structure(hostile: Feed) -> None:
    out = render(hostile, "atom")
    root = etree.fromstring(out)
    assert root.tag == f"{A}feed"
    assert root.get(XML_LANG) == "en"
    entries = root.findall(f"{A}entry")
    assert [e.get(XML_LANG) for e in entries] == [None, "ar", "he"]
    assert root.find(f".//{MEDIA}group") is None
    # An entry without authors is credited to the feed's author, written on the entry itself
    # (as RSS and JSON Feed do it), and the feed keeps its own.
    assert root.find(f"{A}author/{A}name").text == "The World Desk"
    assert entries[1].find(f"{A}author/{A}name").text == "The World Desk"
    text = out.decode("utf-8")
    for ch in FORBIDDEN:
        assert ch not in text
    assert "<script" not in text.lower() and "javascript:" not in text.lower()


def test_entry_author_falls_back_to_feed_title(hostile: Feed) -> None:
    root = etree.fromstring(render(dataclasses.replace(hostile, author=None), "atom"))
    assert root.find(f"{A}author") is None  # every entry has one, so the feed needs none
    entries = root.findall(f"{A}entry")
    assert entries[1].find(f"{A}author/{A}name").text == "World & <News> \U0001f30d"


def test_no_feed_author_needed_when_every_entry_has_one(plain: Feed) -> None:
    root = etree.fromstring(render(plain, "atom"))
    assert root.find(f"{A}author") is None
    with_author = dataclasses.replace(plain, author=Person("Desk", uri=f"{SITE}/desk"))
    root = etree.fromstring(render(with_author, "atom"))
    assert root.find(f"{A}author/{A}uri").text == f"{SITE}/desk"


def test_id_is_self_url_on_first_page(plain: Feed) -> None:
    parsed = feedparser.parse(render(plain, "atom"))
    assert parsed.feed.id == plain.self_url
    assert not any(link.rel in ("next", "first") for link in parsed.feed.links)


def test_entry_updated_is_distinct_and_never_later(hostile: Feed) -> None:
    """Entries sharing an instant exactly are told apart one microsecond at a time, down the
    document; entries already apart keep their own time, fractions included."""
    [item] = hostile.items[:1]
    when = item.updated.replace(microsecond=0)
    items = [
        dataclasses.replace(item, id=f"{SITE}/stories/{n}", updated=stamp)
        for n, stamp in enumerate(
            [when, when, when + timedelta(microseconds=5), when, when - timedelta(microseconds=1)]
        )
    ]
    feed = dataclasses.replace(hostile, items=tuple(items))
    body = render(feed, "atom")
    printed = [e.findtext(f"{A}updated") for e in etree.fromstring(body).iter(f"{A}entry")]
    assert len(set(printed)) == len(printed) == 5
    assert printed == [stamp.isoformat() for stamp in entry_updated(items)]
    assert entry_updated(items) == [
        when,
        when - timedelta(microseconds=1),
        when + timedelta(microseconds=5),
        when - timedelta(microseconds=2),
        when - timedelta(microseconds=3),  # its own instant was taken above it
    ]
    assert render(feed, "atom") == body  # the same items, the same document
