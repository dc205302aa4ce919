"""Partner webhooks through the API (/api/v1/subscribers, /api/v1/deliveries), on SQLite and
PostgreSQL: CRUD with the secret shown once, rotation, test pings, enable/disable, recover,
the delivery log and replay, every error as JSON, admin only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndication.auth.tokens import create_token
from syndication.models import DeliveryAttempt
from tests.conftest import BASE_URL, make_settings
from tests.test_subscribers import BAD_HEADER_VALUES, GOOD_HEADER_VALUE

NOW = datetime.now(UTC)
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def settings(db_url: str, tmp_path: Path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


@pytest.fixture
def auth(rt):
    out = {}
    for role in ("reader", "editor", "admin"):
        with rt.db.write() as s:
            out[role] = {"Authorization": f"Bearer {create_token(s, role, role, now=NOW)[1]}"}
    return out


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def _subscriber(client, admin, **fields) -> dict:
    r = client.post("/api/v1/subscribers", json={"name": "P", "url": HOOK, **fields}, headers=admin)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_crud_with_secret_once_and_location(client, auth):
    admin = auth["admin"]
    r = client.post(
        "/api/v1/subscribers",
        json={"name": "City Paper", "url": HOOK, "format": "ninjs", "throttle": 5},
        headers=admin,
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["secret"].startswith("whsec_")
    assert r.headers["Location"] == f"/api/v1/subscribers/{body['id']}"
    assert body["health"] == {
        "attempts": 0,
        "success_rate": None,
        "last_success_at": None,
        "last_error": None,
        "pending": 0,
        "dead": 0,
        "delivered": 0,
        "skipped": 0,
        "available": 0,
    }
    got = client.get(r.headers["Location"], headers=admin).get_json()
    assert "secret" not in got and got["format"] == "ninjs" and got["throttle"] == 5
    listed = client.get("/api/v1/subscribers", headers=admin).get_json()
    assert listed["next"] is None and [s["id"] for s in listed["items"]] == [body["id"]]
    patched = client.patch(
        r.headers["Location"], json={"event_types": ["story.retracted"], "throttle": None},
        headers=admin,
    )  # fmt: skip
    assert patched.status_code == 200
    assert patched.get_json()["event_types"] == ["story.retracted"]
    assert patched.get_json()["throttle"] is None
    assert client.delete(r.headers["Location"], headers=admin).status_code == 204
    _error(client.get(r.headers["Location"], headers=admin), 404, "not_found")


def test_errors_are_json_with_fields(client, auth):
    admin = auth["admin"]
    bad = client.post(
        "/api/v1/subscribers",
        json={"name": "P", "url": "https://10.0.0.1/x", "headers": {"Host": "x"}},
        headers=admin,
    )
    assert set(_error(bad, 422, "invalid")["fields"]) == {"url", "headers.Host"}
    typed = client.post("/api/v1/subscribers", json={"name": 1, "url": HOOK}, headers=admin)
    assert "name" in _error(typed, 422)["fields"]
    missing = client.post("/api/v1/subscribers", json={"name": "x"}, headers=admin)
    assert "url" in _error(missing, 422)["fields"]
    _error(client.post("/api/v1/subscribers", data="x", headers=admin), 400)
    _error(client.post("/api/v1/subscribers/99/rotate-secret", headers=admin), 404)
    _error(client.get("/api/v1/deliveries/99", headers=admin), 404)
    _error(client.get("/api/v1/deliveries?colour=red", headers=admin), 422)
    _error(client.get("/api/v1/deliveries?cursor=abc", headers=admin), 422)


@pytest.mark.parametrize("case", sorted(BAD_HEADER_VALUES))
def test_header_values_refused_on_post_and_patch(client, auth, case):
    admin = auth["admin"]
    value, message = BAD_HEADER_VALUES[case]
    if "\x00" in value:  # the input layer (inputs.py) refuses a NUL before the service does
        message = "must not contain NUL characters (U+0000)"
    bad = {"name": "P", "url": HOOK, "headers": {"X-Partner": value}}
    err = _error(client.post("/api/v1/subscribers", json=bad, headers=admin), 422, "invalid")
    assert err["fields"] == {"headers.X-Partner": message}
    assert client.get("/api/v1/subscribers", headers=admin).get_json()["items"] == []

    sub = _subscriber(client, admin, headers={"X-Partner": GOOD_HEADER_VALUE})
    assert sub["headers"] == {"X-Partner": GOOD_HEADER_VALUE}
    url = f"/api/v1/subscribers/{sub['id']}"
    patch = {"headers": {"X-Partner": value}}
    err = _error(client.patch(url, json=patch, headers=admin), 422, "invalid")
    assert err["fields"] == {"headers.X-Partner": message}
    assert client.get(url, headers=admin).get_json()["headers"] == {"X-Partner": GOOD_HEADER_VALUE}
    good = {"headers": {"Authorization": GOOD_HEADER_VALUE}}
    patched = client.patch(url, json=good, headers=admin)
    assert patched.status_code == 200 and patched.get_json()["headers"] == good["headers"]


def test_admin_only(client, auth):
    _error(client.get("/api/v1/subscribers"), 401)
    for role in ("reader", "editor"):
        _error(client.get("/api/v1/subscribers", headers=auth[role]), 403, "forbidden")
        _error(client.get("/api/v1/deliveries", headers=auth[role]), 403, "forbidden")
        r = client.post("/api/v1/subscribers", json={"name": "P", "url": HOOK}, headers=auth[role])
        _error(r, 403, "forbidden")


def test_rotate_test_ping_disable_enable(client, auth):
    admin = auth["admin"]
    sub = _subscriber(client, admin)
    base = f"/api/v1/subscribers/{sub['id']}"
    rotated = client.post(f"{base}/rotate-secret", headers=admin).get_json()
    assert rotated["secret"] != sub["secret"] and rotated["previous_secret_until"]
    assert client.get(base, headers=admin).get_json()["previous_secret_until"]

    ping = client.post(f"{base}/test", headers=admin)
    assert ping.status_code == 202
    delivery = ping.get_json()
    assert delivery["event_type"] == "ping" and delivery["status"] == "pending"
    assert delivery["subscriber_id"] == sub["id"] and delivery["story_code"] is None

    off = client.post(f"{base}/disable", json={"reason": "maintenance"}, headers=admin)
    assert off.get_json()["active"] is False
    assert off.get_json()["disabled_reason"] == "maintenance"
    on = client.post(f"{base}/enable", headers=admin).get_json()
    assert on["active"] is True and on["disabled_reason"] is None


def test_deliveries_list_read_replay_recover(client, auth, rt):
    admin = auth["admin"]
    sub = _subscriber(client, admin)
    other = _subscriber(client, admin, name="Other")
    ids = [
        client.post(f"/api/v1/subscribers/{sub['id']}/test", headers=admin).get_json()["id"]
        for _ in range(3)
    ]
    client.post(f"/api/v1/subscribers/{other['id']}/test", headers=admin)
    with rt.db.write() as s:
        s.add(
            DeliveryAttempt(
                delivery_id=ids[0], at=NOW, status_code=500, latency_ms=12,
                error="HTTP 500", response_excerpt="oops",
            )
        )  # fmt: skip
        from syndication.models import Delivery

        s.get(Delivery, ids[0]).status = "dead"
    page = client.get(f"/api/v1/deliveries?subscriber={sub['id']}&limit=2", headers=admin)
    body = page.get_json()
    assert [d["id"] for d in body["items"]] == ids[::-1][:2]
    assert body["next"].startswith(BASE_URL + "/api/v1/deliveries?")
    rest = client.get(body["next"].removeprefix(BASE_URL), headers=admin).get_json()
    assert [d["id"] for d in rest["items"]] == [ids[0]] and rest["next"] is None
    dead = client.get("/api/v1/deliveries?status=dead", headers=admin).get_json()["items"]
    assert [d["id"] for d in dead] == [ids[0]]

    detail = client.get(f"/api/v1/deliveries/{ids[0]}", headers=admin).get_json()
    assert detail["log"][0]["status_code"] == 500 and detail["log"][0]["response_excerpt"] == "oops"
    replayed = client.post(f"/api/v1/deliveries/{ids[0]}/replay", headers=admin).get_json()
    assert replayed["status"] == "pending" and replayed["message_id"] == detail["message_id"]
    assert len(replayed["log"]) == 1

    with rt.db.write() as s:
        s.get(Delivery, ids[1]).status = "dead"
    since = (NOW - timedelta(hours=1)).isoformat()
    r = client.post(
        f"/api/v1/subscribers/{sub['id']}/recover", json={"since": since}, headers=admin
    )
    assert r.status_code == 200 and r.get_json() == {"requeued": 1}
    bad = client.post(
        f"/api/v1/subscribers/{sub['id']}/recover", json={"since": "nope"}, headers=admin
    )
    assert "since" in _error(bad, 422)["fields"]


@pytest.mark.parametrize("fmt", ["json", "ninjs"])
def test_end_to_end_publish_reaches_a_real_receiver_signed(client, auth, rt, fmt):
    """A subscriber made through the API, a story published through the API, the scheduler's
    push job run once: the receiver gets one signed story.published that an independent
    Standard Webhooks implementation verifies; a ping to the same receiver keeps its data."""
    import json
    import threading

    from standardwebhooks import Webhook
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    received: list[tuple[dict, bytes]] = []

    @Request.application
    def receiver(request: Request) -> Response:
        received.append((dict(request.headers), request.get_data()))
        return Response(status=204)

    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{server.server_port}/hook"
        sub = _subscriber(client, auth["admin"], url=hook, format=fmt)
        story = client.post(
            "/api/v1/stories",
            headers=auth["editor"],
            json={"title": "Harbour Bridge Reopens", "status": "published", "section": "World"},
        ).get_json()
        rt.push.engine.drain()
        assert (
            client.post(f"/api/v1/subscribers/{sub['id']}/test", headers=auth["admin"]).status_code
            == 202
        )
        rt.push.engine.drain()
    finally:
        server.shutdown()
    assert len(received) == 2
    verifier = Webhook(sub["secret"])
    for headers, body in received:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert lowered["content-type"] == "application/json"
        verifier.verify(body, lowered)  # raises on a bad signature
    published, ping = (json.loads(body) for _, body in received)
    assert published["type"] == "story.published"
    if fmt == "json":
        assert published["data"]["code"] == story["code"]
        assert published["data"]["revision"] == 1
    else:
        assert published["data"]["headlines"][0]["value"] == "Harbour Bridge Reopens"
    assert ping["type"] == "ping"
    assert ping["data"] == {"message": "test", "subscriber": sub["id"]}
