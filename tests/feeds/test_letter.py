"""Text and URLs to the letter, in the library: URLs printed as URIs by every writer, plain text
cleaned of markup and unprintable characters, e-mail addresses never inside a name, and an
item without authors credited the same way in RSS, Atom and JSON Feed.

Checked by independent clients: feedparser reads RSS and Atom; jsonschema (with rfc3987, its
checker for `format: uri`) validates JSON Feed against the published 1.1 schema.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import feedparser
import jsonschema
import pytest
from lxml import etree

from feeds import Feed, Image, Item, OutlineFeed, Person, render, render_opml
from feeds.text import plain_text, split_mailbox
from feeds.uri import to_uri

from .feed_samples import SITE, T0

SCHEMA = json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text("utf-8"))
IRI = "https://example.com/café/ünïcödé?a=1&b=2"
URI = "https://example.com/caf%C3%A9/%C3%BCn%C3%AFc%C3%B6d%C3%A9?a=1&b=2"
IDN = "https://bücher.example/straße?q=ö#teil"
IDN_URI = "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%B6#teil"
# RFC 3986 URI, ASCII only, every "%" starting an escape (what the W3C validator accepts).
URI_RE = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-F]{2})*$"
)


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        (IRI, URI),
        (IDN, IDN_URI),
        ("https://example.com/a%20b/%C3%A9", "https://example.com/a%20b/%C3%A9"),  # kept
        ("https://example.com/100%/é", "https://example.com/100%25/%C3%A9"),  # lone % escaped
        ("https://example.com/a b|c", "https://example.com/a%20b%7Cc"),
        ("https://user:pä@example.com:8443/é", "https://user:p%C3%A4@example.com:8443/%C3%A9"),
        ("http://[2001:db8::1]:80/é", "http://[2001:db8::1]:80/%C3%A9"),
        ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
    ],
)
def test_to_uri(given: str, printed: str) -> None:
    assert to_uri(given) == printed
    assert URI_RE.match(printed)
    assert to_uri(printed) == printed  # never encoded twice


def test_to_uri_returns_a_uri_unchanged() -> None:
    url = "https://example.com/a?b=1&c=%2F#x"
    assert to_uri(url) is url


@pytest.mark.parametrize(
    ("given", "text"),
    [
        ("Profits & Losses: <b>Q3</b>", "Profits & Losses: Q3"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Tom &amp;amp; Jerry &#x2764;", "Tom & Jerry \u2764"),
        ("&lt;b&gt;escaped&lt;/b&gt; tags", "escaped tags"),
        ("a < b, 3 > 2, <3", "a < b, 3 > 2, <3"),
        ("AT&T R&D", "AT&T R&D"),
        ("one<br>two</p>", "one\ntwo\n"),
        ("<script>alert(1)</script>safe<!-- c --><style>p{}</style>", "safe"),
        ("c1\x80\x9f\x9d bom\ufeff fffd\ufffd nel\x85end", "c1 bom fffd nel\nend"),
        # DEL and non-characters: html5lib's "invalid code points" (W3C validator NotHtml on
        # an RSS description), found by the by-hand validator run on tests/hostile_stories.py.
        ("del\x7f nc\ufdd0\ufdef\U0001fffe\U0010ffff end", "del nc end"),
        # UTF-8 read as Latin-1 (the validator's BadCharacters on a title of the fixture).
        ("CafÃ© crÃ¨me, Ã\x89tÃ© â\x80\x99 ð\x9f\x9a\x80", "Café crème, Été \u2019 🚀"),
        ("Café, naïve, Ã alone, Â£ and ©", "Café, naïve, Ã alone, £ and ©"),
        ("São Paulo é» ß ðŸš€", "São Paulo é» ß ðŸš€"),  # Windows-1252's: not undone
        ("O'Brien & Sons <ob@example.com>", "O'Brien & Sons <ob@example.com>"),
        ("Hostile &amp; <Tests> <bogus>", "Hostile & <Tests> <bogus>"),
        ("<B class=x>Hi</B ><!DOCTYPE html>", "Hi"),
        ("\u0645\u0631\u062d\u0628\u0627 \U0001f389", "\u0645\u0631\u062d\u0628\u0627 \U0001f389"),
    ],
)
def test_plain_text(given: str, text: str) -> None:
    assert plain_text(given) == text
    assert plain_text(text) == text  # cleaning clean text changes nothing


def test_split_mailbox() -> None:
    assert split_mailbox("O'Brien & Sons <ob@example.com>") == ("O'Brien & Sons", "ob@example.com")
    assert split_mailbox("<ob@example.com>") == ("ob@example.com", "ob@example.com")
    assert split_mailbox("Ann Lee") == ("Ann Lee", None)
    assert split_mailbox("a@b in text") == ("a@b in text", None)
    # RSS 2.0's "address (Name)" and a bare address: in bylines imported from feeds (the
    # hostile fixture's run printed them as Atom and JSON Feed names).
    assert split_mailbox("jane@example.com (Jane Doe)") == ("Jane Doe", "jane@example.com")
    assert split_mailbox(" plain@example.net ") == ("plain@example.net", "plain@example.net")
    assert split_mailbox("Ann Lee (ann@example.com)") == ("Ann Lee", "ann@example.com")
    assert split_mailbox("Ann (the editor)") == ("Ann (the editor)", None)


def _feed(author: Person | None) -> Feed:
    items = (
        Item(
            id=f"{SITE}/stories/1",
            url=IRI,
            title="With authors",
            published=T0,
            updated=T0,
            summary="s",
            authors=(Person("O'Brien & Sons <ob@example.com>"),),
            image=Image(url="https://cdn.example.com/ph\u00f6to.jpg", type="image/jpeg"),
        ),
        Item(
            id=f"{SITE}/stories/2",
            url=IDN,
            title="Without authors",
            published=T0,
            updated=T0,
            summary="s",
        ),
    )
    return Feed(
        title="Desk & <Co>",
        link="https://example.com/rubrik/wirtschaft-ä",
        self_url=f"{SITE}/feeds/world.atom",
        updated=T0,
        hub_url=f"{SITE}/hub",
        author=author,
        logo="https://cdn.example.com/l\u00f6go.png",
        items=items,
    )


def _uris_in_xml(raw: bytes) -> list[str]:
    root = etree.fromstring(raw)
    found = [v for el in root.iter() for k, v in el.attrib.items() if k in ("href", "url")]
    for el in root.iter():
        tag = etree.QName(el).localname if isinstance(el.tag, str) else ""
        if tag in ("link", "guid", "id", "uri", "url", "logo") and el.text and el.text.strip():
            found.append(el.text.strip())
    return found


@pytest.mark.parametrize("author", [None, Person("The Desk", uri="https://example.com/d\u00e9sk")])
def test_every_format_prints_uris_and_the_same_authors(author: Person | None) -> None:
    feed = _feed(author)
    expected_default = author.name if author else feed.title
    names = {}
    for fmt in ("rss", "atom"):
        raw = render(feed, fmt)
        if fmt == "rss":  # dc:creator holds the name only; RSS has no place for the address
            assert b"ob@example.com" not in raw
        for url in _uris_in_xml(raw):
            assert URI_RE.match(url), (fmt, url)
        parsed = feedparser.parse(raw)
        assert not parsed.bozo, parsed.get("bozo_exception")
        first, second = parsed.entries
        assert first.link == URI and second.link == IDN_URI
        names[fmt] = [e.author_detail.name for e in parsed.entries]
        if fmt == "atom":
            # The address is the author's e-mail, never part of the name.
            assert first.author_detail.name == "O'Brien & Sons"
            assert first.author_detail.email == "ob@example.com"
            assert second.author_detail.name == expected_default
    doc = json.loads(render(feed, "json"))
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    assert doc["items"][0]["url"] == URI and doc["items"][1]["url"] == IDN_URI
    assert doc["home_page_url"] == "https://example.com/rubrik/wirtschaft-%C3%A4"
    names["json"] = [i["authors"][0]["name"] for i in doc["items"]]
    assert names["rss"] == names["atom"] == names["json"] == ["O'Brien & Sons", expected_default]


def test_schema_format_checker_refuses_an_iri() -> None:
    """The check above has teeth: the same feed with its IRIs left in fails the schema."""
    doc = json.loads(render(_feed(None), "json"))
    doc["items"][0]["url"] = IRI
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    assert any("is not a 'uri'" in e.message for e in validator.iter_errors(doc))


def test_opml_prints_uris() -> None:
    outline = OutlineFeed(
        title="T", xml_url=f"{SITE}/feeds/caf\u00e9.rss", html_url=IDN, type="rss"
    )
    root = etree.fromstring(render_opml("Subs", [outline], owner_id=IRI))
    out = root.find("body/outline")
    assert out.get("xmlUrl") == f"{SITE}/feeds/caf%C3%A9.rss"
    assert out.get("htmlUrl") == IDN_URI
    assert root.findtext("head/ownerId") == URI


def test_size_estimate_counts_printed_urls() -> None:
    from feeds import item_size

    item = _feed(None).items[0]
    long_iri = dataclasses.replace(item, url="https://example.com/" + "é" * 500)
    assert item_size(long_iri, "rss") - item_size(item, "rss") >= 2 * 6 * 500 - 200
