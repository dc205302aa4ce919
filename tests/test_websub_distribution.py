"""WebSub distribution (the `websub` transmitter, push/websub/transmitter.py, through the delivery
engine): real subscriber callbacks on 127.0.0.1, real feed parsing, a clock moved by hand for
retries, on SQLite and PostgreSQL; the admin's
subscriptions (API and web admin); and a subscriber built on an independent implementation of
the subscriber role (the `flask-websub` package) subscribing at our hub and receiving a real
notification.

Verified subscriptions are made here as the hub makes them (a `Subscriber` row of kind
"websub"), so that distribution is tested on its own; the flask-websub test goes through the
hub's own POST /hub and verification of intent (push/websub/verify.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

import feeds
from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.channels.pages import feed_url
from syndication.channels.service import create_channel
from syndication.models import Channel, Delivery, DeliveryAttempt, Subscriber
from syndication.push.queue import dispatch_events
from syndication.push.websub import transmitter as websub
from syndication.push.websub import verify
from syndication.runtime import Runtime
from syndication.stories.service import create_story, retract_story, update_story

from .conftest import BASE_URL, make_settings
from .pushkit import (
    FakeClock,
    Receiver,
    attempts,
    deliveries,
    receiver,  # noqa: F401 - a fixture
    settle,
)

HUB = f"{BASE_URL}/hub"
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1", retry_schedule="5,300,1800")


@pytest.fixture
def app(settings):
    """The app on a clock moved by hand: every time in these tests is read from it."""
    app = create_app(runtime=Runtime.create(settings, FakeClock()))
    app.config["TESTING"] = True
    yield app
    app.extensions["syndication"].close()


@pytest.fixture
def ctx(rt):
    ctx = rt.push.derive(rand=lambda: 0.5)
    yield ctx
    ctx.close()


@pytest.fixture
def channels(rt):
    """ "sport" (section Sport) and "local" (section Local), every format."""
    with rt.db.write() as s:
        now = rt.clock()
        create_channel(
            s, {"slug": "sport", "title": "Sport", "filter": {"sections": ["Sport"]}}, now=now
        )
        create_channel(
            s, {"slug": "local", "title": "Local", "filter": {"sections": ["Local"]}}, now=now
        )
    return ("sport", "local")


def subscribe(rt, callback: str, slug: str = "sport", fmt: str = "rss", **fields) -> int:
    """A verified subscription, as the hub records one after verification of intent."""
    now = rt.clock()
    with rt.db.write() as s:
        sub = Subscriber(
            kind="websub",
            name=f"websub {callback}",
            url=callback,
            secret=fields.pop("secret", ""),
            channels=[slug],
            topic=feed_url(rt.settings, slug, fmt),
            topic_format=fmt,
            lease_seconds=3600,
            lease_expires_at=fields.pop("lease_expires_at", now + timedelta(hours=1)),
            verified_at=now,
            active=fields.pop("active", True),
            created_at=now,
            **fields,
        )
        s.add(sub)
        s.flush()
        return sub.id


def publish(rt, code: str, section: str = "Sport", **fields) -> None:
    data = {"code": code, "title": f"Headline {code}", "status": "published", "section": section}
    data.update(fields)
    with rt.db.write() as s:
        create_story(s, rt.settings, data, now=rt.clock())


def dispatch(ctx) -> int:
    return dispatch_events(ctx.db, ctx.transmitters, ctx.clock)


def subscriber(rt, sub_id: int) -> Subscriber:
    with rt.db.read() as s:
        return s.get(Subscriber, sub_id)


def link_header(topic: str) -> str:
    return f'<{HUB}>; rel="hub", <{topic}>; rel="self"'


# -- what is sent --------------------------------------------------------------------------------


def test_unsigned_notification_is_the_current_document(rt, channels, receiver, ctx):
    sub_id = subscribe(rt, receiver.url("/cb"))
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 1)

    (_, h, body) = receiver.on("/cb")[0]
    assert h["content-type"] == feeds.CONTENT_TYPES["rss"]
    assert h["link"] == link_header(f"{BASE_URL}/feeds/sport.rss")
    assert "x-hub-signature" not in h
    assert not [k for k in h if k.startswith("webhook-")]  # no Standard Webhooks headers
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    assert [e.title for e in parsed.entries] == ["Headline s1"]

    (d,) = deliveries(rt)
    assert d.subscriber_id == sub_id and d.status == "delivered" and d.attempts == 1
    (a,) = attempts(rt, d.id)
    assert a.status_code == 200
    assert subscriber(rt, sub_id).last_success_at is not None


def test_body_equals_the_polled_feed(rt, client, channels, receiver, ctx):
    subscribe(rt, receiver.url("/cb"), fmt="atom")
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 1)
    (_, h, body) = receiver.on("/cb")[0]
    polled = client.get("/feeds/sport.atom")
    assert polled.status_code == 200
    assert body == polled.data and h["content-type"] == polled.headers["Content-Type"]


def test_signed_notification_carries_a_valid_x_hub_signature(rt, channels, receiver, ctx):
    secret = "a shared secret of the subscriber"
    subscribe(rt, receiver.url("/signed"), secret=secret)
    subscribe(rt, receiver.url("/plain"))
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 2)

    (_, h, body) = receiver.on("/signed")[0]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    algo, _, digest = h["x-hub-signature"].partition("=")
    assert algo == "sha256" and hmac.compare_digest(digest, expected)
    # a different secret does not verify
    other = hmac.new(b"another secret", body, hashlib.sha256).hexdigest()
    assert digest != other
    (_, h2, body2) = receiver.on("/plain")[0]
    assert "x-hub-signature" not in h2 and body2 == body  # same topic, same document


def test_rss_atom_and_json_topics_each_with_their_content_type_and_links(
    rt, channels, receiver, ctx
):
    for fmt in ("rss", "atom", "json"):
        subscribe(rt, receiver.url(f"/{fmt}"), fmt=fmt)
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 3)

    for fmt in ("rss", "atom", "json"):
        (_, h, body) = receiver.on(f"/{fmt}")[0]
        assert h["content-type"] == feeds.CONTENT_TYPES[fmt]
        assert h["link"] == link_header(f"{BASE_URL}/feeds/sport.{fmt}")
        if fmt == "json":
            doc = json.loads(body)
            assert doc["version"] == "https://jsonfeed.org/version/1.1"
            assert doc["feed_url"] == f"{BASE_URL}/feeds/sport.json"
            assert [i["title"] for i in doc["items"]] == ["Headline s1"]
            assert doc["hubs"][0]["url"] == HUB
        else:
            parsed = feedparser.parse(body)
            assert not parsed.bozo, parsed.bozo_exception
            assert parsed.version == ("rss20" if fmt == "rss" else "atom10")
            assert [e.title for e in parsed.entries] == ["Headline s1"]
            rels = {link.rel: link.href for link in parsed.feed.links}
            assert rels["hub"] == HUB and rels["self"] == f"{BASE_URL}/feeds/sport.{fmt}"


def test_update_and_retraction_notify_with_the_document_as_it_is_then(rt, channels, receiver, ctx):
    subscribe(rt, receiver.url("/cb"), fmt="json")
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 1)

    with rt.db.write() as s:
        update_story(s, rt.settings, "s1", {"title": "Corrected headline"}, now=rt.clock())
    settle(ctx, lambda: len(receiver.requests) == 2)
    assert [i["title"] for i in json.loads(receiver.on("/cb")[1][2])["items"]] == [
        "Corrected headline"
    ]

    with rt.db.write() as s:
        retract_story(s, rt.settings, "s1", now=rt.clock())
    settle(ctx, lambda: len(receiver.requests) == 3)
    assert json.loads(receiver.on("/cb")[2][2])["items"] == []  # gone from the topic


# -- who receives --------------------------------------------------------------------------------


def test_a_story_of_another_channel_notifies_nobody_else(rt, channels, receiver, ctx):
    subscribe(rt, receiver.url("/sport"), slug="sport")
    subscribe(rt, receiver.url("/local"), slug="local")
    publish(rt, "l1", section="Local")
    settle(ctx, lambda: len(receiver.requests) >= 1)
    dispatch(ctx)
    ctx.engine.drain()
    assert receiver.on("/sport") == []
    (_, _, body) = receiver.on("/local")[0]
    assert [e.title for e in feedparser.parse(body).entries] == ["Headline l1"]
    assert len(deliveries(rt)) == 1


def test_a_story_moved_to_another_channel_notifies_both(rt, channels, receiver, ctx):
    """The story leaves "sport" for "local": both topics changed, both are notified."""
    subscribe(rt, receiver.url("/sport"), slug="sport")
    subscribe(rt, receiver.url("/local"), slug="local")
    publish(rt, "m1", section="Sport")
    settle(ctx, lambda: len(receiver.requests) == 1)
    with rt.db.write() as s:
        update_story(s, rt.settings, "m1", {"section": "Local"}, now=rt.clock())
    settle(ctx, lambda: len(receiver.requests) == 3)
    (_, _, before), (_, _, after) = receiver.on("/sport")
    assert [e.title for e in feedparser.parse(before).entries] == ["Headline m1"]
    assert feedparser.parse(after).entries == []  # gone from sport
    (_, _, body) = receiver.on("/local")[0]
    assert [e.title for e in feedparser.parse(body).entries] == ["Headline m1"]


def test_unverified_inactive_and_expired_subscriptions_receive_nothing(rt, channels, receiver, ctx):
    past = rt.clock() - timedelta(seconds=1)
    subscribe(rt, receiver.url("/expired"), lease_expires_at=past)
    subscribe(rt, receiver.url("/ended"), active=False)
    unverified = subscribe(rt, receiver.url("/unverified"))
    with rt.db.write() as s:
        s.get(Subscriber, unverified).verified_at = None
    subscribe(rt, receiver.url("/live"))
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) >= 1)
    ctx.engine.drain()
    assert [p for _, p, _, _ in receiver.requests] == ["/live"]
    assert len(deliveries(rt)) == 1  # none was even queued for the others


def test_a_lease_expiring_before_the_send_cancels_the_notification(rt, channels, receiver, ctx):
    sub_id = subscribe(rt, receiver.url("/cb"))
    publish(rt, "s1")
    assert dispatch(ctx) == 1  # queued while the lease ran
    with rt.db.write() as s:
        s.get(Subscriber, sub_id).lease_expires_at = rt.clock() - timedelta(seconds=1)
    ctx.engine.drain()
    assert receiver.requests == []
    (d,) = deliveries(rt)
    assert d.status == "cancelled" and "lease" in (d.last_error or "")
    assert attempts(rt, d.id) == []


def test_changes_before_a_send_are_coalesced_into_one_notification(rt, channels, receiver, ctx):
    sub_id = subscribe(rt, receiver.url("/cb"), fmt="json")
    publish(rt, "s1")
    assert dispatch(ctx) == 1
    publish(rt, "s2")
    assert dispatch(ctx) == 0  # a notification is already queued and not yet attempted
    with rt.db.write() as s:
        channel_id = s.scalar(select(Channel.id).where(Channel.slug == "sport"))
        assert websub.topic_changed(s, channel_id, rt.clock()) == 0  # publish: same
    settle(ctx, lambda: len(receiver.requests) == 1)
    ctx.engine.drain()
    assert len(receiver.requests) == 1
    titles = [i["title"] for i in json.loads(receiver.requests[0][3])["items"]]
    assert titles == ["Headline s2", "Headline s1"]  # both changes, one notification

    # once sent, the next change is notified again
    publish(rt, "s3")
    settle(ctx, lambda: len(receiver.requests) == 2)
    assert len([d for d in deliveries(rt) if d.subscriber_id == sub_id]) == 2


def test_topic_changed_queues_every_live_subscription_of_the_channel(rt, channels, receiver, ctx):
    for fmt in ("rss", "atom", "json"):
        subscribe(rt, receiver.url(f"/{fmt}"), fmt=fmt)
    subscribe(rt, receiver.url("/local"), slug="local")
    with rt.db.write() as s:
        sport = s.scalar(select(Channel).where(Channel.slug == "sport"))
        assert websub.topic_changed(s, sport.id, rt.clock()) == 3
        assert websub.topic_changed(s, 10_000, rt.clock()) == 0  # no such channel
    settle(ctx, lambda: len(receiver.requests) == 3)
    assert {p for _, p, _, _ in receiver.requests} == {"/rss", "/atom", "/json"}
    assert {d.status for d in deliveries(rt)} == {"delivered"}


# -- answers: 410, failures and retries ------------------------------------------------------------


def test_410_ends_the_subscription(rt, channels, ctx):
    r = Receiver(lambda path, n: (410, {}, b"gone"))
    try:
        sub_id = subscribe(rt, r.url("/cb"))
        publish(rt, "s1")
        settle(ctx, lambda: deliveries(rt) and deliveries(rt)[0].status == "dead")
        sub = subscriber(rt, sub_id)
        assert sub.active is False and "410" in sub.disabled_reason
        publish(rt, "s2")
        dispatch(ctx)
        ctx.engine.drain()
        assert len(r.requests) == 1 and len(deliveries(rt)) == 1
    finally:
        r.close()


def test_failures_are_retried_through_the_delivery_machinery(rt, channels, ctx):
    answers = {1: 500, 2: 503}
    r = Receiver(lambda path, n: (answers.get(n, 200), {}, b"x"))
    try:
        subscribe(rt, r.url("/cb"), secret="s")
        publish(rt, "s1")
        settle(ctx, lambda: deliveries(rt) and deliveries(rt)[0].status == "delivered")
        (d,) = deliveries(rt)
        log = attempts(rt, d.id)
        assert [a.status_code for a in log] == [500, 503, 200]
        assert d.attempts == 3 and d.last_status_code == 200
        assert all(isinstance(a, DeliveryAttempt) and a.latency_ms is not None for a in log)
        bodies = [b for _, _, b in r.on("/cb")]
        # every try is signed and carries the topic's document
        for _, h, b in r.on("/cb"):
            assert h["x-hub-signature"] == websub.signature("s", b)
        assert all(b"Headline s1" in b for b in bodies)
    finally:
        r.close()


def test_a_failing_callback_gives_up_on_the_schedule(rt, channels, ctx):
    r = Receiver(lambda path, n: (500, {}, b"down"))
    try:
        subscribe(rt, r.url("/cb"))
        publish(rt, "s1")
        settle(ctx, lambda: deliveries(rt) and deliveries(rt)[0].status == "dead")
        (d,) = deliveries(rt)
        assert len(attempts(rt, d.id)) == 4  # the first try and three retries
    finally:
        r.close()


# -- admin: API and web admin ----------------------------------------------------------------------


def _token(rt, role: str) -> dict[str, str]:
    with rt.db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, role, role, now=rt.clock())[1]}"}


def test_api_lists_reads_and_removes_subscriptions(rt, client, channels, receiver, ctx):
    admin = _token(rt, "admin")
    live = subscribe(rt, receiver.url("/cb"), secret="x")
    expired = subscribe(rt, receiver.url("/old"), lease_expires_at=rt.clock() - timedelta(hours=1))
    subscribe(rt, receiver.url("/other"), slug="local")
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 1)

    r = client.get("/api/v1/channels/sport/subscriptions", headers=admin)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["next"] is None
    items = {i["id"]: i for i in body["items"]}
    assert set(items) == {live, expired}
    assert items[live]["callback"] == receiver.url("/cb") and items[live]["signed"] is True
    assert items[live]["state"] == "active" and items[live]["format"] == "rss"
    assert items[live]["topic"] == f"{BASE_URL}/feeds/sport.rss"
    assert items[live]["lease_expires_at"].endswith("Z")
    assert items[live]["last_delivery"]["status"] == "delivered"
    assert items[live]["last_delivery"]["last_status_code"] == 200
    assert items[expired]["state"] == "expired" and items[expired]["last_delivery"] is None

    assert client.get(f"/api/v1/subscriptions/{live}", headers=admin).get_json() == items[live]
    # the notification is in the one delivery log, beside partner webhooks
    log = client.get(f"/api/v1/deliveries?subscriber={live}", headers=admin).get_json()
    assert [d["event_type"] for d in log["items"]] == ["story.published"]

    assert client.get("/api/v1/channels/nope/subscriptions", headers=admin).status_code == 404
    reader = _token(rt, "reader")
    assert client.get("/api/v1/channels/sport/subscriptions", headers=reader).status_code == 403
    assert client.delete(f"/api/v1/subscriptions/{live}", headers=reader).status_code == 403

    assert client.delete(f"/api/v1/subscriptions/{live}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/subscriptions/{live}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/subscriptions/{live}", headers=admin).status_code == 404
    with rt.db.read() as s:
        assert s.scalars(select(Delivery).where(Delivery.subscriber_id == live)).all() == []
    publish(rt, "s2")
    dispatch(ctx)
    ctx.engine.drain()
    assert len(receiver.on("/cb")) == 1  # nothing more after removal


def test_openapi_documents_the_subscription_operations(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/channels/{slug}/subscriptions"]
    assert {"get", "delete"} <= set(paths["/api/v1/subscriptions/{subscription_id}"])


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _login(client, rt, username: str, role: str) -> str:
    with rt.db.write() as s:
        create_user(s, username, PASSWORD, role, datetime.now(UTC))
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    r = client.post(
        "/admin/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf}
    )
    assert r.status_code == 303
    return _csrf_of(client.get("/admin/").get_data(as_text=True))


def test_web_admin_channel_page_lists_and_removes_subscriptions(
    rt, client, channels, receiver, ctx
):
    sub_id = subscribe(rt, receiver.url("/cb"))
    publish(rt, "s1")
    settle(ctx, lambda: len(receiver.requests) == 1)
    csrf = _login(client, rt, "root", "admin")

    page = client.get("/admin/channels/sport").get_data(as_text=True)
    assert "WebSub subscriptions" in page and receiver.url("/cb") in page
    action = f"/admin/websub/{sub_id}/delete"
    assert action in page and "delivered" in page

    assert client.post(action, data={}).status_code == 400  # no CSRF token
    assert subscriber(rt, sub_id) is not None
    confirm = client.get(action)
    assert confirm.status_code == 200 and "Remove subscription" in confirm.get_data(as_text=True)
    r = client.post(action, data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith(
        "/admin/channels/sport#subscriptions"
    )
    assert subscriber(rt, sub_id) is None
    after = client.get("/admin/channels/sport").get_data(as_text=True)
    assert "Subscription removed." in after and receiver.url("/cb") not in after
    assert client.post(action, data={"csrf_token": csrf}).status_code == 404


def test_web_admin_hides_subscriptions_from_readers(rt, client, channels, receiver):
    subscribe(rt, receiver.url("/cb"))
    _login(client, rt, "reader1", "reader")
    page = client.get("/admin/channels/sport").get_data(as_text=True)
    assert "WebSub subscriptions" not in page and receiver.url("/cb") not in page
    assert client.get("/admin/websub/1/delete").status_code == 403


# -- an independent subscriber: flask-websub -------------------------------------------------------


class Served:
    """A WSGI app on a real 127.0.0.1 port, in a thread."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_flask_websub_subscriber_receives_a_real_notification(app, rt, channels, tmp_path, ctx):
    """flask-websub (PyPI `Flask-WebSub`, its subscriber role) subscribes at our /hub, verifies
    the intent our hub sends, and hands its listener the notification of a new story."""
    flask_websub = pytest.importorskip("flask_websub.subscriber")
    from flask import Flask

    ours = Served(app)
    theirs_app = Flask("reader")
    client = flask_websub.Subscriber(
        flask_websub.SQLite3SubscriberStorage(str(tmp_path / "sub.db")),
        flask_websub.SQLite3TempSubscriberStorage(str(tmp_path / "sub-temp.db")),
    )
    theirs_app.register_blueprint(client.build_blueprint(url_prefix="/callbacks"))
    received: list[tuple[str, str, bytes]] = []
    verified: list[tuple[str, str, str]] = []
    client.add_listener(lambda topic, cb_id, body: received.append((topic, cb_id, body)))
    client.add_success_handler(lambda topic, cb_id, mode: verified.append((topic, cb_id, mode)))
    theirs = Served(theirs_app)
    try:
        topic = f"{BASE_URL}/feeds/sport.atom"
        with theirs_app.test_request_context(base_url=theirs.base):
            # over http the library sends no hub.secret (it only does over https)
            callback_id = client.subscribe(
                topic_url=topic, hub_url=f"{ours.base}/hub", lease_seconds=3600
            )
        deadline = time.monotonic() + 15
        while not verified:
            assert time.monotonic() < deadline, "verification of intent never reached it"
            verify.verify_intents(rt.push)
            time.sleep(0.05)
        assert verified == [(topic, callback_id, "subscribe")]
        with rt.db.read() as s:
            (sub,) = s.scalars(select(Subscriber).where(Subscriber.kind == "websub")).all()
            assert sub.topic == topic and sub.verified_at is not None
            assert sub.url.startswith(f"{theirs.base}/callbacks/{callback_id}")

        publish(rt, "s1", title="Cup final tonight")
        settle(ctx, lambda: bool(received))
        (got_topic, got_id, body) = received[0]
        assert (got_topic, got_id) == (topic, callback_id)
        parsed = feedparser.parse(body)
        assert [e.title for e in parsed.entries] == ["Cup final tonight"]
    finally:
        theirs.close()
        ours.close()
