"""Format-neutral feed and item dataclasses: everything a renderer prints comes from these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    type: str | None = None  # MIME type, e.g. "image/jpeg"
    length: int | None = None  # bytes
    width: int | None = None
    height: int | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    text: str  # plain text
    at: datetime  # timezone-aware


@dataclass(frozen=True, slots=True)
class Item:
    id: str  # permanent, absolute URL: the guid / Atom id / JSON Feed id
    url: str  # canonical, absolute URL of the story
    title: str
    published: datetime  # timezone-aware
    updated: datetime  # timezone-aware
    summary: str | None = None  # plain text
    content_html: str | None = None  # sanitised HTML with absolute URLs; None = summary only
    authors: Sequence[Person] = ()
    categories: Sequence[str] = ()  # sections and tags, in order, without duplicates
    image: Image | None = None
    language: str | None = None  # BCP 47
    corrections: Sequence[Correction] = ()  # printed at the end of content_html, newest first


@dataclass(frozen=True, slots=True)
class Tombstone:
    """An entry the feed once carried and that is gone for good (RFC 6721 at:deleted-entry)."""

    ref: str  # the id the entry had (Item.id)
    when: datetime  # timezone-aware: when it was removed


@dataclass(frozen=True, slots=True)
class Feed:
    title: str
    link: str  # home page of the channel (absolute)
    self_url: str  # the URL this very document is served at (absolute)
    updated: datetime  # latest change to anything the feed shows or just stopped showing
    description: str = ""
    language: str | None = None
    hub_url: str | None = None  # WebSub hub
    first_url: str | None = None  # set on every page but the first
    next_url: str | None = None  # the next older page, when there is one
    author: Person | None = None  # feed-level author, used when an item has none
    copyright: str | None = None
    logo: str | None = None  # absolute URL of an image
    icon: str | None = None
    ttl: int | None = None  # minutes
    generator: str = "syndication"
    items: Sequence[Item] = field(default_factory=tuple)
    # Atom only (RFC 6721): RSS and JSON Feed have no standard way to say an item is gone.
    tombstones: Sequence[Tombstone] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class OutlineFeed:
    """One entry of an OPML subscription list."""

    title: str
    xml_url: str
    html_url: str
    type: str  # "rss": OPML 2.0's subscription type, for any feed format (readers sniff it)
    description: str = ""
    language: str | None = None
