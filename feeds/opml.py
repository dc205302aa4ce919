"""OPML 2.0 subscription lists (http://opml.org/spec2.opml)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from html import escape

from lxml import etree

from feeds.model import OutlineFeed
from feeds.text import strip_xml_forbidden as _clean
from feeds.uri import to_uri

__all__ = ["render_opml", "OPML_DOCS"]

OPML_DOCS = "http://opml.org/spec2.opml"


def _html(text: str) -> str:
    """Plain text as the HTML that OPML 2.0's text attribute "may contain" (and the W3C validator
    parses text, title and description as): "A & <B>" is written A &amp;amp; &amp;lt;B&amp;gt;,
    else a reader would take <B> for a tag. Text without & < > is unchanged."""
    return escape(_clean(text), quote=False)


def render_opml(
    title: str,
    outlines: Sequence[OutlineFeed],
    *,
    owner_name: str | None = None,
    owner_email: str | None = None,
    owner_id: str | None = None,
    date_created: datetime | None = None,
    docs: str = OPML_DOCS,
) -> bytes:
    """OPML 2.0 document (UTF-8 bytes) listing ``outlines``, in the given order.

    ``date_created`` must be timezone-aware; it is written in RFC 822 form as the spec asks.
    ``owner_id`` is the URL of a page where the owner can be contacted (OPML's ownerId).
    Outline titles and descriptions are plain text; they are written HTML-escaped (``_html``).
    OPML 2.0's ``<body>`` holds "one or more" outlines: an empty list is a ValueError.
    """
    if not outlines:
        raise ValueError("an OPML 2.0 body needs at least one outline")
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _clean(title)
    if date_created is not None:
        if date_created.tzinfo is None:
            raise ValueError("date_created must be timezone-aware")
        etree.SubElement(head, "dateCreated").text = format_datetime(date_created)
    if owner_name:
        etree.SubElement(head, "ownerName").text = _clean(owner_name)
    if owner_email:
        etree.SubElement(head, "ownerEmail").text = _clean(owner_email)
    if owner_id:
        etree.SubElement(head, "ownerId").text = to_uri(_clean(owner_id))
    if docs:
        etree.SubElement(head, "docs").text = _clean(docs)
    body = etree.SubElement(root, "body")
    for feed in outlines:
        # "text" is required on every outline; "title" repeats it as the spec's rss example
        # does, since some readers look only at one of them.
        outline = etree.SubElement(body, "outline", type=_clean(feed.type))
        outline.set("text", _html(feed.title))
        outline.set("title", _html(feed.title))
        outline.set("xmlUrl", to_uri(_clean(feed.xml_url)))
        outline.set("htmlUrl", to_uri(_clean(feed.html_url)))
        if feed.description:
            outline.set("description", _html(feed.description))
        if feed.language:
            outline.set("language", _clean(feed.language))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
