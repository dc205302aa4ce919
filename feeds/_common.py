"""Helpers shared by the renderers (not public API)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from feeds.model import Feed, Image, Item, Person
from feeds.text import strip_xml_forbidden

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


def _strip(value: object) -> object:
    if isinstance(value, str):
        return strip_xml_forbidden(value)
    if isinstance(value, (Feed, Item, Person, Image)):
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
