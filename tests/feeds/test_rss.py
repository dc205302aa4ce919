"""RSS 2.0 output, read back with feedparser and lxml."""

from __future__ import annotations

import feedparser
from lxml import etree

from feeds import Feed, render

from .feed_samples import AR_TITLE, FORBIDDEN, SELF_URL, SITE, TAGS

ATOM = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
DC = "{http://purl.org/dc/elements/1.1/}"


def test_hostile_feed_round_trips(hostile: Feed) -> None:
    out = render(hostile, "rss")
    parsed = feedparser.parse(out)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"

    channel = parsed.feed
    assert channel.title == "World & <News> \U0001f30d"
    assert channel.link == hostile.link  # the home page, not the last atom:link
    links = {(link.rel, link.href) for link in channel.links}
    assert ("self", SELF_URL) in links
    assert ("hub", f"{SITE}/hub") in links
    assert ("next", f"{SITE}/feeds/world.rss?page=3") in links
    assert ("first", f"{SITE}/feeds/world.rss") in links
    assert channel.language == "en"
    assert channel.ttl == "15"
    assert channel.rights == "\u00a9 2024 Example News & Partners"
    assert channel.image.href == hostile.logo
    assert channel.updated == "Mon, 06 May 2024 09:08:09 +0000"

    first, second, third = parsed.entries
    assert first.title == "Ben & Jerry <3 \"quotes\" 'apos' > 2 \U0001f366"
    assert first.link == f"{SITE}/stories/42"
    assert first.id == f"{SITE}/stories/42"
    assert first.published == "Mon, 06 May 2024 07:08:09 +0000"
    # The plain-text summary arrives as HTML that displays the same text.
    assert first.summary == ("Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt; a &lt; b")
    body = first.content[0].value
    assert f'href="{SITE}/stories/42?a=1&amp;b=2"' in body
    assert f'src="{SITE}/stories/42/img/map.png"' in body
    assert "\u05e9\u05dc\u05d5\u05dd \U0001f389" in body
    assert [t.term for t in first.tags] == list(TAGS)
    assert [a.name for a in first.authors] == ["Zo\u00eb O'Brien & Co", "\u05d3\u05e0\u05d4"]
    assert first.enclosures == [
        {"href": f"{SITE}/media/42.jpg", "length": "12345", "type": "image/jpeg"}
    ]
    assert first.media_content[0]["url"] == f"{SITE}/media/42.jpg"
    assert first.media_thumbnail[0]["url"] == f"{SITE}/media/42.jpg"

    assert second.title == AR_TITLE
    assert second.published == "Sun, 05 May 2024 23:30:00 +0200"
    # Unknown length is written as 0 (the validator's advice); the type comes from the URL.
    assert second.enclosures == [
        {"href": f"{SITE}/media/43.png", "length": "0", "type": "image/png"}
    ]
    assert [a.name for a in second.authors] == ["The World Desk"]  # the feed's author
    assert "content" not in second

    assert third.enclosures == []
    assert third.summary == "<p>Only <em>HTML</em> &amp; nothing else</p>"


def test_structure(hostile: Feed) -> None:
    root = etree.fromstring(render(hostile, "rss"))
    channel = root.find("channel")
    assert channel.findtext("link") == hostile.link
    assert channel.find("image/title").text == channel.findtext("title")
    assert channel.find("image/link").text == hostile.link
    items = channel.findall("item")
    guids = [item.find("guid") for item in items]
    assert [g.text for g in guids] == [item.id for item in hostile.items]
    assert {g.get("isPermaLink") for g in guids} == {"true"}
    # media:content sits directly in the item: a one-element media:group is invalid.
    assert root.find(f".//{MEDIA}group") is None
    assert [e.text for e in items[0].findall(f"{DC}creator")] == [
        "Zo\u00eb O'Brien & Co",
        "\u05d3\u05e0\u05d4",
    ]
    assert items[1].findtext(f"{DC}language") == "ar"
    assert items[0].find("author") is None  # RSS <author> is for e-mail addresses


def test_safe_text(hostile: Feed) -> None:
    out = render(hostile, "rss")
    text = out.decode("utf-8")
    for ch in FORBIDDEN:
        assert ch not in text
    # Plain text carries "&" and "<" as hexadecimal references (validator advice)…
    assert "<title>World &#x26; &#x3C;News&gt;" in text
    assert "&amp;" not in text.split("<![CDATA[")[0]
    # …while story bodies travel untouched in CDATA.
    assert "<p>Only <em>HTML</em> &amp; nothing else</p>" in text
    lowered = text.lower()
    assert "<script" not in lowered and "javascript:" not in lowered
    assert "onclick" not in lowered and "onerror" not in lowered


def test_optional_parts_absent(plain: Feed) -> None:
    root = etree.fromstring(render(plain, "rss"))
    rels = {link.get("rel") for link in root.iter(f"{ATOM}link")}
    assert rels == {"self", "hub"}
    channel = root.find("channel")
    for tag in ("ttl", "copyright", "image", "managingEditor"):
        assert channel.find(tag) is None
