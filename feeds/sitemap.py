"""Sitemaps (https://www.sitemaps.org/protocol.html, 0.9) and Google News sitemap entries.

Dataclasses in, UTF-8 bytes out; nothing is looked up. What the caller passes is printed as
the schemas want it: `loc` as a URI (IDNA host, percent-encoded UTF-8), dates as W3C datetimes
in UTC, text without the characters XML forbids or discourages. Which URLs belong in a sitemap,
and the limits (50,000 URLs, 48 hours of news) are the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from feeds.text import strip_xml_forbidden
from feeds.uri import to_uri

__all__ = [
    "MAX_LOC",
    "MAX_URLS",
    "NewsArticle",
    "SitemapRef",
    "SitemapUrl",
    "render_sitemap_index",
    "render_urlset",
]

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_URLS = 50_000  # per file, sitemap or index (sitemaps.org)
MAX_LOC = 2048  # characters of a <loc> (sitemap.xsd's tLoc)
_GOOGLE_LANGUAGE = re.compile(r"zh-cn|zh-tw|[a-z]{2,3}")
# C1 controls and the byte-order mark: legal XML 1.0 but "discouraged" (section 2.2), and
# crawlers show them as mojibake. NEL (U+0085) is a line end in XML 1.1, so it goes too.
_DISCOURAGED = re.compile("[\x7f-\x9f\ufeff]")


@dataclass(frozen=True, slots=True)
class NewsArticle:
    """The Google News part of a <url>: news:publication, news:publication_date, news:title."""

    publication_name: str
    language: str  # as Google wants it: an ISO 639 code, or zh-cn / zh-tw
    publication_date: datetime  # timezone-aware
    title: str


@dataclass(frozen=True, slots=True)
class SitemapUrl:
    loc: str  # absolute http(s) URL (an IRI is fine: it is printed as a URI)
    lastmod: datetime | None = None  # timezone-aware
    news: NewsArticle | None = None


@dataclass(frozen=True, slots=True)
class SitemapRef:
    """One sitemap of a sitemap index."""

    loc: str
    lastmod: datetime | None = None


def _text(value: str) -> str:
    return _DISCOURAGED.sub("", strip_xml_forbidden(value))


def w3c_datetime(when: datetime) -> str:
    """A W3C datetime (https://www.w3.org/TR/NOTE-datetime) in UTC, to the second."""
    if when.tzinfo is None:
        raise ValueError("sitemap dates must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _loc(parent: etree._Element, url: str) -> None:
    loc = to_uri(url)
    if not 12 <= len(loc) <= MAX_LOC:
        raise ValueError(f"a sitemap <loc> holds 12 to {MAX_LOC} characters; got {len(loc)}")
    etree.SubElement(parent, f"{{{SITEMAP_NS}}}loc").text = loc


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def render_urlset(urls: Sequence[SitemapUrl]) -> bytes:
    """A <urlset> of ``urls`` in the given order, with the news namespace when any has news.

    The schema wants one to 50,000 URLs: anything else is a ValueError, as is a <loc> outside
    12-2048 characters or a news language Google does not take."""
    if not 1 <= len(urls) <= MAX_URLS:
        raise ValueError(f"a sitemap lists 1 to {MAX_URLS} URLs; got {len(urls)}")
    nsmap = {None: SITEMAP_NS}
    if any(u.news is not None for u in urls):
        nsmap["news"] = NEWS_NS
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap=nsmap)
    for url in urls:
        element = etree.SubElement(root, f"{{{SITEMAP_NS}}}url")
        _loc(element, url.loc)
        if url.lastmod is not None:
            etree.SubElement(element, f"{{{SITEMAP_NS}}}lastmod").text = w3c_datetime(url.lastmod)
        if url.news is not None:
            _news(element, url.news)
    return _serialise(root)


def _news(parent: etree._Element, article: NewsArticle) -> None:
    if not _GOOGLE_LANGUAGE.fullmatch(article.language):
        raise ValueError(
            f"news:language must be an ISO 639 code or zh-cn / zh-tw; got {article.language!r}"
        )
    news = etree.SubElement(parent, f"{{{NEWS_NS}}}news")
    publication = etree.SubElement(news, f"{{{NEWS_NS}}}publication")
    etree.SubElement(publication, f"{{{NEWS_NS}}}name").text = _text(article.publication_name)
    etree.SubElement(publication, f"{{{NEWS_NS}}}language").text = article.language
    etree.SubElement(news, f"{{{NEWS_NS}}}publication_date").text = w3c_datetime(
        article.publication_date
    )
    etree.SubElement(news, f"{{{NEWS_NS}}}title").text = _text(article.title)


def render_sitemap_index(sitemaps: Sequence[SitemapRef]) -> bytes:
    """A <sitemapindex> of one to 50,000 sitemaps, in the given order."""
    if not 1 <= len(sitemaps) <= MAX_URLS:
        raise ValueError(f"a sitemap index lists 1 to {MAX_URLS} sitemaps; got {len(sitemaps)}")
    root = etree.Element(f"{{{SITEMAP_NS}}}sitemapindex", nsmap={None: SITEMAP_NS})
    for ref in sitemaps:
        element = etree.SubElement(root, f"{{{SITEMAP_NS}}}sitemap")
        _loc(element, ref.loc)
        if ref.lastmod is not None:
            etree.SubElement(element, f"{{{SITEMAP_NS}}}lastmod").text = w3c_datetime(ref.lastmod)
    return _serialise(root)
