"""JSON Feed 1.1, written by hand (https://www.jsonfeed.org/version/1.1/)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from feeds._common import printable, strip_feed
from feeds.corrections import item_content
from feeds.model import Feed, Person

__all__ = ["render_json"]

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(feed: Feed) -> bytes:
    """JSON Feed 1.1 document (UTF-8 bytes) for ``feed``."""
    feed = printable(feed)
    text = _dumps(feed)
    # Keep the formats saying the same thing: strip what XML forbids here too. json.dumps
    # escapes C0 controls (\u00XX, \b, \f), so one look for those escapes and for the two
    # non-characters finds them; lone surrogates make the UTF-8 encoding fail. A backslash in
    # the text can cause a false alarm, which only costs a second, cleaned pass.
    if "\\u00" in text or "\\b" in text or "\\f" in text or "\ufffe" in text or "\uffff" in text:
        text = _dumps(strip_feed(feed))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _dumps(strip_feed(feed)).encode("utf-8")


def _dumps(feed: Feed) -> str:
    return json.dumps(_feed_object(feed), ensure_ascii=False, separators=(",", ":"))


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        # Without an offset isoformat() is not RFC 3339; feedgen refuses these too.
        raise ValueError("Datetime object has no timezone info")
    return moment.isoformat()


def _author(person: Person) -> dict[str, str]:
    out = {"name": person.name}
    # JSON Feed authors have no e-mail field; a mailto: URL is the documented stand-in.
    if person.uri:
        out["url"] = person.uri
    elif person.email:
        out["url"] = f"mailto:{person.email}"
    return out


def _feed_object(feed: Feed) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": feed.title,
        "home_page_url": feed.link,
        "feed_url": feed.self_url,
    }
    if feed.next_url:
        doc["next_url"] = feed.next_url
    if feed.description:
        doc["description"] = feed.description
    if feed.logo:
        doc["icon"] = feed.logo
    if feed.icon:
        doc["favicon"] = feed.icon
    if feed.author is not None:
        # Items without authors inherit these (JSON Feed 1.1, "authors").
        doc["authors"] = [_author(feed.author)]
    if feed.language:
        doc["language"] = feed.language
    if feed.hub_url:
        doc["hubs"] = [{"type": "WebSub", "url": feed.hub_url}]
    items = []
    for item in feed.items:
        entry: dict[str, Any] = {"id": item.id, "url": item.url, "title": item.title}
        if item.content_html is not None:
            entry["content_html"] = item_content(item)
        else:
            # The spec requires content_html or content_text.
            entry["content_text"] = item.summary or ""
        if item.summary:
            entry["summary"] = item.summary
        if item.image is not None:
            # The main image goes in "image", not "attachments": readers treat attachments
            # as podcast-style enclosures.
            entry["image"] = item.image.url
            if item.image.caption:
                # JSON Feed has no caption field: an extension object (a key starting with
                # "_", which readers that do not know it ignore), documented in the README.
                entry["_media"] = {"image_caption": item.image.caption}
        entry["date_published"] = _rfc3339(item.published)
        entry["date_modified"] = _rfc3339(item.updated)
        if item.authors:
            entry["authors"] = [_author(a) for a in item.authors]
        if item.categories:
            entry["tags"] = list(item.categories)
        if item.language:
            entry["language"] = item.language
        items.append(entry)
    doc["items"] = items
    return doc
