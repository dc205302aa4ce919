"""Parsers for `syndication import`: files and URLs in, story records out.

They never touch the database: the stories service validates and upserts what they yield.
"""

from syndication.imports.records import Record
from syndication.imports.sources import read_source

__all__ = ["Record", "read_source"]
