"""`Idempotency-Key` is honoured wherever the OpenAPI document advertises it, and advertised
wherever it is honoured, on SQLite and PostgreSQL: a retried secret rotation rotates once; every
advertised POST replays its first answer; the document and the views cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask_smorest.spec.plugins import FlaskPlugin

from syndication.api.idempotency import is_idempotent
from syndication.auth.tokens import create_token
from syndication.models import Subscriber
from tests.conftest import make_settings

NOW = datetime.now(UTC)
HOOK = "http://127.0.0.1:9/hook"
KEY = "Idempotency-Key"
# POST operations deliberately without Idempotency-Key, with the reason.
NOT_IDEMPOTENT = {
    "/api/v1/tokens": "a replay would store the token's value; only its hash is ever kept",
}


@pytest.fixture
def settings(db_url: str, tmp_path: Path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


@pytest.fixture
def admin(rt) -> dict[str, str]:
    with rt.db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, 'admin', 'admin', now=NOW)[1]}"}


def _subscriber(client, admin, name: str = "P") -> dict:
    r = client.post("/api/v1/subscribers", json={"name": name, "url": HOOK}, headers=admin)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def _stored_secret(rt, subscriber_id: int) -> str:
    with rt.db.read() as s:
        return s.get(Subscriber, subscriber_id).secret


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["error"]


# --- rotate-secret -----------------------------------------------------------------------------


def test_retried_rotation_rotates_once(client, admin, rt):
    sub = _subscriber(client, admin)
    other = _subscriber(client, admin, "Q")
    url = f"/api/v1/subscribers/{sub['id']}/rotate-secret"
    keyed = {**admin, KEY: "rotate-1"}

    first = client.post(url, headers=keyed)
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    secret = first.get_json()["secret"]
    assert secret != sub["secret"]

    again = client.post(url, headers=keyed)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _stored_secret(rt, sub["id"]) == secret  # rotated once

    # a different key is a different request: it rotates again
    fresh = client.post(url, headers={**admin, KEY: "rotate-2"})
    assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.get_json()["secret"] not in (secret, sub["secret"])
    assert _stored_secret(rt, sub["id"]) == fresh.get_json()["secret"]

    # the same key with another path, or with a body, is refused and does nothing
    before = _stored_secret(rt, other["id"])
    elsewhere = client.post(f"/api/v1/subscribers/{other['id']}/rotate-secret", headers=keyed)
    assert f"header.{KEY}" in _error(elsewhere, 422)["fields"]
    assert _stored_secret(rt, other["id"]) == before
    with_body = client.post(url, json={"x": 1}, headers=keyed)
    assert f"header.{KEY}" in _error(with_body, 422)["fields"]
    assert _stored_secret(rt, sub["id"]) == fresh.get_json()["secret"]


# --- every advertised POST replays -------------------------------------------------------------


Request = tuple[str, dict[str, Any] | None]


def _requests(client, admin) -> dict[str, Callable[[], Request]]:
    """How to make a concrete request for each POST operation of the document, by OpenAPI path.
    Each builder creates what the request needs (without a key) and returns (url, json)."""

    def story() -> str:
        r = client.post("/api/v1/stories", json={"title": "T", "section": "S"}, headers=admin)
        assert r.status_code == 201, r.get_data(as_text=True)
        return r.get_json()["code"]

    def published_story() -> str:
        code = story()
        assert client.post(f"/api/v1/stories/{code}/publish", headers=admin).status_code == 200
        return code

    def sub_url(action: str) -> Callable[[], str]:
        return lambda: f"/api/v1/subscribers/{_subscriber(client, admin)['id']}/{action}"

    def delivery() -> str:
        ping = client.post(sub_url("test")(), headers=admin)
        assert ping.status_code == 202, ping.get_data(as_text=True)
        return f"/api/v1/deliveries/{ping.get_json()['id']}/replay"

    def disabled_sub_enable() -> str:
        url = sub_url("disable")()
        assert client.post(url, json={}, headers=admin).status_code == 200
        return url.removesuffix("disable") + "enable"

    return {
        "/api/v1/stories": lambda: ("/api/v1/stories", {"title": "T", "section": "S"}),
        "/api/v1/stories/{code}/publish": lambda: (f"/api/v1/stories/{story()}/publish", None),
        "/api/v1/stories/{code}/retract": lambda: (
            f"/api/v1/stories/{published_story()}/retract",
            None,
        ),
        "/api/v1/channels": lambda: (
            "/api/v1/channels",
            {"slug": "sport", "title": "Sport", "filter": {"sections": ["Sport"]}},
        ),
        "/api/v1/links": lambda: ("/api/v1/links", {"url": "https://example.org/a"}),
        "/api/v1/subscribers": lambda: ("/api/v1/subscribers", {"name": "P", "url": HOOK}),
        "/api/v1/subscribers/{subscriber_id}/rotate-secret": lambda: (
            sub_url("rotate-secret")(),
            None,
        ),
        "/api/v1/subscribers/{subscriber_id}/test": lambda: (sub_url("test")(), None),
        "/api/v1/subscribers/{subscriber_id}/disable": lambda: (
            sub_url("disable")(),
            {"reason": "holiday"},
        ),
        "/api/v1/subscribers/{subscriber_id}/enable": lambda: (disabled_sub_enable(), None),
        "/api/v1/subscribers/{subscriber_id}/recover": lambda: (
            sub_url("recover")(),
            {"since": "2020-01-01T00:00:00+00:00"},
        ),
        "/api/v1/deliveries/{delivery_id}/replay": lambda: (delivery(), None),
    }


def _posts(client) -> dict[str, dict]:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    return {path: ops["post"] for path, ops in paths.items() if "post" in ops}


def _advertises(operation: dict) -> bool:
    return any(p["in"] == "header" and p["name"] == KEY for p in operation.get("parameters", []))


def test_every_post_advertises_the_key_but_the_excluded(client):
    posts = _posts(client)
    assert set(NOT_IDEMPOTENT) <= set(posts)  # the exclusions name real operations
    for path, operation in posts.items():
        assert _advertises(operation) == (path not in NOT_IDEMPOTENT), path


def test_advertised_exactly_where_the_view_is_idempotent(client, app):
    posts = _posts(client)
    seen = set()
    for rule in app.url_map.iter_rules():
        path = FlaskPlugin.flaskpath2openapi(rule.rule)
        if "POST" in rule.methods and path in posts:
            seen.add(path)
            view = app.view_functions[rule.endpoint]
            assert is_idempotent(view) == _advertises(posts[path]), path
    assert seen == set(posts)


def test_every_advertised_post_replays_its_first_answer(client, admin):
    advertised = {path for path, op in _posts(client).items() if _advertises(op)}
    builders = _requests(client, admin)
    # a new advertised operation needs a way to call it here
    assert advertised == set(builders)
    for n, path in enumerate(sorted(advertised)):
        url, body = builders[path]()
        keyed = {**admin, KEY: f"walk-{n}"}
        first = client.post(url, json=body, headers=keyed)
        assert 200 <= first.status_code < 300, (path, first.get_data(as_text=True))
        assert "Idempotent-Replayed" not in first.headers, path
        again = client.post(url, json=body, headers=keyed)
        assert again.status_code == first.status_code, path
        assert again.headers.get("Idempotent-Replayed") == "true", path
        assert again.get_data() == first.get_data(), path
        assert again.headers.get("Location") == first.headers.get("Location"), path


def test_token_creation_ignores_the_key(client, admin):
    keyed = {**admin, KEY: "tok"}
    one = client.post("/api/v1/tokens", json={"name": "a", "role": "reader"}, headers=keyed)
    two = client.post("/api/v1/tokens", json={"name": "a", "role": "reader"}, headers=keyed)
    assert one.status_code == two.status_code == 201
    assert "Idempotent-Replayed" not in two.headers
    assert one.get_json()["token"] != two.get_json()["token"]
