"""Authentication and roles, on SQLite and PostgreSQL: API tokens, the guard on every route
(a walk of Flask's url_map), web admin sign-in with rate limiting, sessions and CSRF."""

from __future__ import annotations

import re
import stat
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Blueprint, Response
from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter, PathConverter

from syndication.app import create_app
from syndication.auth import access, signin_limiter, users
from syndication.auth.passwords import verify_password
from syndication.auth.roles import PARTNER, RANKS, allows
from syndication.auth.tokens import authenticate_token, create_token
from syndication.cli import cli
from syndication.config import load_settings
from syndication.models import ApiToken, LoginAttempt, User

NOW = datetime.now(UTC)
PASSWORD = "correct horse battery"

# Every endpoint anyone may call without credentials. Making a route public means changing
# this list on purpose.
PUBLIC_ENDPOINTS = {
    "static",
    "feeds.feed",
    "feeds.opml",
    "pages.home",
    "pages.channel_page",
    "pages.story_page",
    "pages.healthz",
    "pages.brand_css",  # /brand.css: the site_accent custom property
    "links.follow",
    "qr.qr_image",
    "auth.login",
    "auth.logout",
    "hub.hub",  # POST /hub: the WebSub hub (subscribe, unsubscribe, publish)
    "api_docs.openapi_json",  # /api/v1/openapi.json
    "api_docs.swagger_ui",  # /api/docs
    "sitemaps.news",  # /sitemaps/news.xml
    "sitemaps.index",  # /sitemap.xml
    "sitemaps.stories",  # /sitemaps/stories-<n>.xml
    "sitemaps.robots",  # /robots.txt
    "media.media",  # /media/<sha256>.<ext>: uploaded images, shown on public pages
    # /metrics: public to the role guard (no session or API token fits a scraper); the view
    # checks metrics_allow / metrics_token itself (ops/scrape_access.py, test_ops_metrics.py).
    "ops.metrics",
    "ops.ready",  # /ready: for load balancers; states of its checks only
}


def _token(rt, role: str, name: str = "t") -> str:
    with rt.db.write() as s:
        return create_token(s, name, role, now=NOW)[1]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _user(rt, username: str = "alice", role: str = "editor", password: str = PASSWORD) -> None:
    with rt.db.write() as s:
        users.create_user(s, username, password, role, now=NOW)


def _csrf(client) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _login(client, username: str = "alice", password: str = PASSWORD, csrf: str | None = None):
    csrf = csrf or _csrf(client)
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": csrf},
    )


def _cli_env(db_url, tmp_path):
    return {"SYNDICATION_DATABASE_URL": db_url, "SYNDICATION_INSTANCE_PATH": str(tmp_path)}


# --- API tokens -------------------------------------------------------------------------------


def test_token_cli_prints_token_alone_on_last_line_and_stores_only_a_hash(rt, db_url, tmp_path):
    env = _cli_env(db_url, tmp_path)
    out = CliRunner().invoke(cli, ["token", "create", "--name", "ci", "--role", "editor"], env=env)
    assert out.exit_code == 0, out.output
    plaintext = out.output.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"syn_[A-Za-z0-9_-]{43}", plaintext)
    assert "not shown again" in out.output

    with rt.db.read() as s:
        rows = s.execute(text("SELECT * FROM api_tokens")).all()
    assert len(rows) == 1
    secret = plaintext.removeprefix("syn_")
    for value in rows[0]:
        assert plaintext not in str(value) and secret not in str(value)
    assert rows[0]._mapping["prefix"] == plaintext[:10]

    listing = CliRunner().invoke(cli, ["token", "list"], env=env)
    assert listing.exit_code == 0
    assert "ci\teditor\t" + plaintext[:10] in listing.output and secret not in listing.output

    revoked = CliRunner().invoke(cli, ["token", "revoke", str(rows[0].id)], env=env)
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    with rt.db.read() as s:
        assert s.scalar(select(ApiToken.revoked_at)) is not None
    missing = CliRunner().invoke(cli, ["token", "revoke", "999"], env=env)
    assert missing.exit_code == 1 and "no API token with id 999" in missing.output
    bad = CliRunner().invoke(cli, ["token", "create", "--name", "x", "--role", "root"], env=env)
    assert bad.exit_code == 2


def test_bearer_token_authenticates_and_records_use(client, rt):
    token = _token(rt, "reader")
    response = client.get("/api/v1/links/nope/stats", headers=_bearer(token))
    assert response.status_code == 404  # past the guard: the view answered
    with rt.db.read() as s:
        first_use = s.scalar(select(ApiToken.last_used_at))
    assert first_use is not None
    client.get("/api/v1/links/nope/stats", headers=_bearer(token))
    with rt.db.read() as s:  # written at most once a minute
        assert s.scalar(select(ApiToken.last_used_at)) == first_use
    with rt.db.write() as s:
        later = first_use + timedelta(minutes=2)
        assert authenticate_token(s, token, now=later).last_used_at == later
        assert authenticate_token(s, token + "x", now=later) is None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer syn_" + "A" * 43,  # well-formed, unknown
        "Bearer not-a-token",
        "Bearer ",
        "Basic YWxpY2U6cHc=",
        "Bearer",
    ],
)
def test_unknown_or_malformed_tokens_are_401(client, rt, header):
    _token(rt, "admin")
    response = client.get("/api/v1/links/x/stats", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"].replace(
        "error=invalid_token", 'error="invalid_token"'
    )
    body = response.get_json()
    assert body["error"]["code"] == "unauthorized" and body["error"]["fields"] == {}


def test_revoked_token_is_401(client, rt):
    with rt.db.write() as s:
        row, token = create_token(s, "old", "admin", now=NOW)
        token_id = row.id
    assert client.get("/api/v1/links/x/stats", headers=_bearer(token)).status_code == 404
    with rt.db.write() as s:
        s.get(ApiToken, token_id).revoked_at = NOW
    assert client.get("/api/v1/links/x/stats", headers=_bearer(token)).status_code == 401


# --- The guard ----------------------------------------------------------------------------------


def _probe_routes(app) -> None:
    """Routes the way future features will declare them, to prove the roles on each kind."""
    bp = Blueprint("probe", __name__)

    def ok() -> Response:
        return Response("ok")

    bp.add_url_rule("/api/v1/_probe/admin", "admin_only", ok, methods=["GET", "POST"])
    bp.add_url_rule(
        "/api/v1/_probe/stories",
        "stories",
        access.requires(read="reader", write="editor")(lambda: Response("ok")),
        methods=["GET", "POST", "PATCH"],
    )
    bp.add_url_rule(
        "/api/v1/_probe/<int:item>",
        "editor",
        access.requires("editor")(lambda item: Response("ok")),
        methods=["GET", "DELETE"],
    )
    bp.add_url_rule("/admin/_probe", "admin_page", ok, methods=["GET", "POST"])
    bp.add_url_rule(
        "/admin/_probe/edit",
        "editor_page",
        access.requires("editor")(lambda: Response("ok")),
        methods=["GET", "POST"],
    )
    app.register_blueprint(bp)


def _url_for_rule(app, rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 987654  # no such row: a view that is let through answers 404
        elif isinstance(converter, PathConverter):
            values[name] = "dummy/x.css"
        else:
            values[name] = "dummy1"
    return app.url_map.bind("localhost").build(rule.endpoint, values, force_external=False)


def _walk(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, _url_for_rule(app, rule)


def _send(client, method, url, **kwargs):
    if method in ("POST", "PATCH", "PUT"):  # invalid input: auth must answer before validation
        kwargs.setdefault("data", b'{"not": json')
        kwargs.setdefault("content_type", "application/json")
    return client.open(url, method=method, **kwargs)


def test_public_endpoints_are_exactly_the_allow_list(app):
    _probe_routes(app)
    declared_public = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if any(
            access.required_role(app, rule.endpoint, m) is None
            for m in rule.methods - {"HEAD", "OPTIONS"}
        )
    }
    assert declared_public == PUBLIC_ENDPOINTS


def test_every_route_is_guarded(app, client, rt):
    """Walk url_map: public routes never answer 401/403; every other route answers 401 without
    credentials (before looking at its input; an admin page opened in a browser, GET or HEAD,
    sends to the sign-in form instead), 403 to a reader when it needs more, and lets
    through a token whose role is high enough."""
    _probe_routes(app)
    tokens = {role: _token(rt, role, name=role) for role in RANKS}
    checked = 0
    for rule, method, url in _walk(app):
        need = access.required_role(app, rule.endpoint, method)
        where = f"{method} {url} ({rule.endpoint})"
        anonymous = _send(client, method, url)
        if need is None:
            assert anonymous.status_code not in (401, 403), where
            continue
        checked += 1
        if not url.startswith("/api/") and method in ("GET", "HEAD"):
            assert anonymous.status_code == 303, where
            assert anonymous.headers["Location"].startswith("/admin/login"), where
        else:
            assert anonymous.status_code == 401, where
        if url.startswith("/api/"):
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer"), where
            assert anonymous.get_json()["error"]["code"] == "unauthorized", where
        elif anonymous.status_code == 401:
            assert anonymous.mimetype == "text/html", where
            assert "/admin/login" in anonymous.get_data(as_text=True), where
        for role, token in tokens.items():
            if not allows(role, need):  # the partner role is no rank: see the partner walk
                response = _send(client, method, url, headers=_bearer(token))
                assert response.status_code == 403, f"{where} as {role}"
                if url.startswith("/api/"):
                    assert response.get_json()["error"]["code"] == "forbidden"
                else:
                    assert response.mimetype == "text/html"
            else:
                # A fresh token: a view let through earlier may have revoked one (no such row
                # is meant to exist, but the walk must not depend on every view's side effects).
                fresh = _bearer(_token(rt, role, name=f"walk {role}"))
                response = _send(client, method, url, headers=fresh)
                assert response.status_code not in (401, 403), f"{where} as {role}"
    assert checked >= 12  # the stats API and the probes, per method


# Path values that name a row partner A owns, by the converter's name; anything else is 987654.
OWNED = {"subscriber_id": "sub_a", "delivery_id": "delivery_a", "partner_id": "a"}


def _url_with(app, rule, ids: dict[str, int]) -> tuple[str, bool]:
    """The rule's URL with partner A's rows where it names one (OWNED); and whether it does."""
    values: dict[str, object] = {}
    owned = False
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            owned = owned or name in OWNED
            values[name] = ids[OWNED[name]] if name in OWNED else 987654
        elif isinstance(converter, PathConverter):
            values[name] = "dummy/x.css"
        else:
            values[name] = "dummy1"
    url = app.url_map.bind("localhost").build(rule.endpoint, values, force_external=False)
    return url, owned


def _refused_to_a_partner(response, url: str, where: str) -> None:
    assert response.status_code == 403, where
    if url.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "forbidden", where
    else:  # the newsroom's pages: a page that points to the portal
        assert response.mimetype == "text/html" and 'href="/portal/"' in response.get_data(
            as_text=True
        ), where


def test_every_route_as_partners(app, rt):
    """Walk url_map with real rows: partner A's endpoint, delivery and partner in every path
    that names one. Every admin, API and future route not declared for the partner role
    answers 403 to partner A's and B's tokens and to A's signed-in session; every route
    declared for it (the portal, a partner API) lets A through, and answers B 404 where the
    path names A's rows (B cannot tell them from rows that do not exist); anonymous callers
    are sent to sign in (GET of a page) or refused (401)."""
    from tests.test_portal import portal_world, sign_in

    _probe_routes(app)
    ids = portal_world(rt)
    with rt.db.write() as s:
        token_of = {
            key: create_token(s, f"partner {key}", PARTNER, now=NOW, partner_id=ids[key])[1]
            for key in ("a", "b")
        }
    anonymous, signed_in = app.test_client(), app.test_client()
    assert sign_in(signed_in, "pa").status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', signed_in.get("/portal/").get_data(
        as_text=True
    ))[1]  # fmt: skip
    partner_routes = 0
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            need = access.required_role(app, rule.endpoint, method)
            if need is None:
                continue
            url, owned = _url_with(app, rule, ids)
            where = f"{method} {url} ({rule.endpoint})"
            refused = _send(anonymous, method, url)
            if not url.startswith("/api/") and method == "GET":
                assert refused.status_code == 303, where
                assert refused.headers["Location"].startswith("/admin/login?next="), where
            else:
                assert refused.status_code == 401, where
            as_a = _send(anonymous, method, url, headers=_bearer(token_of["a"]))
            as_b = _send(anonymous, method, url, headers=_bearer(token_of["b"]))
            by_session = _send(signed_in, method, url, headers={"X-CSRF-Token": csrf})
            if need != PARTNER:
                for response in (as_a, as_b, by_session):
                    _refused_to_a_partner(response, url, where)
                continue
            partner_routes += 1
            for response in (as_a, by_session):
                assert response.status_code not in (401, 403, 404), f"{where} as A"
            if owned:
                assert as_b.status_code == 404, f"{where} as B"
            else:
                assert as_b.status_code not in (401, 403), f"{where} as B"
    assert partner_routes >= 9  # the portal's pages and actions, per method


def test_roles_on_writes_and_admin_only_routes(app, client, rt):
    _probe_routes(app)
    reader, editor, admin = (_token(rt, r, name=r) for r in ("reader", "editor", "admin"))
    assert client.get("/api/v1/_probe/stories", headers=_bearer(reader)).status_code == 200
    assert client.post("/api/v1/_probe/stories", headers=_bearer(reader)).status_code == 403
    assert client.post("/api/v1/_probe/stories", headers=_bearer(editor)).status_code == 200
    assert client.get("/api/v1/_probe/admin", headers=_bearer(editor)).status_code == 403
    assert client.get("/api/v1/_probe/admin", headers=_bearer(admin)).status_code == 200
    assert client.delete("/api/v1/_probe/7", headers=_bearer(reader)).status_code == 403
    assert client.delete("/api/v1/_probe/7", headers=_bearer(editor)).status_code == 200
    # A bearer token works on /admin too, and needs no CSRF token (no cookie involved).
    assert client.post("/admin/_probe", headers=_bearer(admin)).status_code == 200


def test_requires_rejects_unknown_roles():
    with pytest.raises(ValueError, match="unknown role"):
        access.requires("root")


# --- Web admin sign-in --------------------------------------------------------------------------


def _set_cookie(response) -> str:
    cookies = [v for v in response.headers.getlist("Set-Cookie") if "syndication_session=" in v]
    assert len(cookies) == 1
    return cookies[0]


def test_login_sets_a_hardened_session_cookie_and_logout_clears_it(client, rt):
    _user(rt, "Alice", role="reader")
    response = _login(client, "alice")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    cookie = _set_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    # The session authenticates the API too (reads need no CSRF token).
    assert client.get("/api/v1/links/x/stats").status_code == 404
    with rt.db.read() as s:
        assert s.scalar(select(User.last_login_at)) is not None

    assert client.post("/admin/logout").status_code == 400  # CSRF token required
    csrf = _csrf(client)
    response = client.post("/admin/logout", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    assert _set_cookie(response).startswith("syndication_session=;")  # deleted
    assert client.get("/api/v1/links/x/stats").status_code == 401


def test_session_cookie_is_secure_when_base_url_is_https(settings, rt):
    _user(rt)
    secure_app = create_app(load_settings({**asdict(settings), "base_url": "https://n.example"}))
    try:
        client = secure_app.test_client()
        response = _login(client)
        assert response.status_code == 303
        cookie = _set_cookie(response)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        secure_app.extensions["syndication"].visits.close()
        secure_app.extensions["syndication"].db.dispose()


def test_wrong_password_shows_the_form_again_with_the_username(client, rt):
    _user(rt)
    response = _login(client, "alice", "wrong password")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Wrong username or password." in page
    assert 'value="alice"' in page and 'autocomplete="current-password"' in page
    unknown = _login(client, "nobody", "wrong password")  # same answer: no enumeration
    assert unknown.status_code == 422 and "Wrong username or password." in unknown.get_data(
        as_text=True
    )
    with rt.db.read() as s:
        counters = s.scalars(select(LoginAttempt.attempts).order_by(LoginAttempt.attempts)).all()
    assert counters == [1, 1, 2]  # one per address and username, one for the address


def test_sixth_rapid_failure_is_refused_even_with_the_right_password(client, rt):
    _user(rt)
    csrf = _csrf(client)
    for _ in range(signin_limiter.USER_LIMIT):
        assert _login(client, "alice", "nope nope", csrf).status_code == 422
    refused = _login(client, "alice", PASSWORD, csrf)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # The limit is per address and user: alice signs in from anywhere else.
    elsewhere = client.post(
        "/admin/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert elsewhere.status_code == 303


def test_per_address_limit_across_usernames(client, rt):
    _user(rt, "bob")
    csrf = _csrf(client)
    for i in range(signin_limiter.ADDRESS_LIMIT):
        assert _login(client, f"guess{i}", "nope nope", csrf).status_code == 422
    assert _login(client, "bob", PASSWORD, csrf).status_code == 429
    # bob from somewhere else is fine: his own count is zero.
    response = client.post(
        "/admin/login",
        data={"username": "bob", "password": PASSWORD, "csrf_token": csrf},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert response.status_code == 303


@pytest.mark.parametrize("trusted", [0, 1])
def test_address_behind_a_trusted_proxy(db_url, tmp_path, rt, trusted):
    """Behind one trusted proxy the client is X-Forwarded-For's last hop, so one guesser does
    not lock everybody out; with none trusted the header is ignored (anyone can send it)."""
    from .conftest import make_settings

    _user(rt, "bob")
    app = create_app(make_settings(db_url, tmp_path, trusted_proxies=trusted))
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    csrf = _csrf(client)

    def login(username, password, client_ip):
        return client.post(
            "/admin/login",
            data={"username": username, "password": password, "csrf_token": csrf},
            headers={"X-Forwarded-For": client_ip},
            environ_base=proxy,
        )

    for i in range(signin_limiter.ADDRESS_LIMIT):
        assert login(f"guess{i}", "nope nope", "203.0.113.9").status_code == 422
    expected = 303 if trusted else 429
    assert login("bob", PASSWORD, "198.51.100.7").status_code == expected


def test_backoff_grows_and_success_clears_the_pairs_attempts(rt):
    _user(rt)
    limit = signin_limiter.USER_LIMIT

    def login(password, at):
        return users.verify_login(rt.db, "alice", password, "192.0.2.1", at)

    for i in range(limit):
        assert login("x", NOW + timedelta(seconds=i)).error == "invalid"
    last = NOW + timedelta(seconds=limit - 1)
    locked = login(PASSWORD, last + timedelta(seconds=30))
    assert locked.error == "throttled" and locked.retry_after == 30
    # After the first backoff (1 minute), one more failure locks for 2 minutes.
    later = last + timedelta(seconds=61)
    assert login("x", later).error == "invalid"
    locked = login(PASSWORD, later + timedelta(seconds=90))
    assert locked.error == "throttled" and locked.retry_after == 30
    ok = login(PASSWORD, later + timedelta(minutes=2, seconds=1))
    assert ok.ok and ok.user.username == "alice"
    with rt.db.read() as s:
        counters = dict(s.execute(select(LoginAttempt.key, LoginAttempt.attempts)).all())
    pair, address = signin_limiter.keys_for("alice", "192.0.2.1")
    # The pair starts again; the address keeps its failures, not the success.
    assert counters == {pair.name: 0, address.name: limit + 1}


def test_disabled_user_cannot_sign_in_and_loses_the_session(client, rt, db_url, tmp_path):
    _user(rt, role="admin")
    assert _login(client).status_code == 303
    assert client.get("/api/v1/links/x/stats").status_code == 404
    env = _cli_env(db_url, tmp_path)
    assert CliRunner().invoke(cli, ["user", "disable", "alice"], env=env).exit_code == 0
    assert client.get("/api/v1/links/x/stats").status_code == 401
    assert _login(client).status_code == 422


# --- CSRF ----------------------------------------------------------------------------------------


def test_csrf_required_on_admin_posts(app, client, rt):
    _probe_routes(app)
    _user(rt, role="admin")
    csrf = _csrf(client)
    assert (
        client.post("/admin/login", data={"username": "alice", "password": PASSWORD}).status_code
        == 400
    )
    assert _login(client, csrf=csrf).status_code == 303
    # Signing in starts a new session with a new token: the old one no longer works.
    assert client.post("/admin/_probe", data={"csrf_token": csrf}).status_code == 400
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert token != csrf
    rejected = client.post("/admin/_probe", data={"title": "x"})
    assert rejected.status_code == 400 and rejected.mimetype == "text/html"
    assert "CSRF" in rejected.get_data(as_text=True)
    assert client.post("/admin/_probe", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/admin/_probe", data={"csrf_token": token}).status_code == 200
    assert client.post("/admin/_probe", headers={"X-CSRF-Token": token}).status_code == 200
    # Session-authenticated API writes need the header as well.
    assert client.post("/api/v1/_probe/admin", json={}).status_code == 400
    assert client.post("/api/v1/_probe/admin", headers={"X-CSRF-Token": token}).status_code == 200


def test_reader_session_gets_403_on_admin_page(app, client, rt):
    _probe_routes(app)
    _user(rt, role="reader")
    assert _login(client).status_code == 303
    response = client.get("/admin/_probe")
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert client.get("/admin/_probe/edit").status_code == 403


# --- Users ----------------------------------------------------------------------------------------


def test_user_cli_stores_a_slow_hash_never_the_password(rt, db_url, tmp_path):
    env = _cli_env(db_url, tmp_path)
    args = ["user", "create", "--username", "Carol", "--role", "admin", "--password-stdin"]
    out = CliRunner().invoke(cli, args, input=PASSWORD + "\n", env=env)
    assert out.exit_code == 0, out.output
    assert "Created user 'carol' with role admin." in out.output
    with rt.db.read() as s:
        row = s.execute(text("SELECT * FROM users")).one()._mapping
    assert all(PASSWORD not in str(v) for v in row.values())
    assert row["password_hash"].startswith("scrypt$n=")
    assert verify_password(PASSWORD, row["password_hash"])
    assert not verify_password(PASSWORD + "!", row["password_hash"])

    again = CliRunner().invoke(cli, args, input=PASSWORD + "\n", env=env)
    assert again.exit_code == 1 and "username: already taken" in again.output
    short = CliRunner().invoke(
        cli, ["user", "create", "--username", "dan", "--role", "editor"], input="short\n", env=env
    )
    assert short.exit_code == 1 and "password: must be 8 to 1024 characters" in short.output
    listing = CliRunner().invoke(cli, ["user", "list"], env=env)
    assert "carol\tadmin\t" in listing.output


def test_secret_key_is_generated_once_and_private(app, settings):
    path = settings.instance_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert app.secret_key == path.read_text().strip() and len(app.secret_key) >= 32
    other = create_app(settings)
    try:
        assert other.secret_key == app.secret_key  # every worker signs with the same key
    finally:
        other.extensions["syndication"].visits.close()
        other.extensions["syndication"].db.dispose()
