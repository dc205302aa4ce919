"""feeds.item_size errs high: an item never adds more bytes to a rendered document than its
estimate, in any format, whatever its text (markup, quotes, CDATA ends, non-ASCII, long)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import feeds
from feeds import Feed, Image, Item, Person
from tests.feeds.feed_samples import SITE, T0, hostile_feed, plain_feed

NASTY = "a & b < c > d \"e\" 'f' ]]> \u00e9\u4e2d\U0001f389\n\t\r\\ "


def _items() -> list[Item]:
    base = Item(
        id=f"{SITE}/stories/1",
        url=f'{SITE}/a?x=1&y="2"',
        title=NASTY * 20,
        published=T0,
        updated=T0,
        summary=NASTY * 200,
        content_html="<p>" + NASTY * 5000 + "</p>",
        authors=(Person(name=NASTY), Person(name="B", email="b@example.com")),
        categories=(NASTY, "<Tech>", "x" * 300),
        image=Image(url=f"{SITE}/i.jpg?a=1&b=2", type="image/jpeg", caption=NASTY),
        language="en-GB",
    )
    return [
        base,
        replace(base, content_html=None),  # summary-only: Atom/JSON print the summary twice
        replace(base, summary=None, content_html=None),  # Atom: the title is its text
        replace(base, content_html="]]>" * 10000),
        replace(base, content_html='"' * 20000),
        *hostile_feed().items,
        *plain_feed().items,
    ]


@pytest.mark.parametrize("fmt", feeds.FORMATS)
def test_an_item_adds_no_more_than_its_estimate(fmt):
    empty = Feed(title="T", link=SITE, self_url=f"{SITE}/feed", updated=T0, items=())
    empty_size = len(feeds.render(empty, fmt))
    for item in _items():
        added = len(feeds.render(replace(empty, items=(item,)), fmt)) - empty_size
        assert added <= feeds.item_size(item, fmt), (fmt, item.title[:20])


def test_the_estimate_is_close_for_a_large_body():
    """The body is counted exactly (it is most of the bytes), so a budget is not wasted."""
    item = replace(_items()[0], content_html="<p>" + "plain text " * 100_000 + "</p>")
    empty = Feed(title="T", link=SITE, self_url=f"{SITE}/feed", updated=T0, items=())
    for fmt in feeds.FORMATS:
        added = len(feeds.render(replace(empty, items=(item,)), fmt)) - len(
            feeds.render(empty, fmt)
        )
        assert feeds.item_size(item, fmt) < added * 1.05
