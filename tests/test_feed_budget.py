"""Feed pages and caches bounded in bytes, on SQLite and PostgreSQL.

- A page stops adding items when the next would pass feed_max_bytes (at least one item), its next
  link continues right after the last item held, and walking every page with feedparser (RSS,
  Atom) or the JSON Feed schema yields every story exactly once.
- The page cache keeps only pages the service links to (the first page, the next page of a
  cached page): made-up cursors, however many, are answered and not kept.
- Whatever is kept stays within feed_cache_bytes, as the cache accounts it and as the process's
  resident memory shows.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from datetime import timedelta

import pytest

from syndication.app import create_app
from syndication.channels.pages import Cursor
from syndication.stories.service import create_story
from tests.storyfactory import (
    BASE,
    NOW,
    add_channel,
    feed_url,
    item_ids,
    links,
    page_url,
    parse_json,
    parse_xml,
)

FORMATS = ("rss", "atom", "json")
MIB = 1024 * 1024


def _add_stories(rt, sizes: list[int], *, prefix: str = "b") -> list[tuple[str, object, int]]:
    """Stories with bodies of about `sizes[i]` characters, one minute apart (newest last);
    returns (code, published_at, id) of each."""
    out = []
    with rt.db.write() as s:  # one transaction: fast on PostgreSQL
        for i, size in enumerate(sizes):
            when = NOW - timedelta(days=1) + timedelta(minutes=i)
            words = "word " * max(1, (size - 7) // 5)
            story = create_story(
                s,
                rt.settings,
                {
                    "code": f"{prefix}{i:03d}",
                    "title": f"Story {i}",
                    "summary": f"Summary {i}",
                    "body_html": f"<p>{words}</p>",
                    "published_at": when,
                },
                now=when,
                default_status="published",
            )
            s.flush()
            out.append((story.code, story.published_at, story.id))
    return out


def _walk(client, fmt: str, slug: str = "all") -> tuple[list[str], list[int], list[int]]:
    """Every item id along the next links, and each page's item count and size in bytes."""
    url, seen, counts, sizes = feed_url(slug, fmt), [], [], []
    while url:
        response = client.get(url.removeprefix(BASE))
        assert response.status_code == 200, response.data[:200]
        if fmt == "json":
            parse_json(response.data)
        else:
            parse_xml(response.data)  # feedparser, failing on any well-formedness problem
        ids = item_ids(response.data, fmt)
        assert ids, "a page always holds at least one item"
        seen += ids
        counts.append(len(ids))
        sizes.append(len(response.data))
        page_links = links(response.data, fmt)
        assert page_links["self"] == url
        url = page_links.get("next")
        assert len(counts) < 200, "the walk does not end"
    return seen, counts, sizes


@pytest.fixture
def budget_app(settings):
    """An app whose pages hold at most 64 KiB (limit 10 items) and whose page cache holds 1 MiB."""
    app = create_app(dataclasses.replace(settings, feed_max_bytes=64 * 1024, feed_cache_bytes=MIB))
    app.config["TESTING"] = True
    yield app
    app.extensions["syndication"].close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_pages_stop_at_the_byte_budget_and_paging_yields_every_story_once(budget_app, fmt):
    rt = budget_app.extensions["syndication"]
    add_channel(rt, {"slug": "all", "title": "All", "limit": 10}, now=NOW - timedelta(days=30))
    # Mostly 20 kB stories (three fit a 64 KiB page), a few tiny ones, and one larger than the
    # whole budget (a page of its own).
    sizes = [20_000] * 12 + [300] * 15 + [100_000] + [20_000] * 5
    stories = _add_stories(rt, sizes)
    client = budget_app.test_client()
    seen, counts, page_sizes = _walk(client, fmt)
    assert seen == [page_url(code) for code, _, _ in reversed(stories)]  # each once, in order
    assert max(counts) <= 10
    assert any(c < 10 for c in counts[:-1]), "some page was cut by bytes"
    assert 1 in counts  # the story over the budget went out alone
    for count, size in zip(counts, page_sizes, strict=True):
        assert count == 1 or size <= 64 * 1024, (count, size)


def test_summary_channels_do_not_count_bodies(budget_app):
    rt = budget_app.extensions["syndication"]
    add_channel(
        rt,
        {"slug": "all", "title": "All", "limit": 10, "content": "summary"},
        now=NOW - timedelta(days=30),
    )
    stories = _add_stories(rt, [50_000] * 12)
    seen, counts, _ = _walk(budget_app.test_client(), "rss")
    assert counts == [10, 2]
    assert seen == [page_url(code) for code, _, _ in reversed(stories)]


def test_preview_says_when_a_page_was_cut(budget_app):
    from syndication.auth.tokens import create_token

    rt = budget_app.extensions["syndication"]
    add_channel(rt, {"slug": "all", "title": "All", "limit": 10}, now=NOW - timedelta(days=30))
    _add_stories(rt, [30_000] * 4)
    with rt.db.write() as s:
        token = create_token(s, "reader", "reader", now=NOW)[1]
    client = budget_app.test_client()
    for fmt in FORMATS:
        response = client.get(
            f"/api/v1/channels/all/preview?format={fmt}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.data
        messages = [f["message"] for f in response.get_json()["findings"]]
        assert any("feed_max_bytes" in m and "holds 2 items (limit 10)" in m for m in messages), (
            messages
        )
    # A page that is not cut says nothing of it.
    add_channel(rt, {"slug": "two", "title": "Two", "limit": 1}, now=NOW - timedelta(days=30))
    response = client.get(
        "/api/v1/channels/two/preview?format=rss", headers={"Authorization": f"Bearer {token}"}
    )
    assert not [f for f in response.get_json()["findings"] if "feed_max_bytes" in f["message"]]


def test_cache_keeps_linked_pages_within_its_byte_budget(budget_app):
    rt = budget_app.extensions["syndication"]
    add_channel(rt, {"slug": "all", "title": "All", "limit": 10}, now=NOW - timedelta(days=30))
    _add_stories(rt, [30_000] * 60)  # 30 pages of two stories, about 60 kB each, per format
    client = budget_app.test_client()
    first = {fmt: _walk(client, fmt) for fmt in FORMATS}
    assert len(rt.pages) > 3  # linked pages were kept...
    assert rt.pages.nbytes <= MIB  # ...within the budget (90 pages of ~60 kB would be 5 MB)
    assert {fmt: _walk(client, fmt) for fmt in FORMATS} == first  # hits and misses agree
    # A cursor nobody linked is answered and not kept, even one that names a real page boundary.
    before = len(rt.pages)
    response = client.get("/feeds/all.rss?before=253402300799999999-1")
    assert response.status_code == 200 and len(rt.pages) == before


def _rss_bytes() -> int:
    """This process's resident set size, from /proc/self/statm (pages), or 0 where there is none."""
    try:
        with open("/proc/self/statm") as statm:
            resident = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident * os.sysconf("SC_PAGE_SIZE")


def test_made_up_cursors_do_not_grow_the_cache(app, rt):
    """200 distinct cursors against a channel of 1 MB stories (each answer a ~1 MB page, as the
    default feed_max_bytes of 1 MiB holds one such story): the cache's accounted bytes grow by
    less than 64 MiB (by nothing: none of them is kept), and so does the resident memory."""
    assert rt.settings.feed_max_bytes == MIB and rt.settings.feed_cache_bytes == 64 * MIB
    add_channel(rt, {"slug": "all", "title": "All", "limit": 50}, now=NOW - timedelta(days=30))
    stories = _add_stories(rt, [995_000] * 8, prefix="m")
    client = app.test_client()
    cursors = []
    for j in range(200):  # distinct cursors, each landing between real stories
        _, published_at, story_id = stories[1 + j % (len(stories) - 1)]
        cursors.append(Cursor(published_at + timedelta(microseconds=j), story_id).encode())
    assert len(set(cursors)) == 200

    def ask(cursor: str, fmt: str) -> None:
        response = client.get(f"/feeds/all.{fmt}?before={cursor}")
        assert response.status_code == 200
        assert 900_000 < len(response.data) < 2 * MIB  # one ~1 MB story per page

    for j, cursor in enumerate(cursors[:12]):  # warm the allocator and the item cache
        ask(cursor, FORMATS[j % 3])
    gc.collect()
    cache_before, rss_before = rt.pages.nbytes, _rss_bytes()
    for j, cursor in enumerate(cursors):
        ask(cursor, FORMATS[j % 3])
    gc.collect()
    assert rt.pages.nbytes - cache_before < 64 * MIB
    assert rt.pages.nbytes == cache_before  # made-up cursors are never kept
    assert rt.items.nbytes <= rt.settings.item_cache_bytes
    if rss_before:
        assert _rss_bytes() - rss_before < 64 * MIB
