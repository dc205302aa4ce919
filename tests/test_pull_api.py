"""The pull API (GET /api/v1/partner/events): a partner that cannot receive webhooks pulls the
events of its pull subscribers, with exactly the payloads their webhooks would carry, in version
order, each once, with an opaque cursor; long-polls; the admin side of pull subscribers."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from syndication.auth.tokens import create_token
from syndication.models import Delivery, Subscriber
from syndication.partners import service as partners
from syndication.push import pull, retention
from syndication.push import subscribers as subs
from syndication.stories.service import retract_story, update_story
from tests.conftest import make_settings
from tests.pushkit import add_subscriber, publish, pump, receiver, wait_for  # noqa: F401 - a fixture
from tests.test_push_ui import _login

EVENTS = "/api/v1/partner/events"


@pytest.fixture
def settings(db_url, tmp_path):
    # The webhook receivers of these tests listen on 127.0.0.1.
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


def _auth(rt, role: str = "partner", partner_id: int | None = None) -> dict[str, str]:
    """Headers carrying a new token of `role` (of `partner_id` for role partner)."""
    with rt.db.write() as s:
        plaintext = create_token(
            s, f"{role} {partner_id}", role, now=rt.clock(), partner_id=partner_id
        )[1]
    return {"Authorization": f"Bearer {plaintext}"}


def _partner(rt, name: str = "Agence") -> tuple[int, dict[str, str]]:
    with rt.db.write() as s:
        partner_id = partners.create_partner(s, name, now=rt.clock()).id
    return partner_id, _auth(rt, partner_id=partner_id)


def _pull_subscriber(rt, partner_id: int, **fields) -> int:
    with rt.db.write() as s:
        sub, secret = subs.create_subscriber(
            s, None, {"kind": "pull", "name": "feed", **fields}, rt.clock()
        )
        assert secret is None
        partners.assign(s, sub.id, partner_id)
        return sub.id


def _get(client, headers, **params):
    return client.get(EVENTS, headers=headers, query_string=params)


def _ok(client, headers, **params) -> dict:
    response = _get(client, headers, **params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _codes(page: dict) -> list[tuple[str, str]]:
    return [(item["type"], item["payload"]["data"]["code"]) for item in page["data"]]


def _statuses(rt) -> list[str]:
    with rt.db.read() as s:
        return list(s.scalars(select(Delivery.status).order_by(Delivery.id)))


@pytest.mark.parametrize("fmt", ["json", "ninjs"])
def test_pulled_payloads_are_the_webhooks_bodies_in_version_order(rt, client, ctx, receiver, fmt):
    partner_id, headers = _partner(rt)
    pull_id = _pull_subscriber(rt, partner_id, format=fmt)
    add_subscriber(rt, receiver.url(), format=fmt)
    publish(rt, "s1")
    publish(rt, "s2")
    with rt.db.write() as s:
        update_story(s, rt.settings, "s1", {"title": "Better title"}, now=rt.clock())
    with rt.db.write() as s:
        retract_story(s, rt.settings, "s2", now=rt.clock())
    pump(ctx, lambda: len(receiver.on("/hook")) == 4)
    page = _ok(client, headers)
    assert [item["type"] for item in page["data"]] == [
        "story.published",
        "story.published",
        "story.updated",
        "story.retracted",
    ]
    assert page["more"] is False
    assert {item["subscriber_id"] for item in page["data"]} == {pull_id}
    assert all(item["id"].startswith("msg_") for item in page["data"])
    assert all(item["timestamp"] == item["payload"]["timestamp"] for item in page["data"])

    def key(body: dict) -> str:
        return json.dumps(body, sort_keys=True)

    sent = sorted((json.loads(body) for _, _, body in receiver.on("/hook")), key=key)
    pulled = sorted((item["payload"] for item in page["data"]), key=key)
    assert pulled == sent
    # The engine never claims what waits for the partner: still available after its drains.
    ctx.engine.drain()
    assert _statuses(rt).count("available") == 4


def test_pages_acknowledge_and_each_event_comes_once(rt, client, ctx):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    for n in range(5):
        publish(rt, f"s{n}")
    ctx.engine.drain()
    first = _ok(client, headers, limit=2)
    assert _codes(first) == [("story.published", "s0"), ("story.published", "s1")]
    assert first["more"] is True
    again = _ok(client, headers, limit=2)  # no cursor: the oldest not acknowledged, again
    assert _codes(again) == _codes(first)
    second = _ok(client, headers, limit=2, after=again["cursor"])
    assert _codes(second) == [("story.published", "s2"), ("story.published", "s3")]
    # The answer was lost: the same cursor brings the same events.
    lost = _ok(client, headers, limit=2, after=again["cursor"])
    assert [i["id"] for i in lost["data"]] == [i["id"] for i in second["data"]]
    third = _ok(client, headers, limit=2, after=lost["cursor"])
    assert _codes(third) == [("story.published", "s4")]
    assert third["more"] is False
    last = _ok(client, headers, after=third["cursor"])
    assert last["data"] == [] and last["more"] is False
    # Nothing twice: every delivery acknowledged once the last page's cursor came back.
    assert _statuses(rt) == ["delivered"] * 5
    seen = [i["id"] for p in (first, second, third) for i in p["data"]]
    assert len(seen) == len(set(seen)) == 5
    # An empty answer's cursor is as good as any.
    assert _ok(client, headers, after=last["cursor"])["data"] == []


def test_a_late_commit_with_a_smaller_id_is_still_served(rt, client, ctx):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    publish(rt, "early")
    publish(rt, "late")
    ctx.engine.drain()
    with rt.db.write() as s:
        first = s.scalars(select(Delivery).order_by(Delivery.id)).first()
        held = {c.name: getattr(first, c.name) for c in Delivery.__table__.columns}
        s.delete(first)  # not committed yet, as far as any reader can tell
    page = _ok(client, headers)
    assert _codes(page) == [("story.published", "late")]
    with rt.db.write() as s:
        s.execute(insert(Delivery).values(**held))  # commits now, with the smaller id
    nxt = _ok(client, headers, after=page["cursor"])
    assert _codes(nxt) == [("story.published", "early")]
    assert _ok(client, headers, after=nxt["cursor"])["data"] == []
    assert _statuses(rt) == ["delivered", "delivered"]


def test_a_partner_reaches_only_its_own(rt, client, ctx):
    a, a_headers = _partner(rt, "A")
    b, b_headers = _partner(rt, "B")
    a_sub = _pull_subscriber(rt, a)
    _pull_subscriber(rt, b)
    webhook = add_subscriber(rt, "https://hook.example/in").id
    with rt.db.write() as s:
        partners.assign(s, webhook, a)
    publish(rt, "s1")
    ctx.engine.drain()
    page = _ok(client, a_headers)
    assert [i["subscriber_id"] for i in page["data"]] == [a_sub]
    # B's own page holds its own subscriber's delivery, not A's.
    assert [i["subscriber_id"] for i in _ok(client, b_headers)["data"]] != [a_sub]
    refused = _get(client, b_headers, after=page["cursor"])
    assert refused.status_code == 400
    assert refused.get_json()["error"]["message"].startswith("after: ")
    assert _get(client, b_headers, subscriber=a_sub).status_code == 404
    assert _get(client, a_headers, subscriber=webhook).status_code == 404  # not a pull one
    assert _get(client, a_headers, subscriber=987654).status_code == 404
    # A cursor of all of A's subscribers is not one of a single subscriber's.
    assert _get(client, a_headers, subscriber=a_sub, after=page["cursor"]).status_code == 400
    narrowed = _ok(client, a_headers, subscriber=a_sub)
    assert [i["id"] for i in narrowed["data"]] == [i["id"] for i in page["data"]]
    assert _ok(client, a_headers, subscriber=a_sub, after=narrowed["cursor"])["data"] == []


def _forged(rt, partner_id: int) -> list[str]:
    real = pull.encode_cursor(pull.cursor_key(b"another key"), partner_id, None, 1)
    raw = bytearray(base64.urlsafe_b64decode(real + "=="))
    raw[-1] ^= 1
    return [
        real,  # signed with another key
        base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode(),
        "garbage",
        "",
        "A" * 5000,
        "é" * 10,
        "%%%",
        base64.urlsafe_b64encode(b"\x01" + b"\x00" * 30).decode(),
    ]


def test_forged_garbage_and_oversized_cursors_are_400(rt, client):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    for cursor in _forged(rt, partner_id):
        response = _get(client, headers, after=cursor)
        assert response.status_code == 400, cursor
        error = response.get_json()["error"]
        assert error["code"] == "bad_request" and "cursor" in error["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "x"},
        {"wait": -1},
        {"wait": 31},
        {"wait": "1.5"},
        {"subscriber": 0},
        {"since": "yesterday"},
    ],
)
def test_out_of_range_parameters_are_422(rt, client, params):
    partner_id, headers = _partner(rt)
    response = _get(client, headers, **params)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]


def test_newsroom_tokens_are_403_and_no_token_401(rt, client):
    for role in ("reader", "editor", "admin"):
        response = _get(client, _auth(rt, role))
        assert response.status_code == 403, role
    assert client.get(EVENTS).status_code == 401


def _long_poll(app, headers, out: list, **params) -> threading.Thread:
    def run() -> None:
        out.append(app.test_client().get(EVENTS, headers=headers, query_string=params))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_long_poll_is_woken_by_a_publish(app, rt, ctx):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    answers: list = []
    thread = _long_poll(app, headers, answers, wait=30)
    wait_for(lambda: rt.push.pull.waiting(partner_id) == 1)

    def publish_and_expand() -> None:
        publish(rt, "news")
        ctx.engine.drain()

    threading.Thread(target=publish_and_expand, daemon=True).start()
    thread.join(30)
    assert answers and answers[0].status_code == 200
    assert _codes(answers[0].get_json()) == [("story.published", "news")]


def test_a_long_poll_times_out_empty(rt, client):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    page = _ok(client, headers, wait=1)
    assert page["data"] == [] and page["more"] is False
    assert _ok(client, headers, after=page["cursor"])["data"] == []
    assert rt.push.pull.waiting() == 0


def test_too_many_long_polls_are_429(app, rt, client, ctx):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    other_id, other_headers = _partner(rt, "Other")
    _pull_subscriber(rt, other_id)
    answers: list = []
    thread = _long_poll(app, headers, answers, wait=30)
    wait_for(lambda: rt.push.pull.waiting(partner_id) == 1)
    refused = _get(client, headers, wait=5)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    # Without `wait` the partner is still answered at once.
    assert _get(client, headers).status_code == 200
    # Another partner has a place of its own while the process has one left (pull_waits = 2).
    others: list = []
    other = _long_poll(app, other_headers, others, wait=30)
    wait_for(lambda: rt.push.pull.waiting() == 2)
    third_id, third_headers = _partner(rt, "Third")
    assert _get(client, third_headers, wait=5).status_code == 429  # the process is full
    publish(rt, "wake")
    ctx.engine.drain()
    thread.join(30)
    other.join(30)
    assert answers[0].status_code == others[0].status_code == 200
    assert rt.push.pull.waiting() == 0


def test_a_replayed_delivery_comes_again(rt, client, ctx):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id)
    publish(rt, "s1")
    ctx.engine.drain()
    page = _ok(client, headers)
    done = _ok(client, headers, after=page["cursor"])
    assert done["data"] == [] and _statuses(rt) == ["delivered"]
    admin = _auth(rt, "admin")
    listed = client.get("/api/v1/deliveries?status=delivered", headers=admin).get_json()
    delivery_id = listed["items"][0]["id"]
    replayed = client.post(f"/api/v1/deliveries/{delivery_id}/replay", headers=admin)
    assert replayed.status_code == 200 and replayed.get_json()["status"] == "available"
    again = _ok(client, headers, after=done["cursor"])
    assert [i["id"] for i in again["data"]] == [i["id"] for i in page["data"]]


def test_disabled_pull_subscriber_skips_and_recover_makes_them_available(rt, client, ctx, clock):
    partner_id, headers = _partner(rt)
    sub_id = _pull_subscriber(rt, partner_id)
    with rt.db.write() as s:
        subs.disable(s, sub_id)
    publish(rt, "missed")
    ctx.engine.drain()
    assert _statuses(rt) == ["skipped"]
    assert _ok(client, headers)["data"] == []
    with rt.db.write() as s:
        subs.enable(s, sub_id)
        count = subs.recover(s, sub_id, rt.clock() - timedelta(hours=1), None, rt.clock())
    assert count == 1
    assert _codes(_ok(client, headers)) == [("story.published", "missed")]
    # A test ping waits for the partner too.
    with rt.db.write() as s:
        subs.send_test(s, sub_id, rt.clock())
    ctx.engine.drain()
    assert "ping" in [i["type"] for i in _ok(client, headers)["data"]]


def test_unfetched_pull_deliveries_are_pruned_after_the_retention(rt, ctx, clock):
    partner_id, _ = _partner(rt)
    _pull_subscriber(rt, partner_id)
    publish(rt, "old", now=clock())
    ctx.engine.drain()
    assert _statuses(rt) == ["available"]
    clock.advance(rt.settings.delivery_retention + 1)
    assert retention.prune(rt.db, rt.settings, clock) == 1
    assert _statuses(rt) == []


def test_the_pull_transmitter_never_sends(rt):
    transmitter = rt.push.transmitters["pull"]
    with pytest.raises(RuntimeError), rt.db.read() as s:
        transmitter.prepare(s, [], rt.clock())
    with pytest.raises(RuntimeError):
        transmitter.finish(None, "msg_x", rt.clock())


def test_admin_creates_pull_subscribers_through_the_api(rt, client):
    admin = _auth(rt, "admin")
    created = client.post(
        "/api/v1/subscribers", headers=admin, json={"kind": "pull", "name": "Agence feed"}
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["kind"] == "pull" and body["url"] is None and body["secret"] is None
    assert body["health"]["available"] == 0
    sub_id = body["id"]
    for bad in (
        {"kind": "pull", "name": "x", "url": "https://a.example/hook"},
        {"kind": "pull", "name": "x", "headers": {"X-A": "1"}},
        {"kind": "pull", "name": "x", "url": None},
        {"kind": "pull", "name": "x", "throttle": 3},
        {"kind": "smoke", "name": "x"},
        {"name": "webhook without url"},
    ):
        response = client.post("/api/v1/subscribers", headers=admin, json=bad)
        assert response.status_code == 422, bad
    patched = client.patch(f"/api/v1/subscribers/{sub_id}", headers=admin, json={"format": "ninjs"})
    assert patched.status_code == 200 and patched.get_json()["format"] == "ninjs"
    for bad in ({"kind": "webhook"}, {"url": "https://a.example/hook"}):
        response = client.patch(f"/api/v1/subscribers/{sub_id}", headers=admin, json=bad)
        assert response.status_code == 422, bad
    assert (
        client.post(f"/api/v1/subscribers/{sub_id}/rotate-secret", headers=admin).status_code == 409
    )
    listed = client.get("/api/v1/subscribers", headers=admin).get_json()["items"]
    assert [s["kind"] for s in listed] == ["pull"]


def test_cli_adds_a_pull_subscriber_for_a_partner(invoke, rt):
    assert invoke("partner", "create", "Agence").exit_code == 0
    result = invoke("subscribers", "add", "--kind", "pull", "--name", "feed", "--partner", "Agence")
    assert result.exit_code == 0, result.output
    assert "secret" not in result.output
    with rt.db.read() as s:
        sub = s.scalars(select(Subscriber)).one()
        assert sub.kind == "pull" and sub.url == "" and sub.partner_id is not None
    refused = invoke(
        "subscribers", "add", "--kind", "pull", "--name", "x", "--url", "https://a.example/h"
    )
    assert refused.exit_code != 0 and "url: a pull subscriber has none" in refused.output
    assert "\tfeed\tpull" in invoke("subscribers", "list").output


def test_the_route_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    operation = doc["paths"]["/api/v1/partner/events"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"after", "limit", "wait", "subscriber"}
    assert {"200", "400", "401", "403", "404", "422", "429"} <= set(operation["responses"])


def test_admin_form_creates_and_edits_a_pull_subscriber(client, rt):
    csrf = _login(client, rt, "root", "admin")
    form = client.get("/admin/subscribers/new").get_data(as_text=True)
    assert 'name="kind"' in form
    created = client.post(
        "/admin/subscribers/new",
        data={"csrf_token": csrf, "kind": "pull", "name": "Pull feed", "format": "ninjs"},
    )
    assert created.status_code == 303, created.get_data(as_text=True)
    with rt.db.read() as s:
        sub = s.scalars(select(Subscriber)).one()
    assert (sub.kind, sub.url, sub.format) == ("pull", "", "ninjs")
    edit_url = f"/admin/subscribers/{sub.id}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    assert 'name="url"' not in page and 'name="kind"' not in page
    saved = client.post(
        edit_url, data={"csrf_token": csrf, "name": "Renamed feed", "format": "json"}
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    refused = client.post(
        "/admin/subscribers/new",
        data={"csrf_token": csrf, "kind": "pull", "name": "x", "url": "https://a.example/h"},
    )
    assert refused.status_code == 422
    assert "a pull subscriber has none" in refused.get_data(as_text=True)


def test_a_subscriber_given_to_another_partner_loses_nothing(rt, client, ctx):
    a, a_headers = _partner(rt, "A")
    b, b_headers = _partner(rt, "B")
    moved = _pull_subscriber(rt, a)
    _pull_subscriber(rt, b)
    publish(rt, "s1")
    ctx.engine.drain()
    # Both partners' first pages are numbered 1: A's holds its s1, B's its own s1.
    assert _codes(_ok(client, a_headers)) == [("story.published", "s1")]
    b_first = _ok(client, b_headers)
    assert [i["subscriber_id"] for i in b_first["data"]] != [moved]
    with rt.db.write() as s:
        partners.assign(s, moved, b)
    # B acknowledges its page 1: not A's page 1, which B never got.
    nxt = _ok(client, b_headers, after=b_first["cursor"])
    assert [i["subscriber_id"] for i in nxt["data"]] == [moved]
    assert _ok(client, b_headers, after=nxt["cursor"])["data"] == []
    assert _statuses(rt) == ["delivered", "delivered"]


def test_a_trusted_pull_subscriber_is_told_of_embargoed_stories(rt, client, ctx):
    partner_id, headers = _partner(rt)
    _pull_subscriber(rt, partner_id, receives_embargoed=True)
    other_id, other_headers = _partner(rt, "Untrusted")
    _pull_subscriber(rt, other_id)
    later = (rt.clock() + timedelta(days=1)).isoformat()
    publish(rt, "soon", status="scheduled", publish_at=later)
    ctx.engine.drain()
    page = _ok(client, headers)
    assert _codes(page) == [("story.embargoed", "soon")]
    assert page["data"][0]["payload"]["data"]["embargoed"]
    assert _ok(client, other_headers)["data"] == []
