"""The partner portal (/portal/) through Flask's test client, on SQLite and PostgreSQL: sign-in and
where a partner lands, every action (log, test, replay, recover, rotate, pause, events and
headers), the scope (partner B reaches nothing of A's: 404 and nothing changes), CSRF, hostile
input (the admin's errors for the same input), a rotate posted twice, a disabled user's session.
Also the admin's side: the Partners pages, partner users and tokens, and /api/v1/partners."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syndication.auth.tokens import create_token
from syndication.auth.users import create_user, set_disabled
from syndication.errors import NotFound
from syndication.models import ApiToken, Delivery, DeliveryAttempt, Event, Subscriber, User
from syndication.partners import service as partners
from syndication.push import subscribers as push
from syndication.push.queue import delivery_row
from syndication.stories.kill import kill_story
from syndication.stories.service import create_story
from tests.pushkit import add_subscriber
from tests.test_admin import _csrf_of
from tests.test_pull_api import _auth, _ok, _pull_subscriber
from tests.test_push_ui import _headers_error
from tests.test_subscribers import BAD_HEADER_VALUES, GOOD_HEADER_VALUE

PASSWORD = "correct horse battery"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # in the past: recover stops at now


def portal_world(rt) -> dict[str, int]:
    """Partners A and B, each with one endpoint and a dead delivery (one failed attempt) on it,
    a newsroom endpoint with a delivery of its own; users pa (A), pb (B) and root (admin)."""
    ids: dict[str, int] = {}
    with rt.db.write() as s:
        for key in ("a", "b"):
            ids[key] = partners.create_partner(s, f"Partner {key.upper()}", NOW).id
    for key, url in (("a", "https://a.example/hook"), ("b", "https://b.example/hook"), ("n", "")):
        sub = add_subscriber(rt, url or "https://newsroom.example/hook", name=f"hook-{key}")
        ids[f"sub_{key}"] = sub.id
    with rt.db.write() as s:
        for key in ("a", "b"):
            partners.assign(s, ids[f"sub_{key}"], ids[key])
        for key in ("a", "b", "n"):
            delivery = push.send_test(s, ids[f"sub_{key}"], NOW)
            delivery.status = "dead"
            s.add(
                DeliveryAttempt(
                    delivery_id=delivery.id, at=NOW, status_code=502, latency_ms=31,
                    error="HTTP 502", response_excerpt=f"<h1>gateway {key}</h1>",
                )
            )  # fmt: skip
            s.flush()
            ids[f"delivery_{key}"] = delivery.id
        create_user(s, "pa", PASSWORD, "partner", NOW, partner_id=ids["a"])
        create_user(s, "pb", PASSWORD, "partner", NOW, partner_id=ids["b"])
        create_user(s, "root", PASSWORD, "admin", NOW)
    return ids


@pytest.fixture
def world(rt) -> dict[str, int]:
    return portal_world(rt)


def sign_in(client, username: str, next_path: str | None = None):
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    data = {"username": username, "password": PASSWORD, "csrf_token": csrf}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/admin/login", data=data)


def _session(client, username: str) -> str:
    """Sign in; return the session's CSRF token (from the page the user lands on)."""
    response = sign_in(client, username)
    assert response.status_code == 303
    return _csrf_of(client.get(response.headers["Location"]).get_data(as_text=True))


@pytest.fixture
def pa(client, world) -> str:
    return _session(client, "pa")


def _snapshot(rt) -> tuple:
    """Every subscriber and delivery as stored: to prove a refused request changed nothing."""
    with rt.db.read() as s:
        subs = [push.subscriber_to_dict(x) for x in s.scalars(select(Subscriber))]
        secrets = sorted((x.id, x.secret) for x in s.scalars(select(Subscriber)))
        deliveries = sorted(
            (d.id, d.status, d.attempts, d.next_attempt_at) for d in s.scalars(select(Delivery))
        )
    return sorted(subs, key=lambda x: x["id"]), secrets, deliveries


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- sign-in, landing, 403, sign-out -----------------------------------------------------------


def test_partner_signs_in_to_the_portal_and_out_again(app, client, world):
    url = f"/portal/subscribers/{world['sub_a']}"
    anonymous = client.get(url)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"] == f"/admin/login?next={url}"
    assert client.post(f"{url}/test").status_code == 401  # a write: no redirect, nothing done

    landed = sign_in(client, "pa", next_path=url)
    assert landed.status_code == 303 and landed.headers["Location"] == url
    page = _page(client.get(url))
    assert "hook-a" in page and "Sign out" in page and 'href="/portal/"' in page
    assert "/admin/stories" not in page  # the admin's menu is not shown to a partner

    # The admin (a 403 for a partner) is never where a partner lands; its 403 links home.
    assert sign_in(client, "pa", next_path="/admin/stories").headers["Location"] == "/portal/"
    assert sign_in(client, "pa").headers["Location"] == "/portal/"
    forbidden = client.get("/admin/")
    assert forbidden.status_code == 403 and forbidden.mimetype == "text/html"
    assert 'href="/portal/"' in _page(forbidden)
    assert forbidden.headers["Cache-Control"] == "private, no-store"

    csrf = _csrf_of(_page(client.get("/portal/")))
    out = client.post("/admin/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["Location"] == "/admin/login"
    assert client.get("/portal/").status_code == 303


def test_the_newsroom_has_no_portal(app, world):
    admin = app.test_client()
    assert sign_in(admin, "root").headers["Location"] == "/admin/"
    assert admin.get("/portal/").status_code == 403
    assert admin.get(f"/portal/subscribers/{world['sub_a']}").status_code == 403


def test_a_disabled_partner_user_loses_the_session(client, rt, world, pa):
    assert client.get("/portal/").status_code == 200
    with rt.db.write() as s:
        set_disabled(s, "pa", True, NOW)
    assert client.get("/portal/").status_code == 303  # back to the sign-in form
    assert sign_in(client, "pa").status_code == 422


# --- what a partner sees ------------------------------------------------------------------------


def test_partner_sees_its_endpoints_and_their_log_only(client, world, pa):
    home = _page(client.get("/portal/"))
    assert "hook-a" in home and "Partner A" in home
    assert "hook-b" not in home and "hook-n" not in home
    url = f"/portal/subscribers/{world['sub_a']}"
    page = _page(client.get(url))
    d = world["delivery_a"]
    assert f"Delivery {d}: ping" in page and "31 ms" in page and "HTTP 502" in page
    assert "&lt;h1&gt;gateway a&lt;/h1&gt;" in client.get(url).get_data(as_text=True)  # escaped
    assert "gateway b" not in page and "gateway n" not in page
    assert f'action="/portal/deliveries/{d}/replay"' in page
    assert 'type="datetime-local"' in page and "Europe/London" in page
    # The log filtered by status.
    assert f"Delivery {d}:" in _page(client.get(f"{url}?status=dead"))
    delivered = _page(client.get(f"{url}?status=delivered"))
    assert f"Delivery {d}:" not in delivered and "No delivered deliveries." in delivered
    assert client.get(f"{url}?status=bogus").status_code == 400
    assert client.get(f"{url}?after=x").status_code == 400


def test_every_action_on_the_partners_own_endpoint(client, rt, world, pa):
    sub, d = world["sub_a"], world["delivery_a"]
    url = f"/portal/subscribers/{sub}"

    r = client.post(f"{url}/test", data={"csrf_token": pa})
    assert r.status_code == 303 and r.headers["Location"] == url
    assert "Test ping queued" in _page(client.get(url))
    with rt.db.read() as s:
        assert len(s.scalars(select(Delivery).where(Delivery.subscriber_id == sub)).all()) == 2

    r = client.post(f"/portal/deliveries/{d}/replay", data={"csrf_token": pa})
    assert r.status_code == 303 and r.headers["Location"] == url
    with rt.db.read() as s:
        assert s.get(Delivery, d).status == "pending"

    client.post(f"{url}/state", data={"csrf_token": pa, "pause": "1"})
    with rt.db.read() as s:
        row = s.get(Subscriber, sub)
        assert not row.active and row.disabled_reason == "paused by the partner (pa)"
    assert "Resume" in _page(client.get(url))
    with rt.db.write() as s:  # an event that came while it was paused
        s.get(Delivery, d).status = "skipped"
    client.post(f"{url}/state", data={"csrf_token": pa, "pause": "0"})
    with rt.db.read() as s:
        assert s.get(Subscriber, sub).active
    since = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(f"{url}/recover", data={"csrf_token": pa, "since": since})
    assert r.status_code == 303
    assert "1 deliveries queued again" in _page(client.get(url))
    with rt.db.read() as s:
        assert s.get(Delivery, d).status == "pending"

    form = _page(client.get(f"{url}/settings"))
    assert 'name="event_types"' in form and 'id="headers"' in form
    r = client.post(
        f"{url}/settings",
        data={
            "csrf_token": pa, "event_types": ["story.published", "story.killed"],
            "headers": f"Authorization: {GOOD_HEADER_VALUE}",
            # Not the partner's to change: ignored, whatever a hostile form adds.
            "url": "https://evil.example/", "name": "renamed", "receives_embargoed": "1",
            "channels": "x", "format": "ninjs", "throttle": "0.1",
        },
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["Location"] == url
    with rt.db.read() as s:
        row = s.get(Subscriber, sub)
        assert row.event_types == ["story.published", "story.killed"]
        assert row.headers == {"Authorization": GOOD_HEADER_VALUE}
        assert (row.url, row.name, row.receives_embargoed) == (
            "https://a.example/hook",
            "hook-a",
            False,
        )
        assert (row.channels or [], row.format, row.throttle) == ([], "json", None)
    # None checked: all of them (as the admin's form); headers emptied.
    client.post(f"{url}/settings", data={"csrf_token": pa, "headers": ""})
    with rt.db.read() as s:
        row = s.get(Subscriber, sub)
        assert row.headers == {} and len(row.event_types) > 2


def test_a_replay_of_a_killed_storys_delivery_says_why(client, rt, world, pa):
    with rt.db.write() as s:
        story = create_story(s, rt.settings, {"code": "k1", "title": "T"}, now=NOW,
                             default_status="published")  # fmt: skip
        s.flush()
        row = s.get(Event, s.get(Delivery, world["delivery_a"]).event_id)
        row.type, row.story_id, row.story_code = "story.published", story.id, "k1"
    with rt.db.write() as s:
        kill_story(s, rt.settings, "k1", "legal", now=NOW)
    before = _snapshot(rt)
    r = client.post(f"/portal/deliveries/{world['delivery_a']}/replay", data={"csrf_token": pa})
    assert r.status_code == 303
    assert "not replayed" in _page(client.get(r.headers["Location"]))
    assert _snapshot(rt)[2] == before[2]


# --- scope --------------------------------------------------------------------------------------


def _every_portal_request(ids: dict[str, int], key: str, csrf: str):
    """Every portal request about partner `key`'s endpoint and delivery (method, url, form)."""
    sub, d = ids[f"sub_{key}"], ids[f"delivery_{key}"]
    url = f"/portal/subscribers/{sub}"
    form = {"csrf_token": csrf}
    return [
        ("GET", url, None),
        ("GET", f"{url}?status=dead", None),
        ("GET", f"{url}/settings", None),
        ("GET", f"{url}/rotate-secret", None),
        ("POST", f"{url}/settings", {**form, "headers": "X-Evil: 1"}),
        ("POST", f"{url}/test", form),
        ("POST", f"{url}/state", {**form, "pause": "1"}),
        ("POST", f"{url}/recover", {**form, "since": "2020-01-01T00:00"}),
        ("POST", f"{url}/rotate-secret", {**form, "rotation": ""}),
        ("POST", f"/portal/deliveries/{d}/replay", form),
    ]


@pytest.mark.parametrize("other", ["b", "n"])
def test_nothing_of_another_partner_or_the_newsroom_is_reachable(client, rt, world, pa, other):
    before = _snapshot(rt)
    for method, url, form in _every_portal_request(world, other, pa):
        response = client.open(url, method=method, data=form)
        assert response.status_code == 404, (method, url)
        assert "hook-" + other not in _page(response)
    # An id that exists nowhere answers the same.
    assert client.get("/portal/subscribers/987654").status_code == 404
    assert (
        client.post("/portal/deliveries/987654/replay", data={"csrf_token": pa}).status_code == 404
    )
    assert _snapshot(rt) == before


def test_partner_tokens_reach_the_portal_in_scope_too(client, rt, world):
    with rt.db.write() as s:
        token = create_token(s, "b tok", "partner", NOW, partner_id=world["b"])[1]
    bearer = {"Authorization": f"Bearer {token}"}
    assert "hook-b" in _page(client.get("/portal/", headers=bearer))
    for method, url, form in _every_portal_request(world, "a", ""):
        assert client.open(url, method=method, data=form, headers=bearer).status_code == 404


def test_a_subscriber_taken_back_leaves_the_portal(client, rt, world, pa):
    url = f"/portal/subscribers/{world['sub_a']}"
    assert client.get(url).status_code == 200
    with rt.db.write() as s:
        partners.assign(s, world["sub_a"], None)
    assert client.get(url).status_code == 404
    assert "hook-a" not in _page(client.get("/portal/"))


# --- CSRF and hostile input ---------------------------------------------------------------------


def test_portal_posts_need_the_csrf_token(client, rt, world, pa):
    before = _snapshot(rt)
    for method, url, form in _every_portal_request(world, "a", pa):
        if method != "POST":
            continue
        for forged in ({}, {"csrf_token": "forged"}):
            response = client.post(url, data={**form, **{"csrf_token": None}, **forged})
            assert response.status_code == 400, url
            assert "CSRF" in _page(response)
    assert _snapshot(rt) == before


def _admin_and_portal_errors(app, world, csrf: str, portal, headers: str) -> tuple:
    """The headers error of the admin's edit form and of the portal's settings form for the
    same lines: (admin status, admin error, portal status, portal error)."""
    admin = app.test_client()
    admin_csrf = _session(admin, "root")
    sub = world["sub_a"]
    shown = admin.post(
        f"/admin/subscribers/{sub}/edit",
        data={"csrf_token": admin_csrf, "name": "hook-a", "url": "https://a.example/hook",
              "format": "json", "headers": headers},
    )  # fmt: skip
    ours = portal.post(
        f"/portal/subscribers/{sub}/settings", data={"csrf_token": csrf, "headers": headers}
    )
    return (
        shown.status_code,
        _headers_error(_page(shown)),
        ours.status_code,
        _headers_error(_page(ours)),
    )


@pytest.mark.parametrize("case", sorted(BAD_HEADER_VALUES))
def test_bad_headers_get_the_admins_errors(app, client, rt, world, pa, case):
    value, _ = BAD_HEADER_VALUES[case]
    before = _snapshot(rt)
    a_status, a_error, p_status, p_error = _admin_and_portal_errors(
        app, world, pa, client, f"X-Partner: {value}"
    )
    if "\x00" in value:
        assert a_status == p_status == 400  # the input layer: NUL in a form field
    else:
        assert a_status == p_status == 422
        assert p_error == a_error and p_error
    assert _snapshot(rt) == before


@pytest.mark.parametrize(
    "headers",
    [
        "\n".join(f"X-H{i}: v" for i in range(21)),  # over MAX_HEADERS
        "X-Partner: " + "v" * 1001,  # over MAX_HEADER_VALUE
        "Host: evil.example",  # set by the service
        "webhook-signature: v1,forged",
        "Bad Name: v",
        "no colon at all",
        "X-A: 1\nx-a: 2",  # twice
    ],
)
def test_hostile_headers_get_the_admins_errors(app, client, rt, world, pa, headers):
    before = _snapshot(rt)
    a_status, a_error, p_status, p_error = _admin_and_portal_errors(app, world, pa, client, headers)
    assert a_status == p_status == 422 and p_error == a_error and p_error
    assert _snapshot(rt) == before


def test_unknown_event_types_are_refused(client, rt, world, pa):
    before = _snapshot(rt)
    url = f"/portal/subscribers/{world['sub_a']}/settings"
    r = client.post(url, data={"csrf_token": pa, "event_types": ["story.published", "x.y"]})
    assert r.status_code == 422 and "unknown event type 'x.y'" in _page(r)
    assert 'value="story.published" checked' in _page(r)  # what was ticked stays ticked
    assert _snapshot(rt) == before


@pytest.mark.parametrize(
    "since, message",
    [
        ("soon", "must be a date and time"),
        ("", "give the time to recover from"),
        ("2026-13-01T00:00", "must be a date and time"),
        ("0001-01-01T00:00", "1900"),
    ],
)
def test_recover_refuses_what_is_no_time(client, rt, world, pa, since, message):
    with rt.db.write() as s:
        s.get(Delivery, world["delivery_a"]).status = "skipped"
    before = _snapshot(rt)
    url = f"/portal/subscribers/{world['sub_a']}"
    r = client.post(f"{url}/recover", data={"csrf_token": pa, "since": since})
    assert r.status_code == 303
    page = _page(client.get(url))
    assert "Nothing recovered" in page and message in page
    assert _snapshot(rt) == before


def test_nul_bytes_are_refused_before_any_view(client, rt, world, pa):
    before = _snapshot(rt)
    url = f"/portal/subscribers/{world['sub_a']}"
    assert (
        client.post(f"{url}/recover", data={"csrf_token": pa, "since": "2026\x00"}).status_code
        == 400
    )
    assert client.get(f"{url}?status=dead%00").status_code == 400
    assert client.get("/portal/subscribers/1%00").status_code == 404
    assert _snapshot(rt) == before


# --- rotation -----------------------------------------------------------------------------------


def test_rotation_shows_the_secret_once_and_a_second_post_rotates_nothing(client, rt, world, pa):
    url = f"/portal/subscribers/{world['sub_a']}/rotate-secret"
    with rt.db.read() as s:
        original = s.get(Subscriber, world["sub_a"]).secret
    confirm = _page(client.get(url))
    assert "shown once" in confirm
    rotation = re.search(r'name="rotation" value="([^"]*)"', confirm)[1]
    first = client.post(url, data={"csrf_token": pa, "rotation": rotation})
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(whsec_[^"]+)"', _page(first))[1]
    with rt.db.read() as s:
        row = s.get(Subscriber, world["sub_a"])
        assert row.secret == secret and row.previous_secret == original
    assert secret not in _page(client.get(f"/portal/subscribers/{world['sub_a']}"))

    # The same form again (a double click, a reload): nothing rotates, no secret is shown, and
    # the secret the partner still uses keeps signing.
    again = client.post(url, data={"csrf_token": pa, "rotation": rotation})
    assert again.status_code == 409 and "whsec_" not in _page(again)
    assert "rotate again" in _page(again)
    with rt.db.read() as s:
        row = s.get(Subscriber, world["sub_a"])
        assert row.secret == secret and row.previous_secret == original
    # The form that page shows rotates, on purpose.
    fresh = re.search(r'name="rotation" value="([^"]*)"', _page(again))[1]
    third = client.post(url, data={"csrf_token": pa, "rotation": fresh})
    assert third.status_code == 200
    assert re.search(r'value="(whsec_[^"]+)"', _page(third))[1] not in (secret, original)
    assert client.post(url, data={"csrf_token": pa}).status_code == 409  # no form value: stale


# --- the admin's side ---------------------------------------------------------------------------


def test_admin_sets_partners_up_in_the_web_admin(app, rt, world):
    admin = app.test_client()
    csrf = _session(admin, "root")
    assert ">Partners<" in _page(admin.get("/admin/"))
    listing = _page(admin.get("/admin/partners"))
    assert "Partner A" in listing and "hook-a" in listing
    bad = admin.post("/admin/partners", data={"csrf_token": csrf, "name": " "})
    assert bad.status_code == 422 and 'id="error-summary"' in _page(bad)
    dup = admin.post("/admin/partners", data={"csrf_token": csrf, "name": "Partner A"})
    assert dup.status_code == 409 and "already taken" in _page(dup)
    made = admin.post("/admin/partners", data={"csrf_token": csrf, "name": "Partner C"})
    assert made.status_code == 303
    detail_url = made.headers["Location"]
    with rt.db.read() as s:
        c = partners.get_partner(s, "Partner C").id
    assert detail_url == f"/admin/partners/{c}"

    assign = f"{detail_url}/subscribers"
    assert admin.post(assign, data={"csrf_token": csrf, "subscriber_id": world["sub_n"],
                                    "action": "assign"}).status_code == 303  # fmt: skip
    assert "hook-n" in _page(admin.get(detail_url))
    for junk in ("", "x", "987654", "1" * 40):
        admin.post(assign, data={"csrf_token": csrf, "subscriber_id": junk, "action": "assign"})
    # Taking back one of another partner's from this page changes nothing.
    admin.post(assign, data={"csrf_token": csrf, "subscriber_id": world["sub_a"],
                             "action": "unassign"})  # fmt: skip
    with rt.db.read() as s:
        assert [x.id for x in partners.subscribers_of(s, c)] == [world["sub_n"]]
        assert s.get(Subscriber, world["sub_a"]).partner_id == world["a"]
    admin.post(assign, data={"csrf_token": csrf, "subscriber_id": world["sub_n"],
                             "action": "unassign"})  # fmt: skip
    assert admin.post("/admin/partners/987654/subscribers", data={
        "csrf_token": csrf, "subscriber_id": world["sub_n"]}).status_code == 404  # fmt: skip

    # The subscriber page's partner select.
    sub_url = f"/admin/subscribers/{world['sub_n']}"
    assert 'name="partner"' in _page(admin.get(sub_url))
    admin.post(f"{sub_url}/partner", data={"csrf_token": csrf, "partner": str(c)})
    with rt.db.read() as s:
        assert s.get(Subscriber, world["sub_n"]).partner_id == c
    for junk in ("987654", "x"):
        r = admin.post(f"{sub_url}/partner", data={"csrf_token": csrf, "partner": junk})
        assert r.status_code == 303 and "Partner not changed" in _page(admin.get(sub_url))
    admin.post(f"{sub_url}/partner", data={"csrf_token": csrf, "partner": ""})
    with rt.db.read() as s:
        assert s.get(Subscriber, world["sub_n"]).partner_id is None
    assert admin.post("/admin/subscribers/987654/partner",
                      data={"csrf_token": csrf, "partner": ""}).status_code == 404  # fmt: skip

    # A partner user and a partner token from the admin's pages.
    user = {"csrf_token": csrf, "username": "pc", "password": PASSWORD, "password2": PASSWORD}
    refused = admin.post("/admin/users", data={**user, "role": "partner"})
    assert refused.status_code == 422 and "required with the partner role" in _page(refused)
    refused = admin.post("/admin/users", data={**user, "role": "editor", "partner": str(c)})
    assert refused.status_code == 422
    assert admin.post("/admin/users", data={**user, "role": "partner", "partner": str(c)}
                      ).status_code == 303  # fmt: skip
    assert "Partner C" in _page(admin.get("/admin/users"))
    token = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": "c feed",
                                              "role": "partner", "partner": str(c)})  # fmt: skip
    assert token.status_code == 200 and "syn_" in _page(token)
    bad = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": "x", "role": "partner",
                                            "partner": "987654"})  # fmt: skip
    assert bad.status_code == 422 and "no partner with id 987654" in _page(bad)
    with rt.db.read() as s:
        assert s.scalar(select(User.partner_id).where(User.username == "pc")) == c
        assert s.scalar(select(ApiToken.partner_id).where(ApiToken.name == "c feed")) == c
    # The new user signs in to the portal.
    assert sign_in(app.test_client(), "pc").headers["Location"] == "/portal/"


def test_partner_api(client, rt, world):
    with rt.db.write() as s:
        admin = {"Authorization": f"Bearer {create_token(s, 'adm', 'admin', NOW)[1]}"}
        partner_token = create_token(s, "p", "partner", NOW, partner_id=world["a"])[1]
    listing = client.get("/api/v1/partners", headers=admin).get_json()
    assert [(p["name"], p["subscriber_ids"]) for p in listing["items"]] == [
        ("Partner A", [world["sub_a"]]),
        ("Partner B", [world["sub_b"]]),
    ]
    r = client.post("/api/v1/partners", json={"name": "Partner C"}, headers=admin)
    assert r.status_code == 201 and r.headers["Location"].endswith(
        f"/api/v1/partners/{r.get_json()['id']}"
    )
    c = r.get_json()["id"]
    assert (
        client.post("/api/v1/partners", json={"name": "Partner C"}, headers=admin).status_code
        == 409
    )
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "a\nb"}, {"name": 3},
                 {"name": "ok", "extra": 1}):  # fmt: skip
        assert client.post("/api/v1/partners", json=body, headers=admin).status_code == 422, body

    assign = f"/api/v1/partners/{c}/subscribers"
    r = client.post(
        assign, json={"subscriber_ids": [world["sub_n"], world["sub_b"]]}, headers=admin
    )
    assert r.status_code == 200 and r.get_json()["subscriber_ids"] == sorted(
        [world["sub_n"], world["sub_b"]]
    )
    # All or none: one unknown id assigns nothing.
    r = client.post(assign, json={"subscriber_ids": [world["sub_a"], 987654]}, headers=admin)
    assert r.status_code == 404
    with rt.db.read() as s:
        assert s.get(Subscriber, world["sub_a"]).partner_id == world["a"]
    for body in ({}, {"subscriber_ids": []}, {"subscriber_ids": ["1"]}, {"subscriber_ids": [0]},
                 {"subscriber_ids": [2**31]}, {"subscriber_ids": [1] * 1001}):  # fmt: skip
        assert client.post(assign, json=body, headers=admin).status_code == 422, body
    assert client.post("/api/v1/partners/987654/subscribers", json={"subscriber_ids": [1]},
                       headers=admin).status_code == 404  # fmt: skip
    sub = client.get(f"/api/v1/subscribers/{world['sub_n']}", headers=admin).get_json()
    assert sub["partner_id"] == c
    r = client.delete(f"{assign}/{world['sub_n']}", headers=admin)
    assert r.status_code == 200 and r.get_json()["subscriber_ids"] == [world["sub_b"]]
    assert client.delete(f"{assign}/{world['sub_n']}", headers=admin).status_code == 404
    assert client.delete(f"{assign}/{world['sub_a']}", headers=admin).status_code == 404
    assert client.get(f"/api/v1/partners/{c}", headers=admin).get_json()["name"] == "Partner C"
    assert client.get("/api/v1/partners/987654", headers=admin).status_code == 404

    # Idempotency-Key on create: the retry gets the first answer.
    key = {**admin, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/partners", json={"name": "Partner D"}, headers=key)
    again = client.post("/api/v1/partners", json={"name": "Partner D"}, headers=key)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()

    # Tokens of the partner role, by the API.
    r = client.post("/api/v1/tokens", json={"name": "t", "role": "partner", "partner": c},
                    headers=admin)  # fmt: skip
    assert r.status_code == 201 and r.get_json()["partner_id"] == c
    for body in ({"name": "t", "role": "partner"}, {"name": "t", "role": "editor", "partner": c},
                 {"name": "t", "role": "partner", "partner": 987654},
                 {"name": "t", "role": "partner", "partner": "1"}):  # fmt: skip
        assert client.post("/api/v1/tokens", json=body, headers=admin).status_code == 422, body

    # None of it is a partner's: 403 to a partner's token.
    bearer = {"Authorization": f"Bearer {partner_token}"}
    assert client.get("/api/v1/partners", headers=bearer).status_code == 403
    assert (
        client.post(assign, json={"subscriber_ids": [world["sub_a"]]}, headers=bearer).status_code
        == 403
    )


# --- pull subscribers ---------------------------------------------------------------------------


@pytest.fixture
def pulls(rt, world) -> dict[str, int]:
    """Beside the world's webhooks: a pull subscriber of A (one ping available on it) and of B,
    and a WebSub subscription assigned to A (never the portal's)."""
    ids = {
        "pull_a": _pull_subscriber(rt, world["a"], name="pull-a"),
        "pull_b": _pull_subscriber(rt, world["b"], name="pull-b"),
        "websub_a": add_subscriber(
            rt, "https://a.example/websub", kind="websub", name="websub-a",
            topic="https://news.example/feed", partner_id=world["a"],
        ).id,
    }  # fmt: skip
    with rt.db.write() as s:
        ids["delivery_pull_a"] = push.send_test(s, ids["pull_a"], NOW).id
        # A notification to the WebSub subscription (send_test knows no WebSub subscriber).
        event_id = s.get(Delivery, ids["delivery_pull_a"]).event_id
        websub = Delivery(**delivery_row(event_id, ids["websub_a"], NOW))
        s.add(websub)
        s.flush()
        ids["delivery_websub_a"] = websub.id
    return ids


def _pull_page(app, rt, partner_id: int) -> dict:
    """One page of the pull API for the partner (a client of its own: no portal session)."""
    return _ok(app.test_client(), _auth(rt, partner_id=partner_id))


def test_partner_sees_its_pull_subscribers_beside_its_webhooks(client, world, pulls, pa):
    home = _page(client.get("/portal/"))
    assert "hook-a" in home and "https://a.example/hook" in home
    assert "pull-a" in home and ">pull<" in home
    assert "pull-b" not in home and "websub-a" not in home
    url = f"/portal/subscribers/{pulls['pull_a']}"
    page = _page(client.get(url))
    d = pulls["delivery_pull_a"]
    assert f"Delivery {d}: ping" in page and "Waiting for your next request" in page
    assert f"GET /api/v1/partner/events?subscriber={pulls['pull_a']}" in page
    assert f'action="/portal/deliveries/{d}/replay"' in page
    assert "Rotate secret" not in page and "Custom headers" not in page
    assert f"Delivery {d}:" in _page(client.get(f"{url}?status=available"))
    assert f"Delivery {d}:" not in _page(client.get(f"{url}?status=delivered"))
    # The WebSub subscription is the hub's: not reachable, nor its delivery.
    assert client.get(f"/portal/subscribers/{pulls['websub_a']}").status_code == 404
    replay = f"/portal/deliveries/{pulls['delivery_websub_a']}/replay"
    assert client.post(replay, data={"csrf_token": pa}).status_code == 404


def test_owned_delivery_reaches_the_kinds_asked_for(rt, world, pulls):
    with rt.db.read() as s:
        d = pulls["delivery_pull_a"]
        assert partners.owned_delivery(s, world["a"], d, kinds=("webhook", "pull")).id == d
        for partner_id, delivery_id, kinds in (
            (world["a"], d, ("webhook",)),  # the default: webhooks only
            (world["b"], d, ("webhook", "pull")),
            (world["a"], pulls["delivery_websub_a"], ("webhook", "pull")),
        ):
            with pytest.raises(NotFound):
                partners.owned_delivery(s, partner_id, delivery_id, kinds=kinds)


def test_a_pulled_delivery_replayed_is_served_again(app, client, rt, world, pulls, pa):
    d, url = pulls["delivery_pull_a"], f"/portal/subscribers/{pulls['pull_a']}"
    with rt.db.read() as s:
        message_id = s.get(Delivery, d).message_id
    first = _pull_page(app, rt, world["a"])
    assert [(i["type"], i["id"]) for i in first["data"]] == [("ping", message_id)]
    ack = _ok(app.test_client(), _auth(rt, partner_id=world["a"]), after=first["cursor"])
    assert ack["data"] == []
    with rt.db.read() as s:
        assert s.get(Delivery, d).status == "delivered"
    page = _page(client.get(url))
    assert "Fetched at" in page and "Waiting for your next request" not in page

    r = client.post(f"/portal/deliveries/{d}/replay", data={"csrf_token": pa})
    assert r.status_code == 303 and r.headers["Location"] == url
    assert f"Delivery {d} queued again" in _page(client.get(url))
    with rt.db.read() as s:
        assert s.get(Delivery, d).status == "available"
    again = _pull_page(app, rt, world["a"])
    assert [(i["type"], i["id"]) for i in again["data"]] == [("ping", message_id)]


def test_every_action_on_the_partners_pull_subscriber(client, rt, world, pulls, pa):
    sub, d = pulls["pull_a"], pulls["delivery_pull_a"]
    url = f"/portal/subscribers/{sub}"

    r = client.post(f"{url}/test", data={"csrf_token": pa})
    assert r.status_code == 303 and r.headers["Location"] == url
    with rt.db.read() as s:
        rows = s.scalars(select(Delivery).where(Delivery.subscriber_id == sub)).all()
        assert sorted(x.status for x in rows) == ["available", "available"]

    client.post(f"{url}/state", data={"csrf_token": pa, "pause": "1"})
    with rt.db.read() as s:
        row = s.get(Subscriber, sub)
        assert not row.active and row.disabled_reason == "paused by the partner (pa)"
    assert "Resume" in _page(client.get(url))
    with rt.db.write() as s:  # an event that came while it was paused
        s.get(Delivery, d).status = "skipped"
    client.post(f"{url}/state", data={"csrf_token": pa, "pause": "0"})
    with rt.db.read() as s:
        assert s.get(Subscriber, sub).active
    since = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(f"{url}/recover", data={"csrf_token": pa, "since": since})
    assert r.status_code == 303
    assert "1 deliveries queued again" in _page(client.get(url))
    with rt.db.read() as s:
        assert s.get(Delivery, d).status == "available"

    # Events: the form has no headers field; hostile extras are ignored as for a webhook.
    form = _page(client.get(f"{url}/settings"))
    assert 'name="event_types"' in form and 'id="headers"' not in form
    r = client.post(
        f"{url}/settings",
        data={"csrf_token": pa, "event_types": ["story.published"], "headers": "",
              "url": "https://evil.example/", "name": "renamed", "throttle": "0.1"},
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["Location"] == url
    with rt.db.read() as s:
        row = s.get(Subscriber, sub)
        assert row.event_types == ["story.published"]
        assert (row.url, row.name, row.throttle, row.headers or {}) == ("", "pull-a", None, {})
    assert "story.published" in _page(client.get(url))


@pytest.mark.parametrize(
    "headers", ["Authorization: Bearer x", "no colon at all", "X-A: 1\nx-a: 2", "X: " + "v" * 1001]
)
def test_a_pull_subscriber_takes_no_headers(client, rt, world, pulls, pa, headers):
    before = _snapshot(rt)
    url = f"/portal/subscribers/{pulls['pull_a']}/settings"
    r = client.post(url, data={"csrf_token": pa, "headers": headers})
    assert r.status_code == 422
    assert "a pull subscriber has none: its partner fetches its events" in _page(r)
    assert _snapshot(rt) == before


def test_a_pull_subscriber_has_no_secret_to_rotate(client, rt, world, pulls, pa):
    before = _snapshot(rt)
    url = f"/portal/subscribers/{pulls['pull_a']}/rotate-secret"
    for response in (client.get(url), client.post(url, data={"csrf_token": pa, "rotation": ""})):
        assert response.status_code == 409
        page = _page(response)
        assert "has no signing secret" in page and 'name="rotation"' not in page
        assert "whsec_" not in page
    assert _snapshot(rt) == before


def test_nothing_of_another_partners_pull_subscriber_is_reachable(client, rt, world, pulls):
    pb = _session(client, "pb")
    before = _snapshot(rt)
    ids = {"sub_x": pulls["pull_a"], "delivery_x": pulls["delivery_pull_a"]}
    for method, url, form in _every_portal_request(ids, "x", pb):
        response = client.open(url, method=method, data=form)
        assert response.status_code == 404, (method, url)
        assert "pull-a" not in _page(response)
    assert "pull-a" not in _page(client.get("/portal/")) and "pull-b" in _page(
        client.get("/portal/")
    )
    assert _snapshot(rt) == before
