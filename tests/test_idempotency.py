"""`Idempotency-Key` is honoured wherever the OpenAPI document advertises it, and advertised
wherever it is honoured, on SQLite and PostgreSQL: a retried secret rotation rotates once; every
advertised POST replays its first answer (secrets withheld, never stored); the document and the
views cannot drift apart; an empty key is refused; a claim left by a dead request is taken over
once the claim timeout has passed (on the injected clock)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask_smorest.spec.plugins import FlaskPlugin
from sqlalchemy import func, select

from syndication.api.idempotency import fingerprint, is_idempotent
from syndication.auth.tokens import create_token
from syndication.models import IdempotencyKey, Subscriber
from tests.conftest import make_settings
from tests.pushkit import FakeClock

NOW = datetime.now(UTC)
HOOK = "http://127.0.0.1:9/hook"
KEY = "Idempotency-Key"
# POST operations deliberately without Idempotency-Key, with the reason.
NOT_IDEMPOTENT = {
    "/api/v1/tokens": "a replay would store the token's value; only its hash is ever kept",
    "/api/v1/media": "content-addressed: the same image again is the same media (200), and a"
    " multipart body's boundary differs on every retry, so no fingerprint would match",
}
# POST operations whose answer holds a secret: their replay withholds it.
WITHHOLDS_SECRET = {
    "/api/v1/subscribers",
    "/api/v1/subscribers/{subscriber_id}/rotate-secret",
}
CLAIM_TIMEOUT = 60


@pytest.fixture
def settings(db_url: str, tmp_path: Path):
    return make_settings(
        db_url, tmp_path, outbound_allow="127.0.0.1", idempotency_claim_timeout=CLAIM_TIMEOUT
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clocked_app):
    return clocked_app


@pytest.fixture
def admin_token(rt) -> tuple[int, str]:
    with rt.db.write() as s:
        token, value = create_token(s, "admin", "admin", now=NOW)
        return token.id, value


@pytest.fixture
def admin(admin_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token[1]}"}


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


def _withheld(answer: dict) -> dict:
    """The replay of a secret-bearing answer, as documented: no secret, and how to rotate."""
    rotate = f"POST /api/v1/subscribers/{answer['id']}/rotate-secret"
    return {
        **answer,
        "secret": None,
        "secret_withheld": "The secret is never kept for replays. If you did not receive it, "
        f"get a new one: {rotate} (with a new Idempotency-Key).",
    }


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
    assert again.get_json() == _withheld(first.get_json())
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

    partners = itertools.count(1)

    def partner() -> int:
        made = client.post("/api/v1/partners", json={"name": f"P{next(partners)}"}, headers=admin)
        assert made.status_code == 201, made.get_data(as_text=True)
        return made.get_json()["id"]

    def disabled_sub_enable() -> str:
        url = sub_url("disable")()
        assert client.post(url, json={}, headers=admin).status_code == 200
        return url.removesuffix("disable") + "enable"

    return {
        "/api/v1/stories": lambda: ("/api/v1/stories", {"title": "T", "section": "S"}),
        "/api/v1/stories/{code}/publish": lambda: (f"/api/v1/stories/{story()}/publish", None),
        "/api/v1/stories/{code}/kill": lambda: (
            f"/api/v1/stories/{published_story()}/kill",
            {"reason": "court order"},
        ),
        "/api/v1/stories/{code}/retract": lambda: (
            f"/api/v1/stories/{published_story()}/retract",
            None,
        ),
        "/api/v1/stories/{code}/corrections": lambda: (
            f"/api/v1/stories/{published_story()}/corrections",
            {"text": "The date was wrong."},
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
        "/api/v1/partners": lambda: ("/api/v1/partners", {"name": f"Q{next(partners)}"}),
        "/api/v1/partners/{partner_id}/subscribers": lambda: (
            f"/api/v1/partners/{partner()}/subscribers",
            {"subscriber_ids": [_subscriber(client, admin)["id"]]},
        ),
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
        if path in WITHHOLDS_SECRET:
            assert again.get_json() == _withheld(first.get_json()), path
        else:
            assert again.get_data() == first.get_data(), path
        assert again.headers.get("Location") == first.headers.get("Location"), path


def test_token_creation_ignores_the_key(client, admin):
    keyed = {**admin, KEY: "tok"}
    one = client.post("/api/v1/tokens", json={"name": "a", "role": "reader"}, headers=keyed)
    two = client.post("/api/v1/tokens", json={"name": "a", "role": "reader"}, headers=keyed)
    assert one.status_code == two.status_code == 201
    assert "Idempotent-Replayed" not in two.headers
    assert one.get_json()["token"] != two.get_json()["token"]


# --- bad keys ----------------------------------------------------------------------------------


def test_an_empty_or_overlong_key_is_a_400_and_nothing_is_done(client, admin, rt):
    advertised = sorted(path for path, op in _posts(client).items() if _advertises(op))
    builders = _requests(client, admin)
    for path in advertised:
        url, body = builders[path]()
        for bad in ("", "   ", "k" * 256):
            with rt.db.read() as s:
                before = s.scalar(select(func.count()).select_from(Subscriber))
            r = client.post(url, json=body, headers={**admin, KEY: bad})
            error = _error(r, 400)
            assert error["code"] == "bad_request", path
            assert f"header.{KEY}" in error["fields"], (path, error)
            with rt.db.read() as s:
                assert s.scalar(select(func.count()).select_from(Subscriber)) == before, path
                assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 0, path


# --- a claim left by a dead request ------------------------------------------------------------


def test_a_claim_left_by_a_dead_request_is_taken_over_after_the_claim_timeout(
    client, admin, admin_token, rt, clock
):
    """The state a process killed between claiming a key and answering leaves behind: a claim
    with no answer. It answers 409 until the claim timeout has passed, then a retry does the
    work under a new claim, whose answer is kept and replayed."""
    body = json.dumps({"name": "P", "url": HOOK}).encode()
    with rt.db.write() as s:
        stuck = IdempotencyKey(
            principal=f"token:{admin_token[0]}",
            key="k1",
            fingerprint=fingerprint("POST", "/api/v1/subscribers", body),
            created_at=clock(),
            expires_at=clock() + timedelta(hours=24),
        )
        s.add(stuck)
        stuck_at = stuck.created_at

    def post():
        return client.post(
            "/api/v1/subscribers",
            data=body,
            content_type="application/json",
            headers={**admin, KEY: "k1"},
        )

    assert f"header.{KEY}" in _error(post(), 409)["fields"]
    clock.advance(CLAIM_TIMEOUT - 1)
    _error(post(), 409)  # still within the time a live request may take

    taken_at = clock.advance(1)
    taken = post()
    assert taken.status_code == 201, taken.get_data(as_text=True)
    assert "Idempotent-Replayed" not in taken.headers
    again = post()
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == _withheld(taken.get_json())
    with rt.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 1
        # the dead request's claim is gone (a claim is its id and creation time: SQLite may
        # reuse the id): were it to answer after all, it has nowhere to store its answer
        rows = s.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "k1")).all()
        assert [(r.created_at, r.status) for r in rows] == [(taken_at, 201)]
        assert taken_at != stuck_at

    # the same key with another body is still refused, taken over or not
    other = client.post(
        "/api/v1/subscribers", json={"name": "Q", "url": HOOK}, headers={**admin, KEY: "k1"}
    )
    _error(other, 422)


def test_a_claim_younger_than_the_timeout_is_not_taken_over_even_when_the_key_expires_later(
    client, admin, rt, clock
):
    """A request that is merely slow keeps its key: a retry within the timeout is a 409 and
    does nothing."""
    first = client.post(
        "/api/v1/subscribers", json={"name": "P", "url": HOOK}, headers={**admin, KEY: "k2"}
    )
    assert first.status_code == 201
    with rt.db.write() as s:  # as if the first had not answered yet
        row = s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "k2"))
        row.status, row.body, row.headers = None, None, None
    clock.advance(CLAIM_TIMEOUT / 2)
    retry = client.post(
        "/api/v1/subscribers", json={"name": "P", "url": HOOK}, headers={**admin, KEY: "k2"}
    )
    _error(retry, 409)
    with rt.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 1


# --- secrets at rest ---------------------------------------------------------------------------


def _kept(rt) -> str:
    """Every kept answer, every column, as one string."""
    with rt.db.read() as s:
        rows = s.scalars(select(IdempotencyKey)).all()
        return repr([(r.key, r.status, r.headers, r.body, r.fingerprint) for r in rows])


def test_no_secret_is_kept_with_an_answer_and_the_replay_says_how_to_rotate(client, admin, rt):
    created = client.post(
        "/api/v1/subscribers", json={"name": "P", "url": HOOK}, headers={**admin, KEY: "c1"}
    )
    assert created.status_code == 201
    secret = created.get_json()["secret"]
    assert secret.startswith("whsec_") and secret == _stored_secret(rt, created.get_json()["id"])
    kept = _kept(rt)
    assert secret not in kept and secret.removeprefix("whsec_") not in kept
    assert "whsec_" not in kept

    replay = client.post(
        "/api/v1/subscribers", json={"name": "P", "url": HOOK}, headers={**admin, KEY: "c1"}
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.status_code == 201
    assert replay.headers["Location"] == created.headers["Location"]
    withheld = replay.get_json()
    assert withheld == _withheld(created.get_json())

    # doing what the replay says gives a new secret, itself not kept either
    rotate_url = withheld["secret_withheld"].split("POST ")[1].split(" ")[0]
    rotated = client.post(rotate_url, headers={**admin, KEY: "r1"})
    assert rotated.status_code == 200, rotated.get_data(as_text=True)
    new_secret = rotated.get_json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != secret
    assert _stored_secret(rt, withheld["id"]) == new_secret
    assert "whsec_" not in _kept(rt)
    replayed_rotation = client.post(rotate_url, headers={**admin, KEY: "r1"})
    assert replayed_rotation.get_json() == _withheld(rotated.get_json())
    assert _stored_secret(rt, withheld["id"]) == new_secret  # the replay rotated nothing


def test_the_document_describes_the_withheld_replay(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("SubscriberCreatedOut", "SecretOut"):
        props = schemas[name]["properties"]
        assert props["secret"].get("nullable") is True or "null" in props["secret"].get(
            "type", []
        ), (name, props["secret"])
        assert "secret_withheld" in props, name
