"""feeds.sitemap, the pure writer: URIs, dates and text as the sitemap schemas want them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from feeds.sitemap import (
    NewsArticle,
    SitemapRef,
    SitemapUrl,
    render_sitemap_index,
    render_urlset,
)

DATA = Path(__file__).parent.parent / "data"
WHEN = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_dates_are_utc_w3c_datetimes_to_the_second():
    paris = WHEN.astimezone(timezone(timedelta(hours=1)))
    body = render_urlset([SitemapUrl("https://example.com/a", lastmod=paris)])
    assert b"<lastmod>2025-03-01T12:00:00Z</lastmod>" in body
    with pytest.raises(ValueError, match="timezone-aware"):
        render_urlset([SitemapUrl("https://example.com/a", lastmod=WHEN.replace(tzinfo=None))])


def test_limits_refused():
    with pytest.raises(ValueError, match="1 to 50000"):
        render_urlset([])
    with pytest.raises(ValueError, match="1 to 50000"):
        render_sitemap_index([])
    with pytest.raises(ValueError, match="12 to 2048"):
        render_urlset([SitemapUrl("https://example.com/" + "a" * 2048)])
    article = NewsArticle("Times", "en-GB", WHEN, "t")
    with pytest.raises(ValueError, match="news:language"):
        render_urlset([SitemapUrl("https://example.com/a", news=article)])


def test_news_namespace_only_when_needed_and_text_cleaned():
    plain = render_urlset([SitemapUrl("https://example.com/a")])
    assert b"sitemap-news" not in plain
    article = NewsArticle("The \x9fTimes\ufeff", "zh-tw", WHEN, "A\x00 <b>&</b>\x85")
    body = render_urlset([SitemapUrl("https://example.com/a", news=article)])
    root = etree.fromstring(body)
    ns = {"news": "http://www.google.com/schemas/sitemap-news/0.9"}
    assert root.findtext(".//news:name", namespaces=ns) == "The Times"
    assert root.findtext(".//news:title", namespaces=ns) == "A <b>&</b>"
    index = render_sitemap_index([SitemapRef("https://example.com/s-1.xml", WHEN)])
    schema = etree.XMLSchema(etree.parse(str(DATA / "siteindex.xsd")))
    schema.assertValid(etree.fromstring(index))
