"""The render() entry point and properties every format shares."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import feedparser
import pytest

import feeds
from feeds import CONTENT_TYPES, FORMATS, Feed, render


def test_formats_and_content_types() -> None:
    assert FORMATS == ("rss", "atom", "json")
    assert CONTENT_TYPES == {
        "rss": "application/rss+xml; charset=utf-8",
        "atom": "application/atom+xml; charset=utf-8",
        "json": "application/feed+json; charset=utf-8",
    }


@pytest.mark.parametrize("fmt", ["xml", "RSS", "", None, "opml"])
def test_unknown_format(plain: Feed, fmt: object) -> None:
    with pytest.raises(ValueError):
        render(plain, fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", FORMATS)
def test_deterministic_and_bytes(hostile: Feed, fmt: str) -> None:
    # No clock: the same arguments give the same bytes.
    first = render(hostile, fmt)
    assert isinstance(first, bytes)
    assert render(hostile, fmt) == first


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_empty_feed(plain: Feed, fmt: str) -> None:
    parsed = feedparser.parse(render(dataclasses.replace(plain, items=()), fmt))
    assert not parsed.bozo and parsed.entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_naive_dates_rejected(plain: Feed, fmt: str) -> None:
    item = dataclasses.replace(plain.items[0], published=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        render(dataclasses.replace(plain, items=(item,)), fmt)


def test_cdata_terminator_in_body(plain: Feed) -> None:
    item = dataclasses.replace(plain.items[0], content_html="<p>a ]]> b &amp; c</p>")
    feed = dataclasses.replace(plain, items=(item,))
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(render(feed, fmt))
        assert not parsed.bozo
        assert parsed.entries[0].content[0].value == "<p>a ]]> b &amp; c</p>"


def test_public_names() -> None:
    for name in feeds.__all__:
        assert hasattr(feeds, name)
