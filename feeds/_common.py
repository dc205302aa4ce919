"""Helpers shared by the renderers (not public API)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlsplit

from feeds.model import Feed, Image, Item, Person, Tombstone
from feeds.text import split_mailbox, strip_xml_forbidden
from feeds.uri import to_uri

T = TypeVar("T")

_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
}


def image_type(image: Image) -> str | None:
    """The image's MIME type, or one inferred from its URL's extension, or None."""
    if image.type:
        return image.type
    # A fixed table rather than mimetypes: that one reads /etc/mime.types, so its answers
    # would depend on the machine.
    path = urlsplit(image.url).path
    dot = path.rfind(".")
    if dot < 0:
        return None
    return _IMAGE_TYPES.get(path[dot + 1 :].lower())


def media_attrs(image: Image, mime: str | None) -> tuple[dict[str, object], dict[str, object]]:
    """feedgen arguments of media:content and media:thumbnail for a story image.

    group=None: feedgen would otherwise wrap media:content in a media:group, and the validator
    rejects a group holding a single media:content.
    """
    media: dict[str, object] = {"url": image.url, "medium": "image", "group": None}
    if mime:
        media["type"] = mime
    if image.length:
        media["fileSize"] = str(image.length)
    thumb: dict[str, object] = {"url": image.url, "group": None}
    if image.width:
        media["width"] = thumb["width"] = str(image.width)
    if image.height:
        media["height"] = thumb["height"] = str(image.height)
    return media, thumb


def person_dict(person: Person) -> dict[str, str]:
    """A Person as feedgen's author dict (name, email, uri), without empty keys."""
    out = {"name": person.name}
    if person.email:
        out["email"] = person.email
    if person.uri:
        out["uri"] = person.uri
    return out


def rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 (what Atom dates are)."""
    if moment.tzinfo is None:
        raise ValueError("Datetime object has no timezone info")
    return moment.isoformat()


def _strip(value: object) -> object:
    if isinstance(value, str):
        return strip_xml_forbidden(value)
    if isinstance(value, (Feed, Item, Person, Image, Tombstone)):
        changes = {f.name: _strip(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, (tuple, list)):
        return tuple(_strip(v) for v in value)
    return value


def strip_feed(feed: Feed) -> Feed:
    """A copy of ``feed`` with characters XML forbids removed from every string in it."""
    stripped = _strip(feed)
    assert isinstance(stripped, Feed)
    return stripped


def build_clean(build: Callable[[Feed], T], feed: Feed) -> T:
    """Run ``build``; if the feed holds characters XML forbids, run it again on a cleaned copy.

    lxml already checks every string it is given and refuses those characters (ValueError,
    or UnicodeEncodeError for lone surrogates), so clean feeds, the normal case, pay nothing
    for the guarantee. Any other error repeats on the cleaned copy and propagates.
    """
    try:
        return build(feed)
    except ValueError:  # UnicodeEncodeError is a ValueError
        return build(strip_feed(feed))


_CDATA_OPEN = b"<![CDATA["
_CDATA_CLOSE = b"]]>"


def _hex_refs(xml: bytes) -> bytes:
    return xml.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def hex_refs(xml: bytes) -> bytes:
    """Write "&" and "<" as hexadecimal character references outside CDATA sections.

    The W3C validator warns about "&amp;" / "&lt;" in plain-text elements such as <title> and
    is quiet for "&#x26;" / "&#x3C;", which are the same XML. Outside CDATA (and comments and
    processing instructions, which feeds do not contain) these two strings can only be
    entity references, so a bytes replace is safe. CDATA sections, where they would be
    literal text, are left alone; story bodies live there, so the replace touches little.
    """
    if _CDATA_OPEN not in xml:
        return _hex_refs(xml)
    pieces = xml.split(_CDATA_OPEN)
    out = [_hex_refs(pieces[0])]
    for piece in pieces[1:]:
        # Up to the first "]]>" is CDATA text; after it, markup again. (lxml splits a "]]>"
        # inside the text across two sections, so this holds.)
        data, close, rest = piece.partition(_CDATA_CLOSE)
        out += (_CDATA_OPEN, data, close, _hex_refs(rest))
    return b"".join(out)


def _person(person: Person) -> Person:
    name, email = split_mailbox(person.name)
    uri = to_uri(person.uri) if person.uri else None
    if email is None and uri == person.uri:
        return person
    return dataclasses.replace(person, name=name, email=person.email or email, uri=uri)


def _item(item: Item, default_authors: tuple[Person, ...]) -> Item:
    image = item.image
    if image is not None and to_uri(image.url) is not image.url:
        image = dataclasses.replace(image, url=to_uri(image.url))
    authors = tuple(_person(a) for a in item.authors) or default_authors
    return dataclasses.replace(
        item, id=to_uri(item.id), url=to_uri(item.url), authors=authors, image=image
    )


def printable(feed: Feed) -> Feed:
    """``feed`` as every writer prints it, so the three formats say the same thing:

    - every URL as a URI (``to_uri``: IDNA host, percent-encoded UTF-8);
    - an author's "Name <address>" split into name and e-mail (a name never holds an address);
    - an item without authors credited to the feed's author, or to the feed's title when the
      feed has none: Atom needs an author on the feed or the entry, RSS has no feed-level
      author for items to inherit, and readers (feedparser among them) do not apply JSON
      Feed's or Atom's inheritance, so it is written out on every item in every format.
    """
    author = _person(feed.author) if feed.author is not None else None
    default_authors = (author or Person(name=feed.title),)
    urls = {
        name: to_uri(value) if value else value
        for name in ("link", "self_url", "hub_url", "first_url", "next_url", "logo", "icon")
        for value in (getattr(feed, name),)
    }
    items = tuple(_item(item, default_authors) for item in feed.items)
    tombstones = tuple(dataclasses.replace(t, ref=to_uri(t.ref)) for t in feed.tombstones)
    return dataclasses.replace(feed, author=author, items=items, tombstones=tombstones, **urls)
