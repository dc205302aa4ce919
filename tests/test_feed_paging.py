"""Feed paging by cursor, on SQLite and PostgreSQL: walking next links yields every story exactly
once (ties on published_at broken by id), also while new stories keep arriving; bad cursors are
400s, never 500s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from syndication.stories.service import create_story
from tests.storyfactory import (
    BASE,
    NOW,
    add_channel,
    add_story,
    feed_url,
    item_ids,
    links,
    page_url,
    parse_json,
    parse_xml,
)

FORMATS = ("rss", "atom", "json")
LIMIT = 7
COUNT = 60


@pytest.fixture
def archive(rt) -> list[str]:
    """60 published stories, many sharing a published_at; returns their codes."""
    add_channel(rt, {"slug": "all", "title": "All", "limit": LIMIT}, now=NOW - timedelta(days=30))
    codes = []
    with rt.db.write() as s:  # one transaction: fast on PostgreSQL
        for i in range(COUNT):
            # Groups of five share the same instant (and some groups straddle page boundaries).
            published = NOW - timedelta(days=10) + timedelta(minutes=i // 5)
            story = create_story(
                s,
                rt.settings,
                {"code": f"p{i:03d}", "title": f"Story {i}", "published_at": published},
                now=published,
                default_status="published",
            )
            codes.append(story.code)
    return codes


@pytest.fixture
def small(rt) -> None:
    add_channel(rt, {"slug": "all", "title": "All", "limit": 2}, now=NOW - timedelta(days=1))
    for i in range(3):
        add_story(rt, {"code": f"s{i}", "title": f"S{i}"}, now=NOW + timedelta(minutes=i))


def _fetch(client, url: str, fmt: str) -> tuple[list[str], dict[str, str]]:
    response = client.get(url.removeprefix(BASE))
    assert response.status_code == 200, response.data
    if fmt == "json":
        parse_json(response.data)
    else:
        parse_xml(response.data)
    return item_ids(response.data, fmt), links(response.data, fmt)


def _walk(client, fmt: str, between=None) -> tuple[list[str], int]:
    url, seen, pages = feed_url("all", fmt), [], 0
    while url:
        ids, page_links = _fetch(client, url, fmt)
        pages += 1
        assert len(ids) <= LIMIT
        assert page_links["self"] == url
        if pages > 1 and fmt != "json":
            assert page_links["first"] == feed_url("all", fmt)
        if pages == 1 and fmt != "json":
            assert "first" not in page_links
        seen += ids
        url = page_links.get("next")
        if url:
            assert url.startswith(feed_url("all", fmt) + "?before=")
        if between is not None:
            between(pages)
        assert pages < 100, "the walk does not end"
    return seen, pages


@pytest.mark.parametrize("fmt", FORMATS)
def test_walking_next_links_yields_every_story_once(client, archive, fmt):
    seen, pages = _walk(client, fmt)
    assert seen == [page_url(c) for c in reversed(archive)]  # newest first, id breaks ties
    assert pages == -(-COUNT // LIMIT)


@pytest.mark.parametrize("fmt", FORMATS)
def test_walk_while_stories_are_published(client, rt, archive, fmt):
    new_codes: list[str] = []

    def publish_more(page: int) -> None:
        # Newer than anything at the start of the walk; two share an instant.
        for j in range(2):
            when = NOW + timedelta(minutes=page)
            new_codes.append(
                add_story(
                    rt, {"code": f"n{page:02d}{j}", "title": "New", "published_at": when}, now=when
                )
            )

    seen, _ = _walk(client, fmt, between=publish_more)
    original = [page_url(c) for c in reversed(archive)]
    old_seen = [i for i in seen if i in set(original)]
    assert old_seen == original  # no gaps, no repeats
    assert len(seen) == len(set(seen))
    assert set(seen) - set(original) <= {page_url(c) for c in new_codes}
    # And a fresh walk sees everything.
    fresh, _ = _walk(client, fmt)
    assert set(fresh) == set(original) | {page_url(c) for c in new_codes}


def test_json_next_url_pages_share_a_tie(client, rt):
    """Ten stories at the very same instant still page cleanly with limit 3."""
    add_channel(rt, {"slug": "all", "title": "All", "limit": 3}, now=NOW - timedelta(days=1))
    codes = [
        add_story(rt, {"code": f"t{i}", "title": f"T{i}", "published_at": NOW}, now=NOW)
        for i in range(10)
    ]
    url, seen = feed_url("all", "json"), []
    while url:
        doc = parse_json(client.get(url.removeprefix(BASE)).data)
        assert doc["feed_url"] == url
        seen += [i["id"] for i in doc["items"]]
        url = doc.get("next_url")
    assert seen == [page_url(c) for c in reversed(codes)]


MALFORMED = [
    "abc",
    "1-",
    "-1",
    "",
    "1-2-3",
    "1.5-2",
    "%201-2",
    "99999999999999999999-1",
    "1-99999999999999999999",
    "9999999999999999999-1",
    "-9999999999999999999-1",
    "1-9999999999999999999",
    "9223372036854775807-9223372036854775807",
    "--1-1",
    "1-1\n",
    "1-1 ",
    "\u0661-\u0661",  # Arabic-Indic digits
]


def test_malformed_cursor_is_400_plain_text(client, small):
    for before in MALFORMED:
        for fmt in FORMATS:
            response = client.get(f"/feeds/all.{fmt}", query_string={"before": before})
            assert response.status_code == 400, (fmt, before, response.status_code)
            assert response.mimetype == "text/plain"
            assert b"cursor" in response.data


def test_extreme_but_valid_cursors_answer_a_page(client, small):
    for before in [
        "0-0",
        "1-1",
        "253402300799999999-1",
        "9223372036854-1",
        "-62135596800000000-1",
        "-1-9223372036854775807",
    ]:
        response = client.get("/feeds/all.json", query_string={"before": before})
        assert response.status_code == 200, (before, response.data)
        assert isinstance(parse_json(response.data)["items"], list)
    # Far in the future: the whole channel, newest first.
    response = client.get("/feeds/all.json", query_string={"before": "253402300799999999-1"})
    assert [i["title"] for i in json.loads(response.data)["items"]] == ["S2", "S1"]


@pytest.mark.parametrize("fmt", ["rss", "json"])
def test_walk_through_stories_before_1970(client, rt, fmt):
    """An archive reaching back before the epoch (negative cursor values) pages like any other."""
    add_channel(rt, {"slug": "all", "title": "All", "limit": 2}, now=NOW)
    codes = []
    for i, year in enumerate((1955, 1965, 1969, 1970, 1971)):
        when = datetime(year, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)
        codes += [
            add_story(rt, {"code": f"old{i}{j}", "title": f"{year}", "published_at": when}, now=NOW)
            for j in range(2)
        ]
    seen, _ = _walk(client, fmt)
    assert seen == [page_url(c) for c in reversed(codes)]
