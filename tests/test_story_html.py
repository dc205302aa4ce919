"""Story HTML on SQLite and PostgreSQL: sanitising holds no write lock, bodies nested too deeply
are refused before nh3 sees them, and every URL attribute keeps only http(s) and mailto — on
the story page and in all three feeds."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html import unescape

import feedparser
import nh3
import pytest
from click.testing import CliRunner
from sqlalchemy import event, select

from syndication import db as db_module
from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.cli import cli
from syndication.db import Database
from syndication.errors import ValidationError
from syndication.imports.records import Record
from syndication.imports.runner import import_records
from syndication.models import Story
from syndication.stories import schema
from syndication.stories.service import create_story, get_story
from tests.conftest import make_settings
from tests.storyfactory import add_channel, add_story, parse_json

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
WAIT = 60  # seconds a test waits for another thread before it calls the run broken


def _maximal_body(settings) -> str:
    """As long and as deep as the settings allow: html_max_depth levels, to body_max."""
    depth = settings.html_max_depth
    unit = '<div><blockquote cite="notes">' + "<div>" * (depth - 2) + "x"
    unit += "</div>" * (depth - 2) + "</blockquote></div>"
    body = unit * (settings.body_max // len(unit))
    assert len(body) <= settings.body_max and len(body) > settings.body_max - len(unit)
    return body


@pytest.fixture
def editor(rt) -> dict[str, str]:
    with rt.db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, 'ed', 'editor', now=NOW)[1]}"}


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _sign_in(client, rt) -> str:
    """Sign `client` in to the web admin as a new admin; return its CSRF token."""
    with rt.db.write() as s:
        create_user(s, "root", PASSWORD, "admin", NOW)
    token = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    client.post(
        "/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": token}
    )
    return _csrf_of(client.get("/admin/").get_data(as_text=True))


@pytest.fixture
def admin_csrf(client, rt) -> str:
    return _sign_in(client, rt)


class PausedSanitiser:
    """Wraps the sanitiser the stories service calls: the first call stops on an Event."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        real = schema.clean_html

        def paused(html: str, **kwargs):
            if not self.started.is_set():
                self.started.set()
                assert self.release.wait(WAIT), "the test never released the sanitiser"
            return real(html, **kwargs)

        monkeypatch.setattr(schema, "clean_html", paused)


@pytest.fixture
def impatient_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A second connection pool that waits at most 1 s for any lock (SQLite busy timeout,
    PostgreSQL lock_timeout), as another process of the service would, but impatient."""
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 1000)
    other = Database(db_url)
    if not other.is_sqlite:

        @event.listens_for(other.engine, "connect")
        def _lock_timeout(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("SET lock_timeout = '1s'")
            cur.close()
            dbapi_conn.commit()

    yield other
    other.dispose()


def _in_thread(action: Callable[[], object]) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _saves(kind: str, app, rt, editor) -> Callable[[], object]:
    """A save of a maximal body by one of the service's ways in; returns what to check."""
    body = _maximal_body(rt.settings)
    if kind in ("api-patch", "admin-edit"):
        add_story(rt, {"code": "old", "title": "Old"}, now=NOW, status="draft")
    if kind == "api-post":
        return lambda: (
            app.test_client()
            .post("/api/v1/stories", json={"title": "Deep", "body_html": body}, headers=editor)
            .status_code
        )
    if kind == "api-patch":
        return lambda: (
            app.test_client()
            .patch("/api/v1/stories/old", json={"body_html": body}, headers=editor)
            .status_code
        )
    if kind == "import":
        record = Record("deep.jsonl:1", {"code": "imp", "title": "Deep", "body_html": body})
        return lambda: import_records(rt.db, rt.settings, [record], clock=lambda: NOW).line()
    client = app.test_client()
    csrf = _sign_in(client, rt)
    form = {"title": "Deep", "body_html": body, "status": "draft", "csrf_token": csrf}
    url = "/admin/stories/new" if kind == "admin-new" else "/admin/stories/old"
    return lambda: client.post(url, data=form).status_code


EXPECTED = {
    "api-post": 201,
    "api-patch": 200,
    "admin-new": 303,
    "admin-edit": 303,
    "import": "imported 1, updated 0, unchanged 0, failed 0",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_another_write_commits_while_a_maximal_body_is_sanitised(
    kind, app, rt, editor, impatient_db, monkeypatch
):
    save = _saves(kind, app, rt, editor)
    paused = PausedSanitiser(monkeypatch)
    thread, result = _in_thread(save)
    try:
        assert paused.started.wait(WAIT), result.get("error")
        # While the save is stopped inside the sanitiser, a story write from another pool
        # that gives up on any lock after 1 s (it would take the story code counter's lock,
        # and on SQLite the database's write lock) commits.
        with impatient_db.write() as s:
            create_story(s, rt.settings, {"title": "Meanwhile"}, now=NOW)
    finally:
        paused.release.set()
        thread.join(WAIT)
    assert "error" not in result, result.get("error")
    assert result["value"] == EXPECTED[kind]
    with rt.db.read() as s:
        code = {"api-patch": "old", "admin-edit": "old", "import": "imp"}.get(kind)
        if code is not None:
            assert "blockquote cite=" in get_story(s, code).body_html
    assert ("Meanwhile", 1) in _titles(rt)


def _titles(rt) -> list[tuple[str, int]]:
    with rt.db.read() as s:
        return list(Counter(s.scalars(select(Story.title))).items())


# --- nesting depth ------------------------------------------------------------------------------

DEEP = "<div>" * 100_000 + "x"  # 500 kB: within body_max


@pytest.fixture
def nh3_calls(monkeypatch) -> list[int]:
    """Counts calls of nh3.clean (the quadratic part) from now on."""
    calls: list[int] = []
    real = nh3.clean

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(nh3, "clean", counting)
    return calls


def test_deep_body_is_a_422_naming_body_html_without_running_nh3(client, rt, editor, nh3_calls):
    assert len(DEEP) < rt.settings.body_max
    response = client.post(
        "/api/v1/stories", json={"title": "Deep", "body_html": DEEP}, headers=editor
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert list(error["fields"]) == ["body_html"]
    assert "nested more than 256 elements deep" in error["fields"]["body_html"]
    assert "html_max_depth" in error["fields"]["body_html"]
    add_story(rt, {"code": "s1", "title": "Shallow"}, now=NOW, status="draft")
    nh3_calls.clear()
    patched = client.patch("/api/v1/stories/s1", json={"body_html": DEEP}, headers=editor)
    assert patched.status_code == 422 and "body_html" in patched.get_json()["error"]["fields"]
    assert nh3_calls == []
    with rt.db.read() as s:
        assert get_story(s, "s1").body_html == ""


def test_depth_limit_follows_the_setting_and_counts_only_real_nesting(db_url, tmp_path):
    app = create_app(make_settings(db_url, tmp_path, html_max_depth=8))
    rt = app.extensions["syndication"]
    try:
        # Sloppy but flat: unclosed paragraphs and list items are siblings, not nesting.
        flat = "<p>a<p>b" * 50 + "<ul>" + "<li>x<br>" * 50 + "</ul><!--" + "<div>" * 50 + "-->"
        nested = "<div>" * 8 + "<b>too deep</b>" + "</div>" * 8
        with rt.db.write() as s:
            create_story(s, rt.settings, {"code": "f", "title": "F", "body_html": flat}, now=NOW)
        with pytest.raises(ValidationError) as caught, rt.db.write() as s:
            create_story(s, rt.settings, {"title": "N", "body_html": nested}, now=NOW)
        assert caught.value.fields == {
            "body_html": "is nested more than 8 elements deep (setting html_max_depth); "
            "flatten the markup"
        }
    finally:
        rt.close()


def test_deep_body_in_the_admin_form_shows_the_error_by_the_field(
    client, rt, admin_csrf, nh3_calls
):
    nh3_calls.clear()
    response = client.post(
        "/admin/stories/new",
        data={"title": "Deep", "body_html": DEEP, "status": "draft", "csrf_token": admin_csrf},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "nested more than 256 elements deep" in page
    assert nh3_calls == []


def test_deep_body_in_an_import_is_reported_and_the_rest_stored(db_url, tmp_path, nh3_calls):
    path = tmp_path / "deep.jsonl"
    lines = [
        {"code": "a1", "title": "Before"},
        {"code": "a2", "title": "Deep", "body_html": DEEP},
        {"code": "a3", "title": "After", "body_html": "<p>fine</p>"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    env = {
        "SYNDICATION_DATABASE_URL": db_url,
        "SYNDICATION_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATION_BASE_URL": "http://news.example.test",
    }
    done = CliRunner().invoke(cli, ["import", str(path)], env=env, catch_exceptions=False)
    assert done.exit_code == 1
    assert (
        f"{path}:2: body_html: is nested more than 256 elements deep (setting html_max_depth)"
        in done.output
    )
    assert "imported 2, updated 0, unchanged 0, failed 1" in done.output
    assert len(nh3_calls) == 1  # the good body only


# --- URL attributes -----------------------------------------------------------------------------

HOSTILE_CITES = (
    '<blockquote cite="javascript:alert(1)">bq</blockquote>'
    '<q cite="data:text/html,&lt;script&gt;alert(2)&lt;/script&gt;">q</q>'
    '<del cite=" JaVa&#x09;ScRiPt:alert(3)">del</del>'
    '<ins cite="vbscript:msgbox(4)">ins</ins>'
    '<blockquote cite="notes/why?a=1&amp;b=2">relative</blockquote>'
    '<q cite="https://source.example/said">https</q>'
    '<ins cite="mailto:desk@news.example">mail</ins>'
    '<img src="a.png" srcset="javascript:x 1x" longdesc="javascript:x" alt="pic">'
    '<a href="//cdn.example/x" ping="javascript:y">cdn</a>'
)
WANT_CITES = [
    "http://news.example.test/stories/notes/why?a=1&b=2",
    "https://source.example/said",
    "mailto:desk@news.example",
]


def _cites(html: str) -> list[str]:
    """The cite values of an HTML fragment, as a browser reads them (entities decoded)."""
    return [unescape(v) for v in re.findall(r'\scite="([^"]*)"', html)]


def _no_active_urls(html: str) -> None:
    lowered = html.lower()
    for bad in ("javascript", "vbscript", "data:", "longdesc", "srcset", "ping="):
        assert bad not in lowered, bad


@pytest.fixture
def cited(rt) -> str:
    add_channel(rt, {"slug": "world", "title": "World"}, now=NOW)
    return add_story(rt, {"code": "c1", "title": "Cited", "body_html": HOSTILE_CITES}, now=NOW)


def test_url_attributes_on_the_story_page(client, cited):
    response = client.get(f"/stories/{cited}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    body = page[page.index("<blockquote") : page.index(">cdn</a>")]
    _no_active_urls(body)
    assert "javascript" not in page.lower()
    assert _cites(body) == WANT_CITES
    assert 'src="http://news.example.test/stories/a.png"' in body
    assert 'href="http://cdn.example/x"' in body  # scheme-relative, as the base


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_url_attributes_in_xml_feeds(client, cited, fmt):
    response = client.get(f"/feeds/world.{fmt}")
    assert response.status_code == 200
    # feedparser's own sanitising and URL resolution off: we check what we serve.
    parsed = feedparser.parse(response.data, sanitize_html=False, resolve_relative_uris=False)
    assert not parsed.bozo
    (entry,) = parsed.entries
    # RSS carries the body in <description> when the item has no separate summary.
    html = entry.content[0].value if "content" in entry else entry.summary
    _no_active_urls(html)
    assert _cites(html) == WANT_CITES
    assert "javascript" not in response.data.decode().lower()


def test_url_attributes_in_json_feed(client, cited):
    response = client.get("/feeds/world.json")
    assert response.status_code == 200
    (item,) = parse_json(response.data)["items"]
    _no_active_urls(item["content_html"])
    assert _cites(item["content_html"]) == WANT_CITES
    assert "javascript" not in response.data.decode().lower()
