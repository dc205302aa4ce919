"""Sign-in against hostile clients, on SQLite and PostgreSQL: `next` never leaves the site, the
failure limiter is exact under concurrent attempts and cannot be used to lock a user out from
elsewhere, the password check holds no database lock, and signing out ends the session on the
server."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from syndication import scheduler
from syndication.auth import signin_limiter, users
from syndication.auth.next_path import safe_next
from syndication.models import LoginAttempt

NOW = datetime.now(UTC)
PASSWORD = "correct horse battery"
HOME = "/admin/"


def _user(rt, username: str = "alice", role: str = "editor") -> None:
    with rt.db.write() as s:
        users.create_user(s, username, PASSWORD, role, now=NOW)


def _csrf(client) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _login(client, csrf: str, password: str = PASSWORD, address: str = "192.0.2.10"):
    return client.post(
        "/admin/login",
        data={"username": "alice", "password": password, "csrf_token": csrf},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def server(app) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1 (threaded, like the production server)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


class PasswordChecks:
    """Counts calls of the real password check (and can hold them at a gate)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.started = threading.Event()
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()
        self._real = users.verify_password
        monkeypatch.setattr(users, "verify_password", self)

    def __call__(self, password: str, stored: str) -> bool:
        with self._lock:
            self.count += 1
        self.started.set()
        if self.gate is not None:
            self.gate.wait()
        return self._real(password, stored)


# --- next -----------------------------------------------------------------------------------

# As sent on the wire in the form body (already percent-encoded): every one must end on the
# dashboard. Most become a path to another site once a browser or URL library has dropped
# tabs/CR/LF, read `\` as `/` or decoded one more round of percent-encoding.
HOSTILE_NEXT = [
    "/%09/evil.example/",  # TAB: werkzeug's Location became //evil.example/
    "/%0A/evil.example/",  # LF (a 500 before)
    "/%0D/evil.example/",  # CR
    "/%0D%0ASet-Cookie:%20x=1",  # header injection
    "/%00/evil.example/",  # NUL
    "/%7F/evil.example/",  # DEL
    "/%C2%85/evil.example/",  # NEL, a C1 control
    "/%2509/evil.example/",  # a percent-encoded TAB: /%09/evil.example/ after form decoding
    "/%250A/evil.example/",  # a percent-encoded LF
    "/%252F/evil.example/",  # /%2F/… : //evil.example/ once more decoded
    "/%25255C/evil.example/",  # a backslash under three layers of encoding
    "/%25252525252F/evil.example/",  # more layers than anyone links with
    "//evil.example/",
    "///evil.example/",
    "/%5Cevil.example/",  # /\evil.example/
    "%5C%5Cevil.example/",
    "/%255Cevil.example/",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "%20//evil.example/",
    "%09//evil.example/",
    "",
    "/" + "a" * 5000,
]
# (as sent on the wire, the Location expected)
LOCAL_NEXT = [
    ("/admin/stories%3Fstatus=draft%26q=x", "/admin/stories?status=draft&q=x"),
    ("/admin/stories?q=caf%C3%A9", "/admin/stories?q=caf%C3%A9"),
    ("/admin/stories?q=a%252Fb", "/admin/stories?q=a%2Fb"),  # a slash in a query value
    ("/admin/links/abc", "/admin/links/abc"),
]


def test_next_is_followed_only_to_paths_on_this_site(rt, server):
    _user(rt)
    http = requests.Session()
    for raw in HOSTILE_NEXT + [wire for wire, _ in LOCAL_NEXT]:
        form = http.get(f"{server}/admin/login?next={raw}", timeout=30)
        if "%00" in raw:
            # The input layer refuses a NUL in any query string before sign-in sees it.
            assert form.status_code == 400, raw
            continue
        assert form.status_code == 200, raw
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)[1]
        hidden = re.search(r'name="next" value="([^"]*)"', form.text)[1]
        body = (
            f"username=alice&password={quote_plus(PASSWORD)}"
            f"&csrf_token={quote_plus(token)}&next={raw}"
        )
        response = http.post(
            f"{server}/admin/login",
            data=body.encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303, (raw, response.status_code)
        expected = dict(LOCAL_NEXT).get(raw, HOME)
        assert response.headers["Location"] == expected, raw
        if expected == HOME:
            assert hidden == HOME, raw


@pytest.mark.parametrize(
    "value",
    ["/\t/evil.example/", "/\\/evil.example/", "/%09/x", "/%2F/x", "/\u0085/x", "\\\\x", None],
)
def test_safe_next_refuses(value):
    assert safe_next(value) == HOME


def test_safe_next_keeps_local_paths():
    for value in ["/", "/admin/", "/admin/stories?q=a:b", "/a//b", "/s/abc#top"]:
        assert safe_next(value) == value


# --- the failure limiter --------------------------------------------------------------------


def test_concurrent_wrong_passwords_cost_exactly_the_limit_of_checks(rt, server, monkeypatch):
    """40 wrong passwords at once from one address: exactly USER_LIMIT password checks, every
    other attempt refused with 429 before any check."""
    _user(rt)
    checks = PasswordChecks(monkeypatch)
    http = requests.Session()
    form = http.get(f"{server}/admin/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    cookies = http.cookies.get_dict()
    attempts = 40
    start = threading.Barrier(attempts)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        start.wait()
        response = requests.post(
            f"{server}/admin/login",
            data={"username": "alice", "password": "wrong password", "csrf_token": token},
            cookies=cookies,
            allow_redirects=False,
            timeout=120,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert checks.count == signin_limiter.USER_LIMIT
    assert sorted(statuses) == [422] * signin_limiter.USER_LIMIT + [429] * (
        attempts - signin_limiter.USER_LIMIT
    )


def test_a_stranger_cannot_lock_a_user_out_from_elsewhere(client, rt):
    _user(rt)
    csrf = _csrf(client)
    guesses = [_login(client, csrf, "wrong password", "203.0.113.9").status_code for _ in range(12)]
    limit = signin_limiter.USER_LIMIT
    assert guesses == [422] * limit + [429] * (12 - limit)
    assert _login(client, csrf, address="203.0.113.9").status_code == 429  # the guesser: locked
    assert _login(client, csrf, address="198.51.100.7").status_code == 303  # alice: signs in


def test_one_ipv6_prefix_counts_as_one_address(client, rt):
    """Picking new addresses out of one's own /64 does not buy more guesses."""
    _user(rt)
    csrf = _csrf(client)
    limit = signin_limiter.USER_LIMIT
    for i in range(limit):
        assert _login(client, csrf, "wrong password", f"2001:db8:1:2::{i + 1}").status_code == 422
    assert _login(client, csrf, "wrong password", "2001:db8:1:2::ffff").status_code == 429
    assert _login(client, csrf, address="2001:db8:1:3::1").status_code == 303


def test_odd_usernames_are_refused_without_a_5xx(client, rt):
    _user(rt)
    csrf = _csrf(client)
    # As sent on the wire: NUL (PostgreSQL cannot store it), a UTF-16 surrogate's bytes, huge.
    for username in ["a%00b", "%ED%A0%80", "x" * 100_000, "%20", "ALICE%09"]:
        response = client.post(
            "/admin/login",
            data=f"username={username}&password=wrong+password&csrf_token={csrf}",
            content_type="application/x-www-form-urlencoded",
        )
        # A NUL in a form is the input layer's 400; everything else the sign-in form's 422.
        assert response.status_code == (400 if "%00" in username else 422), username[:20]


def test_the_password_check_holds_no_database_lock(rt, monkeypatch, db_url):
    """While the (slow) password check runs, another writer gets the same counter rows at once:
    the attempt was counted and committed before the check."""
    _user(rt)
    checks = PasswordChecks(monkeypatch)
    checks.gate = threading.Event()
    result: list = []
    login = threading.Thread(
        target=lambda: result.append(users.verify_login(rt.db, "alice", PASSWORD, "192.0.2.1", NOW))
    )
    login.start()
    try:
        assert checks.started.wait(60)
        if rt.db.is_sqlite:
            # timeout=0: "database is locked" at once if anyone held the write lock.
            conn = sqlite3.connect(db_url.split(":///", 1)[1], timeout=0, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            assert conn.execute("SELECT count(*) FROM login_attempts").fetchone()[0] == 2
            conn.execute("ROLLBACK")
            conn.close()
        else:
            with rt.db.write() as s:
                rows = s.scalars(select(LoginAttempt).with_for_update(nowait=True)).all()
                assert len(rows) == 2 and all(r.attempts == 1 for r in rows)
    finally:
        checks.gate.set()
        login.join()
    assert result[0].ok


def test_prune_deletes_only_old_unlocked_counters(rt):
    _user(rt)
    for _ in range(signin_limiter.USER_LIMIT):
        users.verify_login(rt.db, "alice", "x", "192.0.2.1", NOW)
    users.verify_login(rt.db, "bob", "x", "192.0.2.2", NOW + timedelta(hours=23))
    scheduler.prune(rt)  # the hourly job: nothing is a day old yet
    later = NOW + signin_limiter.KEEP + timedelta(seconds=1)
    assert signin_limiter.prune(rt.db, later) == 2  # alice's pair and 192.0.2.1
    with rt.db.read() as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 2  # bob's


# --- signing out ----------------------------------------------------------------------------


def _cookie(client) -> str:
    cookie = client.get_cookie("syndication_session")
    assert cookie is not None
    return cookie.value


def _sent_to_sign_in(response) -> bool:
    """Not signed in: an admin page sends to the sign-in form."""
    return response.status_code == 303 and response.headers["Location"].startswith("/admin/login?")


def test_signing_out_ends_the_session_on_the_server(app, client, rt):
    _user(rt)
    assert _login(client, _csrf(client)).status_code == 303
    copied = _cookie(client)
    other_browser = app.test_client()
    assert _login(other_browser, _csrf(other_browser)).status_code == 303

    thief = app.test_client()
    thief.set_cookie("syndication_session", copied)
    assert thief.get("/api/v1/links/x/stats").status_code == 404  # signed in (no such link)
    assert thief.get("/admin/").status_code == 200

    response = client.post("/admin/logout", data={"csrf_token": _csrf(client)})
    assert response.status_code == 303

    assert thief.get("/api/v1/links/x/stats").status_code == 401
    assert _sent_to_sign_in(thief.get("/admin/"))
    # Signing out ends every session of the user: the other browser is signed out too.
    assert _sent_to_sign_in(other_browser.get("/admin/"))
    # Signing in again works, with a cookie the copy cannot stand in for.
    assert _login(client, _csrf(client)).status_code == 303
    assert client.get("/admin/").status_code == 200
    thief.set_cookie("syndication_session", copied)
    assert _sent_to_sign_in(thief.get("/admin/"))
