"""Reach end to end on SQLite and PostgreSQL: feed requests counted through the Flask route and
through the WSGI fast path, once a day per client and latest count per reader, the UTC day
rollover with the FakeClock, a failed flush put back, deleted channels, pruning; the API (JSON,
CSV with hostile names, 422s, the reader role); the admin Reach page and the story's block."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import request
from sqlalchemy import func, select

from syndication.channels.service import create_channel, delete_channel
from syndication.csvexport import to_csv
from syndication.links.service import story_link
from syndication.models import (
    Delivery,
    Event,
    ReachClient,
    ReachReport,
    Subscriber,
    Visit,
)
from syndication.reach import service as reach
from syndication.stories.service import create_story
from tests.conftest import make_settings
from tests.pushkit import FakeClock
from tests.test_admin import _login, _user
from tests.test_api import auth  # noqa: F401 - the fixture: headers by role

# 23:00 UTC: an hour before the day rolls over.
START = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers; )"
FEEDBIN = "Feedbin feed-id:{id} - {n} subscribers"
MINIFLUX = "Mozilla/5.0 (compatible; Miniflux/2.1.0; +https://miniflux.app)"
NNW = "NetNewsWire (RSS Reader; https://netnewswire.com/)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HOSTILE = '=cmd|"x",1/1.0'  # a formula with a quote and a comma, as a product name


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def settings(db_url, tmp_path):
    # The flusher thread waits five minutes between flushes: every flush here is the test's own.
    return make_settings(db_url, tmp_path, reach_flush_interval=300)


@pytest.fixture
def app(clocked_app):
    return clocked_app


@pytest.fixture
def flask_calls(app):
    """Paths that reached Flask (the fast path answers before any before_request hook)."""
    calls: list[str] = []
    app.before_request(lambda: calls.append(request.path))
    return calls


@pytest.fixture
def channel(rt):
    with rt.db.write() as s:
        create_channel(
            s,
            {"slug": "harbour", "title": "Harbour news", "filter": {"tags": ["tide"]}},
            now=rt.clock(),
        )
    return "harbour"


def _fetch(client, ua: str, addr: str = "203.0.113.7", path: str = "/feeds/harbour.rss"):
    r = client.get(path, headers={"User-Agent": ua}, environ_base={"REMOTE_ADDR": addr})
    assert r.status_code in (200, 304), r.get_data(as_text=True)
    return r


def _stored(rt):
    with rt.db.read() as s:
        reports = s.execute(
            select(ReachReport.day, ReachReport.reader, ReachReport.feed_key,
                   ReachReport.subscribers).order_by(ReachReport.day, ReachReport.reader,
                                                     ReachReport.feed_key)
        ).all()  # fmt: skip
        clients = s.execute(
            select(ReachClient.day, ReachClient.reader, func.count())
            .group_by(ReachClient.day, ReachClient.reader)
            .order_by(ReachClient.day, ReachClient.reader)
        ).all()
    return [tuple(r) for r in reports], [tuple(c) for c in clients]


def _days(rt, slug="harbour", days=2):
    with rt.db.read() as s:
        return reach.channel_reach(s, slug, now=rt.clock(), days=days)["days"]


def test_counted_through_the_route_and_through_the_fast_path(rt, client, channel, flask_calls):
    _fetch(client, FEEDLY.format(n=40))  # a miss: rendered by the Flask route
    assert flask_calls == ["/feeds/harbour.rss"]
    _fetch(client, FEEDLY.format(n=42))  # a hit: the fast path, before Flask
    _fetch(client, MINIFLUX, addr="198.51.100.1")
    r = client.get(
        "/feeds/harbour.rss",
        headers={"User-Agent": NNW, "If-None-Match": _fetch(client, GOOGLEBOT).headers["ETag"]},
        environ_base={"REMOTE_ADDR": "198.51.100.2"},
    )
    assert r.status_code == 304  # a conditional poll counts too
    assert flask_calls == ["/feeds/harbour.rss"], "the later requests never reached Flask"
    assert len(rt.reach) == 5
    assert rt.reach.flush() == 5
    day = START.date()
    assert _stored(rt) == (
        [(day, "Feedly", "", 42)],  # the latest count, not the sum of the two
        [(day, "Miniflux", 1), (day, "NetNewsWire", 1)],  # Googlebot is no reader
    )
    today = _days(rt)[-1]
    assert (today["subscribers"], today["stated"], today["clients"]) == (44, 42, 2)


def test_only_first_pages_fetched_with_get_are_counted(rt, client, channel):
    _fetch(client, MINIFLUX)
    assert client.head("/feeds/harbour.rss", headers={"User-Agent": NNW}).status_code == 200
    client.get("/feeds/harbour.rss?before=1-1", headers={"User-Agent": NNW})  # a later page
    client.get("/feeds/nowhere.rss", headers={"User-Agent": NNW})  # 404
    rt.reach.flush()
    assert _stored(rt)[1] == [(START.date(), "Miniflux", 1)]


def test_a_client_counts_once_a_day_and_again_the_next_day(rt, client, channel, clock):
    for _ in range(3):
        _fetch(client, MINIFLUX, addr="192.0.2.1")
        _fetch(client, MINIFLUX, addr="192.0.2.2")  # another installation
    _fetch(client, FEEDBIN.format(id=1, n=10))
    _fetch(client, FEEDBIN.format(id=2, n=5))  # the same channel under a second Feedbin id
    rt.reach.flush()
    _fetch(client, MINIFLUX, addr="192.0.2.1")  # a later flush the same day: still once
    _fetch(client, FEEDBIN.format(id=1, n=11))
    rt.reach.flush()
    clock.advance(3600)  # 00:00 UTC: a new day
    _fetch(client, MINIFLUX, addr="192.0.2.1")
    _fetch(client, FEEDBIN.format(id=1, n=12))
    rt.reach.flush()
    first, second = START.date(), START.date() + timedelta(days=1)
    reports, clients = _stored(rt)
    assert reports == [
        (first, "Feedbin", "1", 11),
        (first, "Feedbin", "2", 5),
        (second, "Feedbin", "1", 12),
    ]
    assert clients == [(first, "Miniflux", 2), (second, "Miniflux", 1)]
    yesterday, today = _days(rt)
    assert yesterday["subscribers"] == 11 + 5 + 2
    assert today["subscribers"] == 12 + 1
    # The day's hash key changed: the same client is another hash, unlinkable to yesterday's.
    with rt.db.read() as s:
        hashes = s.execute(select(ReachClient.day, ReachClient.client)).all()
    assert len({h for _, h in hashes}) == 3
    assert all(re.fullmatch(r"[0-9a-f]{16}", h) for _, h in hashes)
    assert rt.reach.client_hash(first, "192.0.2.1", MINIFLUX) in {h for _, h in hashes}
    assert "192.0.2.1" not in repr(hashes)


def test_an_older_count_flushed_later_does_not_replace_a_newer_one(rt, channel, clock):
    with rt.db.read() as s:
        channel_id = reach.get_channel(s, "harbour").id
    rt.reach.hit(channel_id, FEEDLY.format(n=50), "a", START + timedelta(minutes=5))
    rt.reach.flush()
    rt.reach.hit(channel_id, FEEDLY.format(n=49), "a", START)  # another worker's, older
    rt.reach.flush()
    assert _stored(rt)[0] == [(START.date(), "Feedly", "", 50)]


def test_a_failed_flush_is_put_back_and_written_once_later(rt, client, channel, caplog):
    _fetch(client, FEEDLY.format(n=7))
    _fetch(client, MINIFLUX)
    with rt.db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE reach_clients RENAME TO reach_clients_away")
    try:
        assert rt.reach.flush() == 2
        assert "could not write feed reach" in caplog.text
        _fetch(client, FEEDLY.format(n=8))  # counted meanwhile: merged with what was put back
        _fetch(client, MINIFLUX)
        assert rt.reach.flush() == 2
    finally:
        with rt.db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE reach_clients_away RENAME TO reach_clients")
    assert _stored(rt) == ([], []), "the failed flushes left nothing behind"
    assert rt.reach.flush() == 0  # nothing new in the buffer; the held tally is written
    assert _stored(rt) == (
        [(START.date(), "Feedly", "", 8)],
        [(START.date(), "Miniflux", 1)],
    )


def test_requests_wait_while_there_is_no_key_to_hash_them_with(rt, channel, caplog):
    rt.reach._secret = None
    rt.reach.hit(1, MINIFLUX, "192.0.2.1", START)
    assert rt.reach.flush() == 0
    assert "could not read feed reach" in caplog.text and len(rt.reach) == 1
    rt.reach.use_secret("k" * 32)
    assert rt.reach.flush() == 1
    assert _stored(rt)[1] == [(START.date(), "Miniflux", 1)]


def test_a_channel_deleted_before_the_flush_drops_its_counts_only(rt, client, channel):
    with rt.db.write() as s:
        create_channel(s, {"slug": "other", "title": "Other"}, now=rt.clock())
    _fetch(client, MINIFLUX)
    _fetch(client, MINIFLUX, path="/feeds/other.rss")
    with rt.db.write() as s:
        delete_channel(s, "harbour", now=rt.clock())
    rt.reach.flush()
    assert _stored(rt)[1] == [(START.date(), "Miniflux", 1)]
    assert _days(rt, "other")[-1]["clients"] == 1


def test_the_buffer_is_bounded(rt, channel, caplog):
    rt.reach._max = 3
    for n in range(5):
        rt.reach.hit(1, MINIFLUX, f"192.0.2.{n}", START)
    assert len(rt.reach) == 3
    rt.reach.flush()
    assert "2 feed requests not counted" in caplog.text


def test_counting_can_be_switched_off(rt, client, channel):
    rt.reach.enabled = False
    _fetch(client, MINIFLUX)
    _fetch(client, MINIFLUX)
    assert len(rt.reach) == 0


def test_old_days_are_pruned(rt, channel, clock):
    with rt.db.read() as s:
        channel_id = reach.get_channel(s, "harbour").id
    for age in (0, 400, 401):
        rt.reach.hit(channel_id, MINIFLUX, "x", START - timedelta(days=age))
    rt.reach.flush()
    with rt.db.write() as s:
        assert reach.prune(s, today=START.date(), retention_days=400) == 1
    assert [d for d, _, _ in _stored(rt)[1]] == [
        (START - timedelta(days=400)).date(),
        START.date(),
    ]


# --- API --------------------------------------------------------------------------------------


def test_channel_reach_api_json_and_csv(client, channel, auth):
    _fetch(client, FEEDLY.format(n=42))
    _fetch(client, HOSTILE, addr="192.0.2.9")
    headers = auth["reader"]
    r = client.get("/api/v1/channels/harbour/reach?days=3", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()  # counted so far: the API flushes this process's buffer first
    assert body["channel"] == "harbour" and len(body["days"]) == 3
    assert [d["date"] for d in body["days"]][-1] == START.date().isoformat()
    assert body["days"][-1] == {
        "date": START.date().isoformat(),
        "subscribers": 43,
        "stated": 42,
        "clients": 1,
        "readers": [
            {"reader": "Feedly", "counted_as": "stated", "subscribers": 42},
            {"reader": '=cmd|"x",1', "counted_as": "clients", "subscribers": 1},
        ],
    }
    assert body["readers"][0] == {"reader": "Feedly", "counted_as": "stated", "latest": 42,
                                  "peak": 42}  # fmt: skip
    assert body["websub"] == {"subscribers": 0, "topics": []}

    r = client.get("/api/v1/channels/harbour/reach.csv?days=3", headers=headers)
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert 'filename="reach-harbour.csv"' in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True)
    assert text.startswith("date,channel,reader,counted_as,subscribers\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    day = START.date().isoformat()
    assert rows[1:] == [
        [day, "harbour", "Feedly", "stated", "42"],
        [day, "harbour", '\'=cmd|"x",1', "clients", "1"],  # text, never a formula
    ]
    assert '"\'=cmd|""x"",1"' in text  # RFC 4180: quoted, the quote doubled


@pytest.mark.parametrize("days", ["abc", "0", "401", "-1", "1.5", "", "9" * 30])
def test_malformed_days_is_422(client, channel, auth, days):
    for path in ("/api/v1/channels/harbour/reach", "/api/v1/channels/harbour/reach.csv"):
        r = client.get(f"{path}?days={days}", headers=auth["reader"])
        assert r.status_code == 422, (path, days, r.get_data(as_text=True))
        assert "query.days" in r.get_json()["error"]["fields"]


def test_unknown_query_and_channel_and_story(client, channel, auth):
    headers = auth["reader"]
    # A repeated parameter: the first is read, as for every query of the API.
    r = client.get("/api/v1/channels/harbour/reach?days=2&days=3", headers=headers)
    assert r.status_code == 200 and len(r.get_json()["days"]) == 2
    assert client.get("/api/v1/channels/harbour/reach?x=1", headers=headers).status_code == 422
    for path in ("/api/v1/channels/nowhere/reach", "/api/v1/channels/nowhere/reach.csv",
                 "/api/v1/stories/nope/reach", "/api/v1/stories/nope/reach.csv"):  # fmt: skip
        r = client.get(path, headers=headers)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/channels/harbour/reach").status_code == 401


def _story_with_reach(rt):
    """A published story in `harbour` with News Link visits, deliveries of every outcome to a
    webhook and a WebSub subscriber, and one expired WebSub subscription."""
    now = rt.clock()
    with rt.db.write() as s:
        story = create_story(
            s, rt.settings, {"code": "p1", "title": "Tide tables out", "tags": ["tide"]},
            now=now, default_status="published",
        )  # fmt: skip
        link = story_link(s, story.id)  # made by publishing
        for medium, bot in [("link", False), ("link", True), ("qr", False)]:
            s.add(Visit(link_id=link.id, at=now, medium=medium, is_bot=bot))
        common = {"secret": "", "created_at": now, "channels": ["harbour"]}
        hook = Subscriber(kind="webhook", name="=Partner", url="https://p.example/h", **common)
        sub = Subscriber(
            kind="websub", name="hub", url="https://r.example/cb", topic="http://x/feeds/harbour.rss",
            verified_at=now, lease_expires_at=now + timedelta(days=1), **common,
        )  # fmt: skip
        gone = Subscriber(
            kind="websub", name="hub", url="https://r.example/old", topic="http://x/feeds/harbour.rss",
            verified_at=now, lease_expires_at=now - timedelta(seconds=1), **common,
        )  # fmt: skip
        s.add_all([hook, sub, gone])
        s.flush()
        event = s.scalar(select(Event).where(Event.story_id == story.id))
        statuses = [(hook, "delivered"), (hook, "dead"), (hook, "pending"), (sub, "delivered"),
                    (gone, "cancelled")]  # fmt: skip
        for n, (subscriber, status) in enumerate(statuses):
            ev = event
            if n:  # one delivery per (event, subscriber): more events of the same story
                ev = Event(type="story.updated", story_id=story.id, story_code="p1",
                           snapshot={}, created_at=now)  # fmt: skip
                s.add(ev)
                s.flush()
            s.add(Delivery(event_id=ev.id, subscriber_id=subscriber.id, message_id=f"msg_{n}",
                           status=status, created_at=now))  # fmt: skip
    return "p1"


def test_story_reach_api_json_and_csv(rt, client, channel, auth):
    code = _story_with_reach(rt)
    headers = auth["reader"]
    r = client.get(f"/api/v1/stories/{code}/reach", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == {
        "story": "p1",
        "title": "Tide tables out",
        "link_clicks": 2,
        "link_clicks_humans": 1,
        "qr_scans": 1,
        "qr_scans_humans": 1,
        "deliveries": {
            "webhook": {"delivered": 1, "failed": 1, "pending": 1},
            "websub": {"delivered": 1, "failed": 0, "pending": 0},
        },
        "channels": [{"channel": "harbour", "websub_subscribers": 1}],
        "websub_subscribers": 1,
    }
    r = client.get(f"/api/v1/stories/{code}/reach.csv", headers=headers)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["story", "measure", "kind", "value"]
    assert ["p1", "deliveries_failed", "webhook", "1"] in rows
    assert ["p1", "websub_subscribers", "harbour", "1"] in rows
    # The channel's own reach shows its WebSub subscribers per topic.
    body = client.get("/api/v1/channels/harbour/reach", headers=headers).get_json()
    assert body["websub"] == {
        "subscribers": 1,
        "topics": [{"topic": "http://x/feeds/harbour.rss", "subscribers": 1}],
    }


def test_csv_cells_that_a_spreadsheet_would_run_are_text():
    text = to_csv([["=1+1", "+A1", "-2", "@SUM(A1)", "\tx", "plain, with comma", -3, None]])
    assert text == "'=1+1,'+A1,'-2,'@SUM(A1),'\tx,\"plain, with comma\",-3,\r\n"


# --- admin ------------------------------------------------------------------------------------


def test_admin_reach_page_and_story_block(rt, client, channel):
    _user(rt, "reader1", "reader")
    _login(client, "reader1")
    _fetch(client, FEEDLY.format(n=42))
    _fetch(client, "<script>alert(1)</script>", addr="192.0.2.3")
    code = _story_with_reach(rt)
    channels = client.get("/admin/channels").get_data(as_text=True)
    assert 'href="/admin/channels/harbour/reach"' in channels

    page = client.get("/admin/channels/harbour/reach?days=7")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Reach of" in html and 'id="chart-reach"' in html and "subscribers" in html
    assert "Feedly" in html and "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'href="/admin/channels/harbour/reach.csv?days=7"' in html
    assert re.search(
        r'<span class="count">43</span> <span class="what">feed subscribers today', html
    )
    csv_page = client.get("/admin/channels/harbour/reach.csv?days=7")
    assert csv_page.status_code == 200 and csv_page.mimetype == "text/csv"
    assert "Feedly,stated,42" in csv_page.get_data(as_text=True)
    assert client.get("/admin/channels/nowhere/reach").status_code == 404

    story_page = client.get(f"/admin/stories/{code}").get_data(as_text=True)
    assert 'id="reach-heading"' in story_page
    assert f'href="/admin/stories/{code}/reach.csv"' in story_page
    assert story_csv_ok(client, code)
    assert client.get("/admin/stories/nope/reach.csv").status_code == 404


def story_csv_ok(client, code: str) -> bool:
    r = client.get(f"/admin/stories/{code}/reach.csv")
    return r.status_code == 200 and "link_clicks,all,2" in r.get_data(as_text=True)


def test_admin_reach_needs_sign_in(client, channel):
    r = client.get("/admin/channels/harbour/reach")
    assert r.status_code in (302, 303) and "/admin/login" in r.headers["Location"]
