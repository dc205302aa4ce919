"""feeds.html_depth: the nesting measure that guards nh3, and the URL attribute rules."""

from __future__ import annotations

import pytest

from feeds.html import HtmlTooDeep, _srcset, clean_html, sanitize_html
from feeds.html_depth import nesting_depth

BASE = "https://news.example.com/stories/42"


@pytest.mark.parametrize(
    ("html", "depth"),
    [
        ("", 0),
        ("plain < text > & more", 0),
        ("<p>a<p>b<p>c", 1),  # browsers close the previous paragraph
        ("<ul><li>a<li>b<li>c</ul>", 2),
        ("<dl><dt>a<dd>b<dt>c</dl>", 2),
        ("<div><span>x</span></div><div></div>", 2),
        ("<br><img src=x><hr><wbr>", 0),
        ("<div/><div/>", 2),  # "/>" does not close an HTML element
        ("<div title='<div><div>'>x</div>", 1),
        ('<div title="a>b"><i>x</i>', 2),
        ("<!-- <div><div> --><b>", 1),
        ("<!--> <div>", 1),
        ("<style></div><div></style><div>", 1),  # raw text holds no tags and closes none
        ("<div><textarea></div></textarea><div>", 2),
        ("<span><div></span><span><div></span>", 4),  # misnested closers close nothing
        ("<svg><div></div><div></div>", 3),  # foreign content: every start tag counts
        ("<script><!--<script></script></div>", 2),
        ("<b>unterminated <i a='", 1),
        ("<div>" * 300, 257),  # stops counting past the limit
    ],
)
def test_nesting_depth(html: str, depth: int) -> None:
    assert nesting_depth(html, 256) == depth


@pytest.mark.parametrize(
    "html",
    [
        "<!--" * 200_000,
        "</" * 300_000,
        "<a" * 300_000,
        "<a b='" * 100_000,
        "<a " + " " * 1_000_000,
        "<a b=" * 200_000,
        "<style>" + "</styl" * 200_000,
        "<![" * 200_000,
    ],
)
def test_pathological_input_is_scanned_in_one_pass(html: str) -> None:
    # html.parser takes minutes over the first of these; here each is one linear pass.
    assert nesting_depth(html, 256) <= 257


def test_too_deep_is_refused_before_parsing() -> None:
    with pytest.raises(HtmlTooDeep) as caught:
        clean_html("<div>" * 100_000, max_depth=256)
    assert caught.value.limit == 256 and caught.value.depth == 257
    assert "x" in clean_html("<div>" * 256 + "x", max_depth=256).resolve(BASE)


def test_every_cite_keeps_only_http_and_mailto() -> None:
    out = sanitize_html(
        '<blockquote cite="javascript:a()">1</blockquote><q cite="DATA:text/html,x">2</q>'
        '<del cite="&#x20;java&#x0A;script:b()">3</del><ins cite="../n?a=1&amp;b">4</ins>'
        '<q cite="mailto:x@y.test">5</q><q cite="http://[bad">6</q>',
        BASE,
    )
    assert out == (
        "<blockquote>1</blockquote><q>2</q><del>3</del>"
        '<ins cite="https://news.example.com/n?a=1&amp;b">4</ins>'
        '<q cite="mailto:x@y.test">5</q><q>6</q>'
    )


def test_resolving_later_gives_what_sanitising_at_once_gives() -> None:
    raw = '<a href="x?a=&quot;1&quot;">a</a><img src="/i.png"><blockquote cite="q">b</blockquote>'
    cleaned = clean_html(raw)
    assert cleaned.resolve(BASE) == sanitize_html(raw, BASE)
    assert cleaned.resolve("http://other.test/s/1") != cleaned.resolve(BASE)
    assert clean_html("<p>no links</p>").resolve(BASE) == "<p>no links</p>"


def test_srcset_checks_every_candidate() -> None:
    assert _srcset("a.png 1x, javascript:x 2x, data:image/png,AAA 3x,https://c.test/b.png 4x") == [
        ("a.png", "1x"),
        ("https://c.test/b.png", "4x"),
    ]
    assert _srcset("a.png, b.png 640w") == [("a.png", ""), ("b.png", "640w")]
    assert _srcset("javascript:x") == []
