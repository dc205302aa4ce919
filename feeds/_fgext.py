"""feedgen extension for what feedgen 1.0 cannot express on its own (not public API)."""

from __future__ import annotations

from feedgen.ext import media
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ATOM_LINK = f"{{{ATOM_NS}}}link"
_MEDIA_CONTENT = f"{{{media.MEDIA_NS}}}content"
_MEDIA_TITLE = f"{{{media.MEDIA_NS}}}title"

# RFC 6721 (The Atom "deleted-entry" Element)
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
_DELETED_ENTRY = f"{{{TOMBSTONES_NS}}}deleted-entry"

# Name the extension is registered under (the attribute on FeedGenerator / FeedEntry).
NAME = "syn"


class SynExtension(BaseExtension):
    """Channel-level atom:link elements for RSS.

    feedgen's RSS output keeps only rel="self" of the links it is given; WebSub discovery
    needs rel="hub" and paging needs rel="next" / rel="first".
    """

    def __init__(self) -> None:
        self.rss_links: list[tuple[str, str]] = []  # (rel, href)
        self.tombstones: list[tuple[str, str]] = []  # (ref, when as RFC 3339), Atom only

    def extend_ns(self) -> dict[str, str]:
        # feedgen always declares the atom prefix in RSS; the tombstone prefix only when used.
        return {"at": TOMBSTONES_NS} if self.tombstones else {}

    def extend_rss(self, rss_feed: etree._Element) -> etree._Element:
        channel = rss_feed[0]
        for rel, href in self.rss_links:
            etree.SubElement(channel, _ATOM_LINK, href=href, rel=rel)
        return rss_feed

    def extend_atom(self, atom_feed: etree._Element) -> etree._Element:
        for ref, when in self.tombstones:
            etree.SubElement(atom_feed, _DELETED_ENTRY, ref=ref, when=when)
        return atom_feed


class SynEntryExtension(BaseEntryExtension):
    """Per-entry extras for Atom: xml:lang, HTML content as CDATA, and links.

    feedgen 1.0 drops rel, type and length from entry links (its loop variable shadows the
    link dict), so every link besides the rel-less alternate one is written here.
    """

    def __init__(self) -> None:
        self.lang: str | None = None
        self.atom_links: list[dict[str, str]] = []
        self.content_html: str | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.lang:
            entry.set(_XML_LANG, self.lang)
        if self.content_html is not None:
            # feedgen can only escape HTML content ("CDATA" would become the type attribute).
            content = etree.SubElement(entry, "content", type="html")
            content.text = etree.CDATA(self.content_html)
        for attrs in self.atom_links:
            # feedgen writes Atom elements without a namespace and puts a literal xmlns
            # attribute on <feed>; a namespaced tag here would get a stray ns0 prefix.
            etree.SubElement(entry, "link", attrs)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return item


MediaExtension = media.MediaExtension  # the feed-level part (the namespace), unchanged


class MediaEntryExtension(media.MediaEntryExtension):
    """feedgen's Media RSS entry extension, plus the image caption as a media:title inside the
    media:content (feedgen writes no child elements).

    media:title, not media:description: feedparser reads a media:description as the entry's
    content (or summary when the entry has none), so a caption there would be shown as the
    story; it ignores a media:title nested below the entry's own title.
    """

    def __init__(self) -> None:
        super().__init__()
        self.caption: str | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        super().extend_atom(entry)
        if self.caption:
            content = entry.find(_MEDIA_CONTENT)
            if content is not None:
                title = etree.SubElement(content, _MEDIA_TITLE, type="plain")
                title.text = self.caption
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return self.extend_atom(item)
