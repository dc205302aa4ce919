"""JSON Feed 1.1 output, validated against the published JSON Schema.

jsonfeed-1.1.schema.json is schema-v1.1.json from https://github.com/sonicdoe/jsonfeed-schema
(npm package "jsonfeed-schema" 0.5.0, commit bba8eaa7f9cb13822f4fecc9ff4e4d8e6a0dc2b5), copied
byte for byte. Its licence: ISC License, Copyright (c) 2017-2018, 2020, Jakob Krigovsky.
Permission to use, copy, modify, and/or distribute this software for any purpose with or
without fee is hereby granted, provided that the above copyright notice and this permission
notice appear in all copies. THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL
WARRANTIES WITH REGARD TO THIS SOFTWARE.

The installed jsonschema has no checkers for the "uri" and "date-time" formats, so those are
checked here by hand.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from feeds import Feed, Person, render

from .feed_samples import FORBIDDEN, SELF_URL, SITE, TAGS

SCHEMA = json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text("utf-8"))
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_formats(doc: dict) -> None:
    for key in ("home_page_url", "feed_url", "next_url", "icon", "favicon"):
        if key in doc:
            assert _absolute(doc[key]), key
    for hub in doc.get("hubs", ()):
        assert _absolute(hub["url"])
    for item in doc["items"]:
        for key in ("url", "image"):
            if key in item:
                assert _absolute(item[key]), key
        for key in ("date_published", "date_modified"):
            assert RFC3339.match(item[key]), item[key]
            datetime.fromisoformat(item[key])


@pytest.mark.parametrize("sample", ["hostile", "plain"])
def test_valid_against_schema(sample: str, request: pytest.FixtureRequest) -> None:
    feed: Feed = request.getfixturevalue(sample)
    doc = json.loads(render(feed, "json"))
    jsonschema.Draft7Validator(SCHEMA).validate(doc)
    _check_formats(doc)


def test_hostile_feed_content(hostile: Feed) -> None:
    raw = render(hostile, "json")
    text = raw.decode("utf-8")
    assert "\U0001f30d" in text  # ensure_ascii=False: characters as themselves
    doc = json.loads(raw)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == "World & <News> \U0001f30d"
    assert doc["feed_url"] == SELF_URL
    assert doc["home_page_url"] == hostile.link
    assert doc["next_url"] == f"{SITE}/feeds/world.rss?page=3"
    assert doc["hubs"] == [{"type": "WebSub", "url": f"{SITE}/hub"}]
    assert doc["language"] == "en"
    assert doc["icon"] == hostile.logo and doc["favicon"] == hostile.icon
    assert doc["authors"] == [{"name": "The World Desk", "url": f"{SITE}/about"}]

    first, second, third = doc["items"]
    assert first["id"] == first["url"] == f"{SITE}/stories/42"
    assert first["title"] == "Ben & Jerry <3 \"quotes\" 'apos' > 2 \U0001f366"
    assert first["summary"] == "Tom & Jerry <script>alert(1)</script> a < b"
    assert f'href="{SITE}/stories/42?a=1&amp;b=2"' in first["content_html"]
    assert "content_text" not in first
    assert first["image"] == f"{SITE}/media/42.jpg"
    assert first["date_published"] == "2024-05-06T07:08:09+00:00"
    assert first["date_modified"] == "2024-05-06T08:08:09+00:00"
    assert first["tags"] == list(TAGS)
    assert first["authors"] == [
        {"name": "Zo\u00eb O'Brien & Co", "url": "mailto:zoe@example.com"},
        {"name": "\u05d3\u05e0\u05d4"},
    ]

    # Summary only: it doubles as content_text, which the spec requires without HTML.
    assert second["content_text"] == second["summary"]
    assert "content_html" not in second
    assert second["authors"] == doc["authors"]  # the feed's author, written on the item
    assert second["language"] == "ar"
    assert second["date_published"] == "2024-05-05T23:30:00+02:00"

    assert "image" not in third and "summary" not in third
    for ch in FORBIDDEN:
        assert ch not in text
    assert "\\u000b" not in text


def test_nothing_optional(plain: Feed) -> None:
    bare = dataclasses.replace(plain, description="", language=None, hub_url=None, author=None)
    doc = json.loads(render(bare, "json"))
    jsonschema.Draft7Validator(SCHEMA).validate(doc)
    for key in ("description", "language", "hubs", "authors", "next_url", "icon", "favicon"):
        assert key not in doc


def test_backslashes_are_kept(plain: Feed) -> None:
    # "\b" and "\f" in the output only look like escaped control characters.
    item = dataclasses.replace(plain.items[0], title=r"C:\bin\for", authors=(Person("A"),))
    doc = json.loads(render(dataclasses.replace(plain, items=(item,)), "json"))
    assert doc["items"][0]["title"] == r"C:\bin\for"
