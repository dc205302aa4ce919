"""Feed rendering: format-neutral dataclasses in; RSS 2.0, Atom 1.0, JSON Feed 1.1, OPML out.

A pure library: no Flask, no database, no clock. Everything printed comes from the arguments.
"""

from __future__ import annotations

from collections.abc import Callable

from feeds.atom import render_atom
from feeds.jsonfeed import render_json
from feeds.model import Correction, Feed, Image, Item, OutlineFeed, Person, Tombstone
from feeds.opml import render_opml
from feeds.rss import render_rss
from feeds.size import item_size

__all__ = [
    "CONTENT_TYPES",
    "Correction",
    "FORMATS",
    "Feed",
    "Image",
    "Item",
    "OutlineFeed",
    "Person",
    "Tombstone",
    "item_size",
    "render",
    "render_atom",
    "render_json",
    "render_opml",
    "render_rss",
]

FORMATS = ("rss", "atom", "json")

CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}

_RENDERERS: dict[str, Callable[[Feed], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def render(feed: Feed, fmt: str) -> bytes:
    """Serialise ``feed`` as ``fmt`` (one of FORMATS) in UTF-8.

    Raises ValueError for an unknown format.
    """
    try:
        renderer = _RENDERERS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown feed format {fmt!r}; expected one of {FORMATS}") from None
    return renderer(feed)
