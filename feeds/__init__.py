"""Feed rendering: format-neutral dataclasses in, RSS 2.0 / Atom 1.0 / JSON Feed 1.1 / OPML bytes out.

A pure library: no Flask, no database, no clock. Everything printed comes from the arguments.
"""

from feeds.model import Feed, Image, Item, OutlineFeed, Person

__all__ = ["Feed", "Image", "Item", "OutlineFeed", "Person"]
