"""Revalidation and dates on a clock moved by hand, on SQLite and PostgreSQL: If-Modified-Since
alone never misses a change, even two changes within one second (feeds in every format, OPML)
or a channel deletion (OPML);
Last-Modified, RSS lastBuildDate and Atom updated agree; every entry's Atom updated is distinct
within its document, on every page.

The first request after a change renders through the Flask route, the next ones are cache hits
answered by the WSGI fast path: the scenarios go through both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from syndication.channels.service import delete_channel
from tests.pushkit import FakeClock
from tests.storyfactory import (
    NOW,
    add_channel,
    add_story,
    edit_channel,
    item_ids,
    links,
    page_url,
    parse_json,
    parse_xml,
    struct_dt,
    xml_tree,
)

FORMATS = ("rss", "atom", "json")
ATOM = "{http://www.w3.org/2005/Atom}"
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def app(clocked_app):
    """The app on a clock moved by hand: requests read it, and so do the changes below."""
    return clocked_app


def at(clock: FakeClock, seconds: float) -> datetime:
    """Set the clock to NOW + `seconds` (12:00:00 + seconds)."""
    clock.now = NOW + timedelta(seconds=seconds)
    return clock.now


def http(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def last_modified(response) -> datetime:
    return parsedate_to_datetime(response.headers["Last-Modified"])


def document_date(body: bytes, fmt: str) -> datetime | None:
    """RSS lastBuildDate or Atom feed updated (JSON Feed has no feed date)."""
    if fmt == "json":
        return None
    return struct_dt(parse_xml(body).feed.updated_parsed)


def ids(body: bytes, fmt: str) -> list[str]:
    if fmt == "json":
        parse_json(body)  # valid against the JSON Feed 1.1 schema
    return item_ids(body, fmt)


# --- If-Modified-Since alone never misses a change ----------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_date_handed_out_inside_the_change_second_is_never_trusted(client, rt, clock, fmt):
    """Two changes in one second, a client between them: its copy carries no Last-Modified, and
    the date it might send instead (its copy's Date, as RFC 9111 lets caches do) gets a 200."""
    url = f"/feeds/world.{fmt}"
    add_channel(rt, {"slug": "world", "title": "World"}, now=NOW - timedelta(days=1))
    add_story(rt, {"code": "one", "title": "One"}, now=at(clock, 0.2))

    at(clock, 0.3)
    seen = client.get(url)  # rendered by the route
    assert seen.status_code == 200 and ids(seen.data, fmt) == [page_url("one")]
    assert "Last-Modified" not in seen.headers  # 12:00:01 is not past yet
    at(clock, 0.4)
    hit = client.get(url)  # the fast path
    assert hit.status_code == 200 and "Last-Modified" not in hit.headers
    assert hit.headers["ETag"] == seen.headers["ETag"]
    # Within the second a date is not honoured either, whatever the client sends.
    assert client.get(url, headers={"If-Modified-Since": http(NOW + SECOND)}).status_code == 200

    add_story(rt, {"code": "two", "title": "Two"}, now=at(clock, 0.7))
    at(clock, 5)
    fresh = client.get(url, headers={"If-Modified-Since": http(NOW)})
    assert fresh.status_code == 200
    assert ids(fresh.data, fmt) == [page_url("two"), page_url("one")]
    # The date is the change rounded up, now that it is past; the document says the same.
    assert last_modified(fresh) == NOW + SECOND
    assert document_date(fresh.data, fmt) in (None, NOW + SECOND)
    # Revalidating with it: 304, through the fast path (the page is cached) and the route.
    again = client.get(url, headers={"If-Modified-Since": fresh.headers["Last-Modified"]})
    assert again.status_code == 304 and again.data == b""
    rt.pages.clear()
    assert (
        client.get(url, headers={"If-Modified-Since": fresh.headers["Last-Modified"]}).status_code
        == 304
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_change_in_the_second_of_the_last_modified_seen_is_not_missed(client, rt, clock, fmt):
    """The report's case: a client holds Last-Modified D, the feed changes within second D."""
    url = f"/feeds/world.{fmt}"
    add_channel(rt, {"slug": "world", "title": "World"}, now=NOW - timedelta(days=1))
    add_story(rt, {"code": "one", "title": "One"}, now=at(clock, 0.2))

    at(clock, 1.5)
    seen = client.get(url)
    held = seen.headers["Last-Modified"]
    assert parsedate_to_datetime(held) == NOW + SECOND
    assert document_date(seen.data, fmt) in (None, NOW + SECOND)
    at(clock, 1.6)
    assert client.get(url, headers={"If-Modified-Since": held}).status_code == 304  # fast path

    add_story(rt, {"code": "two", "title": "Two"}, now=at(clock, 1.7))  # within second D
    at(clock, 1.8)
    inside = client.get(url, headers={"If-Modified-Since": held})
    assert inside.status_code == 200 and "Last-Modified" not in inside.headers
    at(clock, 3)
    later = client.get(url, headers={"If-Modified-Since": held})  # fast path
    assert later.status_code == 200
    assert ids(later.data, fmt) == [page_url("two"), page_url("one")]
    assert last_modified(later) == NOW + 2 * SECOND
    assert document_date(later.data, fmt) in (None, NOW + 2 * SECOND)
    # A change on a whole second keeps it as its date, given out once the clock is past it.
    add_story(rt, {"code": "three", "title": "Three"}, now=at(clock, 10))
    assert "Last-Modified" not in client.get(url).headers
    at(clock, 10.5)
    assert last_modified(client.get(url)) == NOW + 10 * SECOND
    for seconds, status in ((9, 200), (10, 304)):
        since = {"If-Modified-Since": http(NOW + seconds * SECOND)}
        assert client.get(url, headers=since).status_code == status


def test_opml_revalidation_never_misses_a_change(client, rt, clock):
    add_channel(rt, {"slug": "world", "title": "World"}, now=at(clock, 0.2))
    at(clock, 0.3)
    seen = client.get("/feeds.opml")
    assert seen.status_code == 200 and "Last-Modified" not in seen.headers
    assert client.get("/feeds.opml", headers={"If-Modified-Since": http(NOW)}).status_code == 200

    edit_channel(rt, "world", {"title": "World, renamed"}, now=at(clock, 0.7))
    at(clock, 5)
    fresh = client.get("/feeds.opml", headers={"If-Modified-Since": http(NOW)})
    assert fresh.status_code == 200 and b"World, renamed" in fresh.data
    held = fresh.headers["Last-Modified"]
    assert parsedate_to_datetime(held) == NOW + SECOND
    assert client.get("/feeds.opml", headers={"If-Modified-Since": held}).status_code == 304

    # A change within the second of the date the client holds.
    at(clock, 1.5)
    assert parsedate_to_datetime(client.get("/feeds.opml").headers["Last-Modified"]) == NOW + SECOND
    edit_channel(rt, "world", {"title": "World, again"}, now=at(clock, 1.7))
    at(clock, 3)
    after = client.get("/feeds.opml", headers={"If-Modified-Since": held})
    assert after.status_code == 200 and b"World, again" in after.data
    assert parsedate_to_datetime(after.headers["Last-Modified"]) == NOW + 2 * SECOND


def test_opml_last_modified_moves_when_a_channel_is_deleted(client, rt, clock):
    """A deleted channel leaves no changed_at behind: the OPML's date still moves past the
    deletion, so a client revalidating by date alone gets the shorter list, not a 304."""
    add_channel(rt, {"slug": "world", "title": "World"}, now=at(clock, 0.2))
    add_channel(rt, {"slug": "brief", "title": "Brief"}, now=at(clock, 0.4))
    at(clock, 5)
    held = client.get("/feeds.opml").headers["Last-Modified"]
    assert parsedate_to_datetime(held) == NOW + SECOND
    assert client.get("/feeds.opml", headers={"If-Modified-Since": held}).status_code == 304

    with rt.db.write() as s:  # the older of the two: the newest remaining change stays 0.4 s
        delete_channel(s, "world", now=at(clock, 10.3))
    at(clock, 12)
    after = client.get("/feeds.opml", headers={"If-Modified-Since": held})
    assert after.status_code == 200 and b"/feeds/world.rss" not in after.data
    assert last_modified(after) == NOW + 11 * SECOND
    again = client.get("/feeds.opml", headers={"If-Modified-Since": after.headers["Last-Modified"]})
    assert again.status_code == 304


# --- Atom updated distinct within a document -----------------------------------------------------


def _entry_updated(body: bytes) -> list[str]:
    return [e.findtext(f"{ATOM}updated") for e in xml_tree(body).iter(f"{ATOM}entry")]


def test_atom_updated_is_distinct_on_every_page(client, rt, clock):
    """Stories written with one "now" (a bulk import, the demo) and stories a few microseconds
    apart within one second: every page's entries have distinct updated values, none later than
    the feed's, which Last-Modified and RSS lastBuildDate repeat."""
    add_channel(rt, {"slug": "world", "title": "World", "limit": 3}, now=NOW - timedelta(days=1))
    batch = NOW + timedelta(seconds=30)  # whole second, shared by five stories
    for n in range(5):
        add_story(rt, {"code": f"b{n}", "title": f"Batch {n}"}, now=batch)
    close = NOW + timedelta(seconds=40, microseconds=250)
    add_story(rt, {"code": "c0", "title": "Close 0"}, now=close)
    add_story(rt, {"code": "c1", "title": "Close 1"}, now=close + timedelta(microseconds=1))
    at(clock, 60)

    url, pages = "/feeds/world.atom", []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(response)
        url = links(response.data, "atom").get("next", "").removeprefix("http://news.example.test")
    assert len(pages) == 3

    feed_updated = NOW + timedelta(seconds=41)  # the last change, rounded up
    shown = []
    for response in pages:
        values = _entry_updated(response.data)
        assert len(set(values)) == len(values), values
        assert all(datetime.fromisoformat(v) <= feed_updated for v in values)
        parsed = parse_xml(response.data)
        assert struct_dt(parsed.feed.updated_parsed) == feed_updated == last_modified(response)
        shown += values
    # Printed as stored, with microseconds when there are any; exact ties one microsecond apart,
    # down the page.
    assert shown[:2] == [
        "2025-03-01T12:00:40.000251+00:00",
        "2025-03-01T12:00:40.000250+00:00",
    ]
    assert shown[2:] == [
        "2025-03-01T12:00:30+00:00",  # page 1
        "2025-03-01T12:00:30+00:00",  # page 2: a document of its own
        "2025-03-01T12:00:29.999999+00:00",
        "2025-03-01T12:00:29.999998+00:00",
        "2025-03-01T12:00:30+00:00",  # page 3
    ]
    # The same data renders the same values.
    rt.pages.clear()
    assert _entry_updated(client.get("/feeds/world.atom").data) == _entry_updated(pages[0].data)
    rss = client.get("/feeds/world.rss")
    assert struct_dt(parse_xml(rss.data).feed.updated_parsed) == feed_updated
    assert last_modified(rss) == feed_updated
