"""Short links: redirects, visit recording, exact counts, stats — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug.serving import make_server

from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.cli import cli
from syndication.errors import Conflict, ValidationError
from syndication.links.codes import ALPHABET
from syndication.links.service import create_link, story_link
from syndication.models import Link, Visit
from syndication.stories.service import create_story, retract_story, update_story
from tests.servers import free_port, start_run, stop_run

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
NOW = datetime.now(UTC)


def _story(rt, **fields):
    with rt.db.write() as s:
        story = create_story(
            s, rt.settings, {"title": "T", "status": "published", **fields}, now=datetime.now(UTC)
        )
        return story.code, story_link(s, story.id).code


def _link(rt, **fields):
    with rt.db.write() as s:
        return create_link(
            s, {"url": "https://example.org/target?x=1", **fields}, now=datetime.now(UTC)
        ).code


def _get(client, path, ua=BROWSER, **headers):
    return client.get(path, headers={"User-Agent": ua, **headers})


def _count(rt, code=None, **where):
    rt.visits.flush()
    with rt.db.read() as s:
        q = select(func.count()).select_from(Visit).join(Link)
        if code:
            q = q.where(Link.code == code)
        for key, value in where.items():
            q = q.where(getattr(Visit, key) == value)
        return s.scalar(q)


def test_story_link_is_made_on_publish_short_and_unambiguous(rt):
    _, code = _story(rt)
    assert 4 <= len(code) <= 8
    assert set(code) <= set(ALPHABET)
    assert not set(code) & set("0O1lIo")
    with rt.db.write() as s:
        draft = create_story(s, rt.settings, {"title": "D"}, now=NOW)
        assert story_link(s, draft.id) is None


def test_story_link_never_changes(rt):
    story_code, code = _story(rt, code="55")
    with rt.db.write() as s:
        update_story(
            s,
            rt.settings,
            "55",
            {"title": "New title", "url": "https://x.test/a"},
            now=datetime.now(UTC),
        )
    with rt.db.read() as s:
        from syndication.stories.service import get_story

        assert story_link(s, get_story(s, story_code).id).code == code


def test_redirects_story_to_canonical_or_page_url(client, rt):
    _, own = _story(rt, code="s1")
    _, canon = _story(rt, code="s2", url="https://paper.example/a/b")
    r = _get(client, f"/s/{own}")
    assert r.status_code == 302 and r.headers["Location"] == "http://news.example.test/stories/s1"
    assert r.headers["Cache-Control"] == "private, no-store"
    assert _get(client, f"/s/{canon}").headers["Location"] == "https://paper.example/a/b"


def test_custom_link_redirect(client, rt):
    code = _link(rt, slug="spring-sale", title="Sale", tags=["promo"])
    r = _get(client, "/s/spring-sale")
    assert code == "spring-sale"
    assert r.status_code == 302 and r.headers["Location"] == "https://example.org/target?x=1"


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("admin", "reserved"),
        ("API", "reserved"),
        ("feeds", "reserved"),
        ("hub", "reserved"),
        ("s", "3-64"),
        ("stories", "reserved"),
        ("a b", "3-64"),
        ("-x-", "3-64"),
        ("x" * 65, "3-64"),
        ("émoji", "3-64"),
        ("../etc", "3-64"),
    ],
)
def test_bad_slugs_are_refused(rt, slug, message):
    with pytest.raises(ValidationError) as info, rt.db.write() as s:
        create_link(s, {"url": "https://example.org/", "slug": slug}, now=NOW)
    assert message in info.value.fields["slug"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "ftp://x.test/"}, "url"),
        ({}, "url"),
        ({"url": "https://x.test/", "max_visits": 0}, "max_visits"),
        ({"url": "https://x.test/", "valid_until": "2030-01-01T00:00:00"}, "valid_until"),
        ({"url": "https://x.test/", "colour": "red"}, "colour"),
    ],
)
def test_bad_links_are_refused(rt, data, field):
    with pytest.raises(ValidationError) as info, rt.db.write() as s:
        create_link(s, data, now=NOW)
    assert field in info.value.fields


def test_duplicate_slug_case_insensitive(rt):
    _link(rt, slug="Launch")
    with pytest.raises(Conflict), rt.db.write() as s:
        create_link(s, {"url": "https://example.org/", "slug": "launch"}, now=NOW)


def test_expired_exhausted_retracted_unknown(client, rt):
    expired = _link(rt, valid_until=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    assert _get(client, f"/s/{expired}").status_code == 410
    limited = _link(rt, max_visits=2)
    assert _get(client, f"/s/{limited}", ua=SLACK).status_code == 302  # bots don't use it up
    assert _get(client, f"/s/{limited}").status_code == 302
    rt.visits.flush()  # one counted in the database, one still buffered: both count
    assert _get(client, f"/s/{limited}").status_code == 302
    gone = _get(client, f"/s/{limited}")
    assert gone.status_code == 410 and "used up" in gone.get_data(as_text=True)
    assert _get(client, f"/s/{limited}", ua=SLACK).status_code == 410
    code, link = _story(rt, code="r1")
    with rt.db.write() as s:
        retract_story(s, rt.settings, code, now=datetime.now(UTC))
    retracted = _get(client, f"/s/{link}")
    assert retracted.status_code == 410 and "retracted" in retracted.get_data(as_text=True)
    assert _get(client, "/s/NoSuchCode").status_code == 404
    assert _get(client, "/s/..%2Fetc").status_code == 404
    assert _count(rt, limited) == 3  # every redirect recorded, 410s are not visits


def test_visits_record_medium_referrer_and_bots(client, rt):
    code = _link(rt)
    _get(client, f"/s/{code}", Referer="https://www.social.example/post/1")
    _get(client, f"/s/{code}?m=qr")
    _get(client, f"/s/{code}", ua=SLACK)
    _get(client, f"/s/{code}", ua="")
    assert _count(rt, code) == 4
    assert _count(rt, code, medium="qr") == 1
    assert _count(rt, code, is_bot=True) == 2
    with rt.db.read() as s:
        hosts = s.scalars(select(Visit.referrer_host).where(Visit.referrer_host.is_not(None)))
        assert list(hosts) == ["www.social.example"]
        assert s.scalar(select(Link.human_visits).where(Link.code == code)) == 2


@pytest.mark.parametrize("status", [301, 307, 308])
def test_configured_status_and_utm(db_url, tmp_path, status):
    app = create_app(
        database_url=db_url,
        base_url="http://n.test",
        instance_path=str(tmp_path),
        link_redirect_status=status,
        link_utm="utm_source=newslink&utm_medium={medium}",
    )
    rt = app.extensions["syndication"]
    try:
        code = _link(rt)
        client = app.test_client()
        r = _get(client, f"/s/{code}")
        assert r.status_code == status
        assert r.headers["Location"] == (
            "https://example.org/target?x=1&utm_source=newslink&utm_medium=link"
        )
        qr = _get(client, f"/s/{code}?m=qr").headers["Location"]
        assert qr.endswith("utm_medium=qr")
    finally:
        rt.visits.close()
        rt.db.dispose()


def test_exact_counts_under_concurrent_load(app, rt):
    """N requests from many threads against a real HTTP server = N visits after the flush."""
    code = _link(rt)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/s/{code}"
    n, bots = 400, 50

    def hit(i: int) -> int:
        ua = SLACK if i < bots else BROWSER
        with requests.Session() as session:
            return session.get(
                url, headers={"User-Agent": ua}, allow_redirects=False, timeout=10
            ).status_code

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(hit, range(n)))
    finally:
        server.shutdown()
    assert statuses == [302] * n
    assert _count(rt, code) == n
    assert _count(rt, code, is_bot=True) == bots
    with rt.db.read() as s:
        assert s.scalar(select(Link.human_visits).where(Link.code == code)) == n - bots


def test_counts_survive_a_restart(db_url, tmp_path, rt):
    """Visits still buffered when the server is stopped are flushed on the way out."""
    code = _link(rt)
    port = free_port()
    env = {
        **os.environ,
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_WORKERS": "2",
        "SYNDICATION_VISIT_FLUSH_INTERVAL": "60",
    }  # only the shutdown flush can write them
    proc = start_run(env, port)
    try:
        with requests.Session() as session:
            for _ in range(60):
                r = session.get(
                    f"http://127.0.0.1:{port}/s/{code}",
                    allow_redirects=False,
                    headers={"User-Agent": BROWSER},
                    timeout=5,
                )
                assert r.status_code == 302
        assert _count(rt, code) == 0, "nothing written before shutdown"
    finally:
        _, err = stop_run(proc, signal.SIGTERM)
    assert "Traceback" not in err, err
    assert _count(rt, code) == 60


def test_stats_api_and_cli(client, rt, db_url, tmp_path):
    code = _link(rt)
    _get(client, f"/s/{code}", Referer="https://a.example/x")
    _get(client, f"/s/{code}", Referer="https://a.example/y")
    _get(client, f"/s/{code}?m=qr")
    _get(client, f"/s/{code}", ua=SLACK)
    rt.visits.flush()
    with rt.db.write() as s:  # the stats API needs a reader token (tests/test_auth.py)
        _, token = create_token(s, "stats", "reader", now=NOW)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = client.get(f"/api/v1/links/{code}/stats?days=7").get_json()
    assert len(data["days"]) == 7
    today = data["days"][-1]
    assert today == {
        "date": datetime.now(UTC).date().isoformat(),
        "link": 3,
        "qr": 1,
        "human": 3,
        "bot": 1,
    }
    assert data["total"] == {"visits": 4, "link": 3, "qr": 1, "human": 3, "bot": 1}
    assert data["top_referrers"] == [{"host": "a.example", "visits": 2}]
    assert client.get("/api/v1/links/nope/stats").status_code == 404
    assert client.get(f"/api/v1/links/{code}/stats?days=0").status_code == 422
    env = {"SYNDICATION_DATABASE_URL": db_url, "SYNDICATION_INSTANCE_PATH": str(tmp_path)}
    out = CliRunner().invoke(cli, ["links", "stats", code], env=env)
    assert out.exit_code == 0
    assert "4 visits (3 link, 1 QR; 3 human, 1 bot)" in out.output
    assert "referrer a.example: 2" in out.output
    missing = CliRunner().invoke(cli, ["links", "stats", "nope"], env=env)
    assert missing.exit_code == 1 and "no short link" in missing.output


def test_cli_links_add_and_list(db_url, tmp_path):
    env = {
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path),
        "SYNDICATION_BASE_URL": "http://n.test",
    }
    added = CliRunner().invoke(
        cli,
        ["links", "add", "https://example.org/", "--slug", "promo", "--max-visits", "3"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert added.output.strip().splitlines()[-1] == "http://n.test/s/promo"
    again = CliRunner().invoke(
        cli, ["links", "add", "https://example.org/", "--slug", "promo"], env=env
    )
    assert again.exit_code == 1 and "taken" in again.output
    bad = CliRunner().invoke(cli, ["links", "add", "notaurl"], env=env)
    assert bad.exit_code == 1 and "url:" in bad.output
    listed = CliRunner().invoke(cli, ["links", "list"], env=env)
    assert "promo\t0\thttps://example.org/" in listed.output


def test_unknown_and_gone_links_are_html_pages(client, rt):
    expired = _link(rt, valid_until=(datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    for path, status, words in ((f"/s/{expired}", 410, "expired"), ("/s/zzzz9", 404, "no short")):
        r = _get(client, path)
        assert r.status_code == status
        assert r.mimetype == "text/html"
        assert words in r.get_data(as_text=True).lower()
    wrong = client.post(f"/s/{expired}")
    assert wrong.status_code == 405 and wrong.mimetype == "text/html"
    assert "GET" in wrong.headers["Allow"]


def test_redirect_fast_path_answers_like_the_route(app, client, rt):
    """Redirects are answered before Flask; the Flask route behind it decides the same way."""
    from flask import Flask
    from werkzeug.test import Client

    route_only = Client(lambda environ, start: Flask.wsgi_app(app, environ, start))
    code = _link(rt)
    for query in ("", "?m=qr", "?m=qr&utm_x=1"):
        fast = _get(client, f"/s/{code}{query}")
        slow = route_only.get(f"/s/{code}{query}", headers={"User-Agent": BROWSER})
        assert fast.status_code == slow.status_code == 302
        for header in ("Location", "Cache-Control"):
            assert fast.headers[header] == slow.headers[header]
    assert _count(rt, code) == 6
    assert _count(rt, code, medium="qr") == 4
