"""strip_xml_forbidden, sanitize_html and html_to_text."""

from __future__ import annotations

import pytest
from lxml import etree

from feeds.html import html_to_text, sanitize_html
from feeds.text import strip_xml_forbidden

BASE = "https://news.example.com/stories/42/"
ALL_FORBIDDEN = "".join(chr(c) for c in range(0x20) if c not in (9, 10, 13)) + (
    "\ufffe\uffff\ud800\udbff\udc00\udfff"
)


def test_strip_removes_exactly_the_forbidden() -> None:
    kept = "\t\n\r a\u00e9\u0645\u05d0\ud7ff\ue000\ufffd\U0001f600\U0010ffff\x7f\x85"
    assert strip_xml_forbidden(ALL_FORBIDDEN) == ""
    assert strip_xml_forbidden(kept) == kept
    mixed = "".join(a + b for a, b in zip(kept, ALL_FORBIDDEN, strict=False))
    assert strip_xml_forbidden(mixed) == kept
    # The result is always XML-serialisable.
    etree.Element("x").text = strip_xml_forbidden(mixed + ALL_FORBIDDEN)


def test_strip_returns_clean_text_unchanged() -> None:
    text = "Plain \u0645\u0631\u062d\u0628\u0627 \U0001f389" * 1000
    assert strip_xml_forbidden(text) is text
    assert strip_xml_forbidden("") == ""


def test_strip_huge_input() -> None:
    text = "story \x00\x1f\ufffe body " * 200_000
    assert strip_xml_forbidden(text) == "story  body " * 200_000


def test_sanitize_removes_active_content() -> None:
    raw = (
        '<p onclick="steal()" style="x">Hi<script>alert(1)</script>'
        '<a href="javascript:alert(1)">js</a><a href=" JaVaScRiPt:alert(1)">js2</a>'
        '<a href="data:text/html,x">data</a><img src="x.png" onerror="alert(1)">'
        '<iframe src="https://evil.test/"></iframe><style>p{}</style>'
        '<svg onload="alert(1)"></svg><form action="/x"><input></form></p>'
    )
    out = sanitize_html(raw, BASE).lower()
    for bad in (
        "<script",
        "onclick",
        "onerror",
        "onload",
        "javascript:",
        "data:",
        "<iframe",
        "<style",
        "<svg",
        "<form",
        "style=",
    ):
        assert bad not in out
    assert "hi" in out


def test_sanitize_makes_urls_absolute() -> None:
    raw = (
        '<a href="/about">a</a><a href="../other?x=1&y=2#f">b</a><a href="//cdn.test/x">c</a>'
        '<img src="img/1.png"><blockquote cite="q">q</blockquote>'
        '<a href="https://elsewhere.test/p">d</a><a href="mailto:a@b.test">m</a>'
    )
    out = sanitize_html(raw, BASE)
    assert 'href="https://news.example.com/about"' in out
    assert 'href="https://news.example.com/stories/other?x=1&amp;y=2#f"' in out
    assert 'href="https://cdn.test/x"' in out
    assert 'src="https://news.example.com/stories/42/img/1.png"' in out
    assert 'cite="https://news.example.com/stories/42/q"' in out
    assert 'href="https://elsewhere.test/p"' in out
    assert 'href="mailto:a@b.test"' in out


def test_sanitize_prints_body_urls_as_uris() -> None:
    """IRIs pasted into a body come out as URIs (IDNA host, UTF-8 percent-encoded), like every
    other URL a feed prints: the hostile fixture's body printed them raw."""
    raw = (
        '<a href="https://例え.テスト/記事?q=ü#frag">a</a><img src="bild-ä.jpg">'
        '<a href="mailto:zoë@bücher.example">m</a>'
        '<a href="https://example.com/a%20b?c=%C3%BC">kept</a>'
    )
    out = sanitize_html(raw, BASE)
    assert 'href="https://xn--r8jz45g.xn--zckzah/%E8%A8%98%E4%BA%8B?q=%C3%BC#frag"' in out
    assert 'src="https://news.example.com/stories/42/bild-%C3%A4.jpg"' in out
    assert 'href="mailto:zo%C3%AB@b%C3%BCcher.example"' in out
    assert 'href="https://example.com/a%20b?c=%C3%BC"' in out  # a URI is left as it is
    assert out.isascii()
    assert sanitize_html(out, BASE) == out


def test_sanitize_removes_forbidden_characters() -> None:
    out = sanitize_html(f"<p>a{ALL_FORBIDDEN}b &#1; &#xFFFE; &#xb;c</p>", BASE)
    assert strip_xml_forbidden(out) == out
    assert out.startswith("<p>a") and out.endswith("c</p>")


def test_sanitize_removes_what_html_calls_invalid() -> None:
    """C1 controls (raw or as Windows-1252 references, which HTML maps to letters), DEL,
    non-characters, U+FEFF and U+FFFD leave the body; NEL is a line break. The W3C validator
    said BadCharacters and NotHtml ("Invalid codepoint in stream") on such a body in
    content:encoded and Atom content (by-hand run on tests/hostile_stories.py)."""
    out = sanitize_html(
        "<p>a\x80\x9f\x9d\x7f\ufdd0\U0001fffe\ufeff\ufffdb\x85c &#x9f; &#x7f;d</p>", BASE
    )
    assert out == "<p>ab\nc \u0178 d</p>"
    assert sanitize_html(out, BASE) == out


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain text & more",
        "<p><b>unclosed <i>tags",
        "</p></div>stray closers",
        "<a href='http://[broken/'>bad url</a>",
        "<<<>>>&&&;;;",
        "<!-- unterminated comment",
        "<div>" * 5000 + "deep" + "</div>" * 5000,
        "<p>" + "x" * 2_000_000 + "</p>",
    ],
)
def test_sanitize_malformed_or_huge(raw: str) -> None:
    out = sanitize_html(raw, BASE)
    assert isinstance(out, str)
    assert "<script" not in out
    etree.Element("x").text = out  # XML-safe


def test_sanitize_broken_url_drops_attribute() -> None:
    out = sanitize_html("<a href='http://[broken/'>bad url</a>", BASE)
    assert "href" not in out and "bad url" in out


def test_html_to_text() -> None:
    html = (
        "<h1>Title &amp; co</h1><p>Hello   <b>world</b><br>next<!-- c --> line"
        "<script>x()</script><style>p{}</style></p><ul><li>one</li><li>two</li></ul>"
        "tail &lt;b&gt; &#1;\u0645\u0631\u062d\u0628\u0627"
    )
    assert html_to_text(html) == (
        "Title & co\nHello world\nnext line\none\ntwo\ntail <b> \u0645\u0631\u062d\u0628\u0627"
    )


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("   ", ""),
        ("just text", "just text"),
        ("<p>", ""),
        ("<<<>>>&&&", "<<<>>>&&&"),
        ("<div>" * 5000 + "deep" + "</div>" * 5000, "deep"),
    ],
)
def test_html_to_text_edge_cases(html: str, text: str) -> None:
    assert html_to_text(html) == text
