"""Visit counts stay exact while a flush is under way, fails or races redirects — so a link
with `max_visits` answers 410 "used up" exactly at its limit — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from syndication.app import create_app
from syndication.links.redirect import LOOKUP_SQL, answer, resolve
from syndication.links.service import create_link
from syndication.links.visits import RECENT_BATCHES
from syndication.models import Link, Visit
from tests.conftest import make_settings

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
WAIT = 30  # seconds: only ever reached if the code under test hangs


def _app(db_url, tmp_path, interval):
    app = create_app(make_settings(db_url, tmp_path, visit_flush_interval=interval))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(db_url, tmp_path):
    # The flusher thread waits a minute between flushes: every flush here is the test's own.
    app = _app(db_url, tmp_path, 60)
    yield app
    app.extensions["syndication"].close()


@pytest.fixture
def rt(app):
    return app.extensions["syndication"]


@pytest.fixture
def client(app):
    return app.test_client()


def _link(rt, **fields):
    with rt.db.write() as s:
        return create_link(s, {"url": "https://example.org/", **fields}, now=datetime.now(UTC)).code


def _get(client, code, ua=BROWSER):
    return client.get(f"/s/{code}", headers={"User-Agent": ua})


def _stored(rt, code):
    """(links.human_visits, visit rows) of `code` as the database has them now."""
    with rt.db.read() as s:
        humans = s.scalar(select(Link.human_visits).where(Link.code == code))
        rows = s.scalar(select(func.count()).select_from(Visit).join(Link).where(Link.code == code))
        return humans, rows


def _resolve(rt, row, token):
    return resolve(
        row,
        rt.settings,
        rt.visits,
        token=token,
        medium="link",
        user_agent=BROWSER,
        referrer=None,
        now=datetime.now(UTC),
    )


def test_redirects_between_a_flush_commit_and_its_bookkeeping_count_it_once(app, rt, client):
    """The race of the issue, made deterministic: the flush is paused right after its commit,
    before it settles its batch in memory; redirects of a link at max_visits - 1 in that window
    see the flushed visits in the database and must not count them again from memory."""
    code = _link(rt, max_visits=3)
    assert _get(client, code).status_code == 302
    assert _get(client, code).status_code == 302
    assert _get(client, code, ua=SLACK).status_code == 302  # bots never use a link up

    committed, release = threading.Event(), threading.Event()
    flusher: list[threading.Thread] = []

    def pause_after_commit(_session):
        if flusher and threading.current_thread() is flusher[0]:
            committed.set()
            assert release.wait(WAIT)

    rt.db.on_session_event("after_commit", pause_after_commit)
    written: list[int] = []
    flusher.append(threading.Thread(target=lambda: written.append(rt.visits.flush())))
    flusher[0].start()
    try:
        assert committed.wait(WAIT)
        assert _stored(rt, code) == (2, 3), "the batch is committed and visible"
        assert _get(client, code).status_code == 302  # the third: 2 stored + 1, not 2 + 2 + 1
        gone = _get(client, code)
        assert gone.status_code == 410 and "used up" in gone.get_data(as_text=True)
    finally:
        release.set()
        flusher[0].join(WAIT)
    assert written == [3]
    assert _get(client, code).status_code == 410  # settled: still exactly at the limit
    assert rt.visits.flush() == 1
    assert _stored(rt, code) == (3, 4)


def test_a_read_from_before_the_commit_judged_after_it_never_passes_the_limit(rt, client):
    """The other side of the same race: a redirect that read the count before a flush committed
    and decides after the flush settled must still count the flushed visits."""
    code = _link(rt, max_visits=2)
    assert _get(client, code).status_code == 302
    assert _get(client, code).status_code == 302
    token = rt.visits.token()
    row = rt.db.fetch_one(LOOKUP_SQL, (code,))  # human_visits 0: both visits still buffered
    assert rt.visits.flush() == 2
    outcome = _resolve(rt, row, token)
    assert outcome is not None and outcome.status == 410
    assert rt.visits.flush() == 0
    assert _stored(rt, code) == (2, 2)


def test_a_read_older_than_the_remembered_flushes_is_read_again(rt, client):
    code, other = _link(rt, max_visits=2), _link(rt)
    assert _get(client, code).status_code == 302
    assert rt.visits.flush() == 1
    token = rt.visits.token()
    row = rt.db.fetch_one(LOOKUP_SQL, (code,))
    for _ in range(RECENT_BATCHES + 1):
        assert _get(client, other).status_code == 302
        assert rt.visits.flush() == 1
    assert _resolve(rt, row, token) is None  # cannot tell which flushes it saw
    fresh = answer(
        rt.db,
        code,
        rt.settings,
        rt.visits,
        medium="link",
        user_agent=BROWSER,
        referrer=None,
        now=datetime.now(UTC),
    )
    assert fresh.status == 302
    assert _get(client, code).status_code == 410
    rt.visits.flush()
    assert _stored(rt, code) == (2, 2)


def test_a_failed_flush_loses_nothing_and_its_visits_still_count(rt, client, caplog):
    """A real database failure (the visits table is away) after the counts were updated: the
    transaction rolls back, the batch goes back to the buffer in order and keeps counting
    against max_visits; the next flush writes every visit once."""
    code = _link(rt, max_visits=3)
    for referrer in ("a.example", "b.example"):
        r = client.get(
            f"/s/{code}", headers={"User-Agent": BROWSER, "Referer": f"https://{referrer}/"}
        )
        assert r.status_code == 302
    with rt.db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE visits RENAME TO visits_away")
    try:
        assert rt.visits.flush() == 0
        assert "could not write 2 visits" in caplog.text
        assert len(rt.visits) == 2
        assert _get(client, code).status_code == 302  # 2 put back + 1 = the limit
        assert _get(client, code).status_code == 410
    finally:
        with rt.db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE visits_away RENAME TO visits")
    assert _stored(rt, code) == (0, 0), "the failed flush left nothing behind"
    assert rt.visits.flush() == 3
    assert _stored(rt, code) == (3, 3)
    with rt.db.read() as s:
        hosts = s.scalars(
            select(Visit.referrer_host).join(Link).where(Link.code == code).order_by(Visit.id)
        )
        assert list(hosts) == ["a.example", "b.example", None]


def test_limit_is_exact_under_load_while_the_flusher_runs(db_url, tmp_path):
    """Many threads against a real HTTP server while the flusher writes every 50 ms: exactly
    max_visits redirects get through, whatever the interleaving, and all of them are stored."""
    app = _app(db_url, tmp_path, 0.05)
    rt = app.extensions["syndication"]
    limit, n = 120, 240
    code = _link(rt, max_visits=limit)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/s/{code}"

    def hit(_: int) -> int:
        with requests.Session() as session:
            return session.get(
                url, headers={"User-Agent": BROWSER}, allow_redirects=False, timeout=WAIT
            ).status_code

    try:
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                statuses = list(pool.map(hit, range(n)))
        finally:
            server.shutdown()
        assert statuses.count(302) == limit
        assert statuses.count(410) == n - limit
        rt.visits.flush()
        assert _stored(rt, code) == (limit, limit)
    finally:
        rt.close()
