"""The WebSub hub, subscribing side (push/websub/hub.py, POST /hub, push/websub/verify.py): the
hub checklist of the WebSub test suite for subscriptions, with real subscriber callbacks on
127.0.0.1 (a werkzeug server in a thread answering verification GETs as told) and the
verification / expiry jobs run in-process on a clock moved by hand, on SQLite and PostgreSQL;
and the hub's defences against being used as an amplifier (rate limits, pending caps, publish
of an unchanged topic)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from syndication.app import create_app
from syndication.channels.service import create_channel, delete_channel, update_channel
from syndication.config import ConfigError, load_settings
from syndication.models import Delivery, HubIntent, Subscriber
from syndication.outbound import OutboundClient, OutboundPolicy
from syndication.push.websub import hub
from syndication.push.websub import verify as verification
from syndication.push.websub.transmitter import live_subscribers
from syndication.runtime import Runtime
from syndication.scheduler import start_scheduler
from syndication.stories.service import create_story
from tests.servers import free_port

from .conftest import BASE_URL, make_settings
from .pushkit import wait_for
from .storyfactory import links

FORM = "application/x-www-form-urlencoded"
TOPIC = f"{BASE_URL}/feeds/world.rss"
DAY = 86400


class Callback:
    """A subscriber's callback server. `answer` decides how verification GETs are answered:
    "echo" (200 + the challenge), "404", "500", "wrong" (200 + another body), "newline"
    (200 + the challenge and a newline), "redirect" (302). Every request is recorded."""

    def __init__(self) -> None:
        self.answer = "echo"
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str]] = []  # (method, path, raw query string)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/cb") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def app(self, environ, start_response):  # type: ignore[no-untyped-def]
        query = environ.get("QUERY_STRING", "")
        with self.lock:
            self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], query))
        args = dict(parse_qsl(query))
        challenge = args.get("hub.challenge", "").encode()
        status, body, headers = "200 OK", challenge, []
        if args.get("hub.mode") == "denied":
            body = b""
        elif self.answer == "404":
            status, body = "404 Not Found", b"no such subscription"
        elif self.answer == "500":
            status, body = "500 Oops", challenge
        elif self.answer == "wrong":
            body = b"not-the-challenge"
        elif self.answer == "newline":
            body = challenge + b"\n"
        elif self.answer == "redirect":
            status, headers = "302 Found", [("Location", self.url("/elsewhere"))]
        start_response(status, [("Content-Type", "text/plain"), *headers])
        return [body]

    def gets(self, mode: str | None = None) -> list[dict[str, str]]:
        """The query arguments of every GET received (of one hub.mode if given)."""
        with self.lock:
            found = [dict(parse_qsl(q)) for m, _p, q in self.requests if m == "GET"]
        return [a for a in found if mode is None or a.get("hub.mode") == mode]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(
        db_url,
        tmp_path,
        outbound_allow="127.0.0.1",
        retry_schedule="0.01,0.01,0.01",
        poll_interval=0.2,
    )


@pytest.fixture
def app(clocked_app):
    """The app on a clock moved by hand: requests, verification and expiry all read it."""
    return clocked_app


@pytest.fixture
def callback():
    cb = Callback()
    yield cb
    cb.close()


def _channels(rt) -> str:
    with rt.db.write() as s:
        create_channel(s, {"slug": "world", "title": "World"}, now=rt.clock())
        create_channel(s, {"slug": "rss-only", "title": "RSS", "formats": ["rss"]}, now=rt.clock())
    return "world"


@pytest.fixture
def channel(rt):
    return _channels(rt)


@pytest.fixture
def channel_rows():
    return _channels


def post(client, content_type: str = FORM, **params: str):
    """POST /hub with `params` (hub_mode="subscribe" → hub.mode=subscribe)."""
    body = urlencode([(k.replace("hub_", "hub.", 1), v) for k, v in params.items()])
    return client.post("/hub", data=body, content_type=content_type)


def subscribe(client, callback_url: str, topic: str = TOPIC, **extra: str):
    return post(client, hub_mode="subscribe", hub_topic=topic, hub_callback=callback_url, **extra)


def verify(rt) -> int:
    return verification.verify_intents(rt.push)


def expire(rt, now=None) -> int:
    """The expiry job, now or at `now`."""
    if now is None:
        return verification.expire_leases(rt.push)
    at = rt.push.derive(clock=lambda: now, outbound=rt.push.outbound)
    return verification.expire_leases(at)


def subscriptions(rt) -> list[Subscriber]:
    with rt.db.read() as s:
        return list(
            s.scalars(select(Subscriber).where(Subscriber.kind == "websub").order_by(Subscriber.id))
        )


def intents(rt) -> list[HubIntent]:
    with rt.db.read() as s:
        return list(s.scalars(select(HubIntent).order_by(HubIntent.id)))


def live(rt) -> list[Subscriber]:
    with rt.db.read() as s:
        return live_subscribers(s, rt.clock())


# --- the typical subscription -------------------------------------------------------------------


def test_subscription_without_secret_is_verified_then_created(rt, client, channel, callback):
    before = rt.clock()
    response = subscribe(client, callback.url())
    assert response.status_code == 202
    assert response.mimetype == "text/plain"
    # Accepted, but nothing happens before verification of intent: no request, no subscription.
    assert callback.requests == []
    assert subscriptions(rt) == []
    [intent] = intents(rt)
    assert (intent.status, intent.mode, intent.topic) == ("pending", "subscribe", TOPIC)

    assert verify(rt) == 1
    [args] = callback.gets()
    assert args["hub.mode"] == "subscribe"
    assert args["hub.topic"] == TOPIC
    assert args["hub.lease_seconds"] == "864000"  # the default: 10 days
    assert len(args["hub.challenge"]) >= 32
    [sub] = subscriptions(rt)
    assert sub.url == callback.url()
    assert sub.secret == ""  # notifications unsigned
    assert sub.channels == ["world"]
    assert (sub.topic, sub.topic_format) == (TOPIC, "rss")
    assert sub.lease_seconds == 864000
    assert before + timedelta(seconds=864000) <= sub.lease_expires_at
    assert sub.lease_expires_at <= rt.clock() + timedelta(seconds=864000)
    assert sub.active and sub.verified_at is not None
    assert [s.id for s in live(rt)] == [sub.id]
    [intent] = intents(rt)
    assert (intent.status, intent.attempts) == ("verified", 1)
    assert intent.decided_at is not None
    assert verify(rt) == 0  # decided intents are not verified again


def test_subscription_with_secret(rt, client, channel, callback):
    secret = "s3cr3t-" + "x" * 150
    assert subscribe(client, callback.url(), hub_secret=secret).status_code == 202
    verify(rt)
    [sub] = subscriptions(rt)
    assert sub.secret == secret
    assert "hub.secret" not in callback.gets()[0]  # never sent back


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_each_format_is_its_own_topic(rt, client, channel, callback, fmt):
    topic = f"{BASE_URL}/feeds/world.{fmt}"
    assert subscribe(client, callback.url(), topic=topic).status_code == 202
    verify(rt)
    [sub] = subscriptions(rt)
    assert (sub.topic, sub.topic_format, sub.channels) == (topic, fmt, ["world"])


def _link_header(response) -> dict[str, str]:
    pairs = re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', response.headers["Link"])
    return {rel: href for href, rel in pairs}


def test_only_first_pages_advertise_the_hub_and_each_is_a_topic(rt, client, channel, callback):
    """Walking every page of every format: the first page advertises the hub with itself as
    self, in the document and the Link header, and subscribing to that self URL works; a later
    page has no hub (the hub would refuse it as a topic) and links to the first page."""
    with rt.db.write() as s:
        update_channel(s, "world", {"limit": 1}, now=rt.clock())
        for n in range(3):
            create_story(
                s,
                rt.settings,
                {"code": f"p{n}", "title": f"Page {n}"},
                now=rt.clock(),
                default_status="published",
            )
    for fmt in ("rss", "atom", "json"):
        url, first = f"/feeds/world.{fmt}", None
        walked = 0
        while url:
            response = client.get(url)
            assert response.status_code == 200
            header, doc = _link_header(response), links(response.data, fmt)
            assert header["self"] == doc["self"] == BASE_URL + url
            if first is None:
                first = doc["self"]
                assert header["hub"] == doc["hub"] == f"{BASE_URL}/hub"
                assert "first" not in header
            else:
                assert "hub" not in header and "hub" not in doc
                assert header["first"] == first
                # The hub agrees: this page is not one of its topics.
                refused = subscribe(client, callback.url(), topic=doc["self"])
                assert refused.status_code == 400
                assert "not a topic of this hub" in refused.get_data(as_text=True)
            walked += 1
            url = doc.get("next", "").removeprefix(BASE_URL)
        assert walked == 3
        assert subscribe(client, callback.url(f"/cb-{fmt}"), topic=first).status_code == 202
    assert verify(rt) == 3
    assert sorted(s.topic for s in live(rt)) == sorted(
        f"{BASE_URL}/feeds/world.{fmt}" for fmt in ("atom", "json", "rss")
    )


def test_extra_parameters_are_ignored(rt, client, channel, callback):
    response = subscribe(
        client, callback.url(), hub_verify="sync", hub_foo="bar", utm_source="x", other=""
    )
    assert response.status_code == 202
    verify(rt)
    [args] = callback.gets()
    assert set(args) == {"hub.mode", "hub.topic", "hub.challenge", "hub.lease_seconds"}
    assert len(subscriptions(rt)) == 1


def test_callback_query_string_is_kept_and_ours_appended(rt, client, channel, callback):
    url = callback.url("/cb?id=42&hub.mode=theirs&empty=")
    assert subscribe(client, url).status_code == 202
    verify(rt)
    with callback.lock:
        [(_method, path, query)] = callback.requests
    assert path == "/cb"
    # Theirs first, untouched (even a parameter named like ours), ours appended with "&".
    assert query.startswith("id=42&hub.mode=theirs&empty=&hub.mode=subscribe&hub.topic=")
    [sub] = subscriptions(rt)
    assert sub.url == url  # notifications go to the exact callback, query string included


def test_callback_fragment_is_dropped_and_unreserved_characters_decoded(
    rt, client, channel, callback
):
    raw = callback.url("/c%62?x=%7Ey%2F#frag")
    assert subscribe(client, raw, topic=f"{BASE_URL}/feeds/w%6Frld.rss").status_code == 202
    verify(rt)
    [sub] = subscriptions(rt)
    assert sub.url == callback.url("/cb?x=~y%2F")  # reserved %2F stays encoded
    assert sub.topic == TOPIC
    # The topic is echoed as given (decoded), the subscription keeps the canonical one.
    assert callback.gets()[0]["hub.topic"] == TOPIC


# --- re-subscribing, unsubscribing --------------------------------------------------------------


def test_resubscribe_updates_the_same_subscription(rt, client, channel, callback):
    assert (
        subscribe(client, callback.url(), hub_secret="first", hub_lease_seconds="7200").status_code
        == 202
    )
    verify(rt)
    [first] = subscriptions(rt)
    assert (first.secret, first.lease_seconds) == ("first", 7200)

    assert (
        subscribe(
            client, callback.url(), hub_secret="second", hub_lease_seconds="90000"
        ).status_code
        == 202
    )
    verify(rt)
    [again] = subscriptions(rt)
    assert again.id == first.id
    assert (again.secret, again.lease_seconds) == ("second", 90000)
    assert again.lease_expires_at > first.lease_expires_at

    # A renewal may drop the secret: notifications become unsigned.
    assert subscribe(client, callback.url()).status_code == 202
    verify(rt)
    [third] = subscriptions(rt)
    assert (third.id, third.secret, third.lease_seconds) == (first.id, "", 864000)
    challenges = [a["hub.challenge"] for a in callback.gets()]
    assert len(set(challenges)) == 3  # random, single use


def test_a_newer_request_supersedes_a_pending_one(rt, client, channel, callback):
    subscribe(client, callback.url(), hub_secret="old")
    subscribe(client, callback.url(), hub_secret="new")
    verify(rt)
    assert len(callback.gets()) == 1  # only the newest is verified
    [old, new] = intents(rt)
    assert old.status == "failed" and "superseded" in old.error
    assert new.status == "verified"
    [sub] = subscriptions(rt)
    assert sub.secret == "new"


def test_unsubscribe_takes_effect_once_verified(rt, client, channel, callback):
    subscribe(client, callback.url())
    verify(rt)
    response = post(client, hub_mode="unsubscribe", hub_topic=TOPIC, hub_callback=callback.url())
    assert response.status_code == 202
    [sub] = subscriptions(rt)
    assert sub.active  # nothing changes before verification

    verify(rt)
    args = callback.gets("unsubscribe")[0]
    assert args["hub.topic"] == TOPIC and args["hub.challenge"]
    assert "hub.lease_seconds" not in args
    [sub] = subscriptions(rt)
    assert not sub.active and sub.disabled_reason == "unsubscribed"
    assert live(rt) == []

    # Subscribing again revives the same subscription.
    subscribe(client, callback.url())
    verify(rt)
    [again] = subscriptions(rt)
    assert again.id == sub.id and again.active and again.disabled_reason is None


def test_unsubscribe_cancels_queued_notifications(rt, client, channel, callback):
    subscribe(client, callback.url())
    verify(rt)
    assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    with rt.db.read() as s:
        assert s.scalar(select(Delivery.status)) == "pending"
    post(client, hub_mode="unsubscribe", hub_topic=TOPIC, hub_callback=callback.url())
    verify(rt)
    with rt.db.read() as s:
        assert s.scalar(select(Delivery.status)) == "cancelled"


def test_unsubscribe_ignores_lease_and_secret(rt, client, channel, callback):
    response = post(
        client,
        hub_mode="unsubscribe",
        hub_topic=TOPIC,
        hub_callback=callback.url(),
        hub_lease_seconds="not a number",
        hub_secret="x" * 300,
    )
    assert response.status_code == 202


# --- verification failures leave the state unchanged --------------------------------------------


@pytest.mark.parametrize("answer", ["404", "500", "wrong", "newline", "redirect"])
def test_failed_verification_creates_nothing(rt, client, channel, callback, answer):
    callback.answer = answer
    assert subscribe(client, callback.url()).status_code == 202
    verify(rt)
    assert len(callback.gets("subscribe")) == 1  # no retry after an answer, no redirect followed
    assert subscriptions(rt) == []
    [intent] = intents(rt)
    assert intent.status == "failed" and intent.error


@pytest.mark.parametrize("answer", ["404", "500", "wrong"])
def test_failed_resubscribe_keeps_the_subscription(rt, client, channel, callback, answer):
    subscribe(client, callback.url(), hub_secret="kept", hub_lease_seconds="7200")
    verify(rt)
    [before] = subscriptions(rt)
    callback.answer = answer
    subscribe(client, callback.url(), hub_secret="ignored", hub_lease_seconds="99999")
    verify(rt)
    [after] = subscriptions(rt)
    assert (after.id, after.secret, after.lease_seconds) == (before.id, "kept", 7200)
    assert after.lease_expires_at == before.lease_expires_at and after.active
    assert intents(rt)[-1].status == "failed"


@pytest.mark.parametrize("answer", ["404", "wrong"])
def test_failed_unsubscribe_keeps_the_subscription(rt, client, channel, callback, answer):
    subscribe(client, callback.url())
    verify(rt)
    callback.answer = answer
    post(client, hub_mode="unsubscribe", hub_topic=TOPIC, hub_callback=callback.url())
    verify(rt)
    [sub] = subscriptions(rt)
    assert sub.active and [s.id for s in live(rt)] == [sub.id]


def test_a_callback_that_does_not_answer_is_tried_again_then_failed(rt, client, channel, clock):
    dead = f"http://127.0.0.1:{free_port()}/cb"  # nothing listens there
    assert subscribe(client, dead).status_code == 202
    verify(rt)
    [intent] = intents(rt)
    assert (intent.status, intent.attempts) == ("pending", 1)
    assert "no answer" in intent.error
    assert intent.next_attempt_at == clock() + timedelta(seconds=0.01)  # the retry schedule
    first_challenge = intent.challenge
    assert verify(rt) == 0, "not due yet"
    for _ in range(verification.MAX_ATTEMPTS):
        clock.advance(0.01)
        verify(rt)
    [intent] = intents(rt)
    assert (intent.status, intent.attempts) == ("failed", verification.MAX_ATTEMPTS)
    assert intent.challenge != first_challenge  # a new challenge for every attempt
    assert subscriptions(rt) == []


# --- denial -------------------------------------------------------------------------------------


def test_subscription_to_a_topic_removed_before_verification_is_denied(
    rt, client, channel, callback
):
    assert subscribe(client, callback.url()).status_code == 202
    with rt.db.write() as s:
        delete_channel(s, "world", now=rt.clock())
    verify(rt)
    assert callback.gets("subscribe") == []  # denied, not verified
    [args] = callback.gets("denied")
    assert args["hub.topic"] == TOPIC
    assert "no channel 'world'" in args["hub.reason"]
    assert "hub.challenge" not in args
    assert subscriptions(rt) == []
    [intent] = intents(rt)
    assert intent.status == "denied"
    assert "denial notice answered 200" in intent.error


def test_subscription_to_a_format_no_longer_published_is_denied(rt, client, channel, callback):
    subscribe(client, callback.url(), topic=f"{BASE_URL}/feeds/world.json")
    with rt.db.write() as s:
        update_channel(s, "world", {"formats": ["rss"]}, now=rt.clock())
    verify(rt)
    [args] = callback.gets("denied")
    assert "does not publish json" in args["hub.reason"]
    assert subscriptions(rt) == []


def test_a_live_subscription_whose_topic_goes_away_is_ended_with_a_denial(
    rt, client, channel, callback
):
    subscribe(client, callback.url())
    verify(rt)
    assert expire(rt) == 0
    with rt.db.write() as s:
        delete_channel(s, "world", now=rt.clock())
    assert expire(rt) == 1
    [sub] = subscriptions(rt)
    assert not sub.active and "no channel 'world'" in sub.disabled_reason
    [args] = callback.gets("denied")
    assert args["hub.topic"] == TOPIC and args["hub.reason"]
    assert expire(rt) == 0  # ended once, denied once
    assert len(callback.gets("denied")) == 1


# --- leases -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "granted"),
    [(None, 864000), ("1", 3600), ("3600", 3600), ("86400", 86400), ("999999999", 2592000)],
)
def test_lease_is_clamped_to_the_configured_bounds(
    rt, client, channel, callback, requested, granted
):
    extra = {} if requested is None else {"hub_lease_seconds": requested}
    assert subscribe(client, callback.url(), **extra).status_code == 202
    verify(rt)
    assert callback.gets()[0]["hub.lease_seconds"] == str(granted)
    [sub] = subscriptions(rt)
    assert sub.lease_seconds == granted


def test_expired_lease_makes_the_subscription_inactive_without_denial(
    rt, client, channel, callback
):
    subscribe(client, callback.url(), hub_lease_seconds="3600")
    verify(rt)
    [sub] = subscriptions(rt)
    assert expire(rt, now=sub.lease_expires_at - timedelta(seconds=1)) == 0
    assert subscriptions(rt)[0].active
    assert expire(rt, now=sub.lease_expires_at) == 1
    [sub] = subscriptions(rt)
    assert not sub.active and sub.disabled_reason == "lease expired"
    with rt.db.read() as s:
        assert live_subscribers(s, sub.lease_expires_at - timedelta(seconds=1)) == []
    assert callback.gets("denied") == []  # the lease simply ran out: no denial
    # Decided intents are kept a while, then deleted.
    assert len(intents(rt)) == 1
    expire(rt, now=rt.clock() + verification.INTENT_KEEP + timedelta(seconds=1))
    assert intents(rt) == []
    # Renewing after expiry revives the same subscription.
    subscribe(client, callback.url())
    verify(rt)
    [again] = subscriptions(rt)
    assert again.id == sub.id and again.active


def test_lease_settings_are_checked():
    with pytest.raises(ConfigError, match="websub_lease_default"):
        load_settings({"websub_lease_min": 7200, "websub_lease_default": 3600}, environ={})
    with pytest.raises(ConfigError, match="websub_lease_max"):
        load_settings({"websub_lease_max": 0}, environ={})


# --- 202 vs 4xx ---------------------------------------------------------------------------------

OK_CALLBACK = "http://127.0.0.1:9/cb"  # allowed by outbound_allow; never called by these tests


def _form(**params: str) -> dict[str, str]:
    base = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": OK_CALLBACK}
    base.update({k.replace("hub_", "hub.", 1): v for k, v in params.items()})
    return {k: v for k, v in base.items() if v is not None}


REQUESTS = [
    # (case, content type, body, status, words of the reason)
    ("subscribe", FORM, urlencode(_form()), 202, "Accepted"),
    ("form with charset", FORM + "; charset=UTF-8", urlencode(_form()), 202, "Accepted"),
    ("secret of 199 bytes", FORM, urlencode(_form(hub_secret="é" * 99 + "x")), 202, "Accepted"),
    (
        "host case and default port",
        FORM,
        urlencode(_form(hub_topic=TOPIC.replace("news.example.test", "NEWS.example.test:80"))),
        202,
        "Accepted",
    ),
    ("json body", "application/json", '{"hub.mode": "subscribe"}', 415, "Content-Type"),
    ("no content type", "", urlencode(_form()), 415, "Content-Type"),
    ("multipart", "multipart/form-data; boundary=x", "--x--", 415, "Content-Type"),
    ("latin-1 charset", FORM + "; charset=latin-1", urlencode(_form()), 400, "UTF-8"),
    ("body not utf-8", FORM, b"hub.mode=subscribe&hub.topic=\xff", 400, "UTF-8"),
    ("encoded bytes not utf-8", FORM, urlencode(_form()) + "&hub.secret=%ff", 400, "UTF-8"),
    ("no hub.mode", FORM, urlencode(_form(hub_mode=None)), 400, "hub.mode is required"),
    ("bad hub.mode", FORM, urlencode(_form(hub_mode="subscribed")), 400, "hub.mode must be"),
    ("no hub.topic", FORM, urlencode(_form(hub_topic=None)), 400, "hub.topic is required"),
    (
        "empty hub.callback",
        FORM,
        urlencode(_form(hub_callback="")),
        400,
        "hub.callback is required",
    ),
    (
        "duplicate hub.topic",
        FORM,
        urlencode(_form()) + "&" + urlencode({"hub.topic": TOPIC}),
        400,
        "hub.topic given 2 times",
    ),
    (
        "duplicate hub.callback",
        FORM,
        urlencode(_form()) + "&" + urlencode({"hub.callback": OK_CALLBACK}),
        400,
        "given 2 times",
    ),
    (
        "lease not a number",
        FORM,
        urlencode(_form(hub_lease_seconds="ten")),
        400,
        "hub.lease_seconds",
    ),
    ("lease zero", FORM, urlencode(_form(hub_lease_seconds="0")), 400, "positive"),
    ("lease negative", FORM, urlencode(_form(hub_lease_seconds="-60")), 400, "positive"),
    ("lease fractional", FORM, urlencode(_form(hub_lease_seconds="60.5")), 400, "positive"),
    ("secret of 200 bytes", FORM, urlencode(_form(hub_secret="x" * 200)), 400, "200 bytes"),
    ("secret of 200 utf-8 bytes", FORM, urlencode(_form(hub_secret="é" * 100)), 400, "200 bytes"),
    (
        "unknown channel",
        FORM,
        urlencode(_form(hub_topic=f"{BASE_URL}/feeds/nope.rss")),
        404,
        "no channel 'nope'",
    ),
    (
        "format not published",
        FORM,
        urlencode(_form(hub_topic=f"{BASE_URL}/feeds/rss-only.json")),
        404,
        "does not publish json",
    ),
    (
        "unknown format",
        FORM,
        urlencode(_form(hub_topic=f"{BASE_URL}/feeds/world.xml")),
        400,
        "not a topic of this hub",
    ),
    (
        "foreign topic",
        FORM,
        urlencode(_form(hub_topic="https://other.example/feeds/world.rss")),
        400,
        "not a topic of this hub",
    ),
    (
        "other scheme",
        FORM,
        urlencode(_form(hub_topic=TOPIC.replace("http:", "https:"))),
        400,
        "not a topic of this hub",
    ),
    ("a later page", FORM, urlencode(_form(hub_topic=TOPIC + "?before=x")), 400, "not a topic"),
    (
        "not a feed path",
        FORM,
        urlencode(_form(hub_topic=f"{BASE_URL}/channels/world")),
        400,
        "not a topic",
    ),
    (
        "private callback",
        FORM,
        urlencode(_form(hub_callback="http://10.1.2.3/cb")),
        400,
        "hub.callback refused",
    ),
    (
        "private https callback",
        FORM,
        urlencode(_form(hub_callback="https://192.168.0.10/cb")),
        400,
        "(private)",
    ),
    (
        "link-local callback",
        FORM,
        urlencode(_form(hub_callback="https://169.254.169.254/x")),
        400,
        "link-local",
    ),
    (
        "callback not http",
        FORM,
        urlencode(_form(hub_callback="ftp://127.0.0.1/cb")),
        400,
        "hub.callback refused",
    ),
    (
        "callback not a URL",
        FORM,
        urlencode(_form(hub_callback="just words")),
        400,
        "hub.callback refused",
    ),
    (
        "callback with credentials",
        FORM,
        urlencode(_form(hub_callback="https://user:pw@127.0.0.1/cb")),
        400,
        "credentials",
    ),
    ("publish", FORM, urlencode({"hub.mode": "publish", "hub.url": TOPIC}), 202, "Accepted"),
    (
        "publish by hub.topic",
        FORM,
        urlencode({"hub.mode": "publish", "hub.topic": TOPIC}),
        202,
        "Accepted",
    ),
    ("publish without url", FORM, urlencode({"hub.mode": "publish"}), 400, "hub.url"),
    (
        "publish foreign",
        FORM,
        urlencode({"hub.mode": "publish", "hub.url": "https://other.example/feed"}),
        400,
        "not a topic",
    ),
    (
        "publish unknown",
        FORM,
        urlencode({"hub.mode": "publish", "hub.url": f"{BASE_URL}/feeds/nope.atom"}),
        404,
        "nope",
    ),
]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "reason"),
    [r[1:] for r in REQUESTS],
    ids=[r[0] for r in REQUESTS],
)
def test_requests_are_accepted_or_refused_with_a_plain_text_reason(
    rt, client, channel, content_type, body, status, reason
):
    response = client.post("/hub", data=body, content_type=content_type or None)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    assert reason in response.get_data(as_text=True)
    if status != 202:
        assert intents(rt) == []  # a refused request stores nothing


def test_callback_on_loopback_is_refused_without_the_allow_list(db_url, tmp_path, channel):
    from syndication.app import create_app

    strict = create_app(
        load_settings(
            {"database_url": db_url, "base_url": BASE_URL, "instance_path": str(tmp_path / "i2")},
            environ={},
        )
    )
    try:
        response = subscribe(strict.test_client(), "http://127.0.0.1:8080/cb")
        assert response.status_code == 400
        assert "hub.callback refused" in response.get_data(as_text=True)
        response = subscribe(strict.test_client(), "https://localhost/cb")
        assert response.status_code == 400
        assert "loopback" in response.get_data(as_text=True)
    finally:
        strict.extensions["syndication"].close()


def test_verification_checks_the_callback_again(rt, client, channel, callback):
    """A callback accepted at request time but no longer allowed when verified is not called."""
    assert subscribe(client, callback.url()).status_code == 202
    strict = load_settings(
        {"database_url": rt.settings.database_url, "base_url": BASE_URL}, environ={}
    )
    ctx = rt.push.derive(strict)
    try:
        verification.verify_intents(ctx)
    finally:
        ctx.close()
    assert callback.requests == []
    [intent] = intents(rt)
    assert intent.status == "failed" and "callback refused" in intent.error


def test_hub_answers_other_methods_in_plain_text(client):
    response = client.get("/hub")
    assert response.status_code == 405
    assert response.mimetype == "text/plain"


# --- publish ------------------------------------------------------------------------------------


def test_publish_queues_a_notification_for_each_live_subscriber(rt, client, channel, callback):
    subscribe(client, callback.url())
    subscribe(client, callback.url("/other"), topic=f"{BASE_URL}/feeds/world.atom")
    verify(rt)
    assert len(live(rt)) == 2
    assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    with rt.db.read() as s:
        queued = s.scalars(select(Delivery.subscriber_id).where(Delivery.status == "pending"))
        assert sorted(queued) == sorted(sub.id for sub in live(rt))  # every topic of the channel


def test_publish_of_a_topic_without_subscribers_is_accepted(rt, client, channel):
    assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    with rt.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0


# --- the scheduler ------------------------------------------------------------------------------


def test_scheduler_verifies_and_expires(rt, client, channel, callback, clock):
    jobs = start_scheduler(rt)
    try:
        assert {"verify_intents", "expire_leases"} <= {j.id for j in jobs.scheduler.get_jobs()}
        assert subscribe(client, callback.url()).status_code == 202
        wait_for(lambda: bool(live(rt)))
        [sub] = live(rt)
        clock.advance(sub.lease_seconds)  # the lease ends now
        wait_for(lambda: not subscriptions(rt)[0].active)
        assert subscriptions(rt)[0].disabled_reason == "lease expired"
    finally:
        jobs.shutdown()


class GatedResolver:
    """DNS of the outside world, stubbed: `slow.example` answers 10.1.2.3 only once `gate` is
    set (until then the lookup hangs, as a resolver that never answers does)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0

    async def resolve(self, host, port):
        import asyncio

        self.calls += 1
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        return ["10.1.2.3"]


def test_a_callback_host_slow_to_resolve_does_not_hold_the_request(
    settings, channel_rows, monkeypatch
):
    """POST /hub is public: a callback whose DNS does not answer is accepted after
    hub.RESOLVE_TIMEOUT (the request does not wait for it: the lookup here never ends until
    the test lets it), and the check with DNS happens again before verification, which
    refuses a private address without sending anything."""
    monkeypatch.setattr(hub, "RESOLVE_TIMEOUT", 0.1)
    resolver = GatedResolver()
    outbound = OutboundClient(OutboundPolicy.from_settings(settings), resolver=resolver)
    app = create_app(runtime=Runtime.create(settings, outbound=outbound))
    rt = app.extensions["syndication"]
    try:
        channel_rows(rt)
        response = subscribe(app.test_client(), "https://slow.example/cb")
        assert response.status_code == 202, response.get_data(as_text=True)
        [intent] = intents(rt)
        assert intent.status == "pending"
        resolver.gate.set()
        verify(rt)
        [intent] = intents(rt)
        assert "callback refused" in intent.error and "10.1.2.3" in intent.error
        assert "private" in intent.error
        assert subscriptions(rt) == []
    finally:
        rt.close()
        outbound.close()


# --- not an amplifier ---------------------------------------------------------------------------


@pytest.fixture
def limited(db_url, tmp_path, clock):
    """An app factory on this test's database with the hub's limits set low; every app made
    shares the clock (and, through the database, the counts)."""
    made = []

    def make(**overrides):
        settings = make_settings(
            db_url,
            tmp_path,
            outbound_allow="127.0.0.1",
            retry_schedule="0.01,0.01,0.01",
            **overrides,
        )
        app = create_app(runtime=Runtime.create(settings, clock))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["syndication"].close()


def _from(client, address: str, **params: str):
    body = urlencode([(k.replace("hub_", "hub.", 1), v) for k, v in params.items()])
    return client.post("/hub", data=body, content_type=FORM, environ_base={"REMOTE_ADDR": address})


def test_each_client_address_posts_at_most_hub_rate_limit_a_minute(limited, callback, clock):
    app = limited(hub_rate_limit=3)
    rt = app.extensions["syndication"]
    _channels(rt)
    client = app.test_client()
    # Bad requests count as much as good ones.
    answers = [
        _from(client, "203.0.113.7", hub_mode="subscribe", hub_topic=TOPIC).status_code,
        _from(client, "203.0.113.7", hub_mode="publish", hub_url=TOPIC).status_code,
        _from(
            client,
            "203.0.113.7",
            hub_mode="subscribe",
            hub_topic=TOPIC,
            hub_callback=callback.url(),
        ).status_code,
    ]
    assert answers == [400, 202, 202]
    refused = _from(client, "203.0.113.7", hub_mode="publish", hub_url=TOPIC)
    assert refused.status_code == 429 and refused.mimetype == "text/plain"
    window_left = 60 - int(clock().timestamp()) % 60
    assert refused.headers["Retry-After"] == str(window_left)
    assert "at most 3 a minute" in refused.get_data(as_text=True)
    # Another address has its own count; another app (process) on the database shares it.
    assert _from(client, "198.51.100.1", hub_mode="publish", hub_url=TOPIC).status_code == 202
    other = limited(hub_rate_limit=3).test_client()
    assert _from(other, "203.0.113.7", hub_mode="publish", hub_url=TOPIC).status_code == 429
    # The next window opens the door again.
    clock.advance(window_left)
    assert _from(client, "203.0.113.7", hub_mode="publish", hub_url=TOPIC).status_code == 202


def test_ipv6_clients_are_counted_per_64(limited):
    app = limited(hub_rate_limit=2)
    _channels(app.extensions["syndication"])
    client = app.test_client()
    codes = [
        _from(client, f"2001:db8:1:2::{n}", hub_mode="publish", hub_url=TOPIC).status_code
        for n in range(1, 4)
    ]
    assert codes == [202, 202, 429]
    assert _from(client, "2001:db8:1:3::1", hub_mode="publish", hub_url=TOPIC).status_code == 202


def test_behind_trusted_proxies_the_real_client_is_counted(limited):
    """Without trusted_proxies, X-Forwarded-For is anyone's to write and is ignored; behind a
    proxy (trusted_proxies = 1) it names the client, so the clients behind one proxy do not
    share a count."""
    direct = limited(hub_rate_limit=1).test_client()
    _channels(direct.application.extensions["syndication"])

    def post(client, forwarded: str):
        body = urlencode({"hub.mode": "publish", "hub.url": TOPIC})
        return client.post(
            "/hub",
            data=body,
            content_type=FORM,
            headers={"X-Forwarded-For": forwarded},
            environ_base={"REMOTE_ADDR": "192.0.2.10"},
        ).status_code

    assert [post(direct, "203.0.113.1"), post(direct, "203.0.113.2")] == [202, 429]
    proxied = limited(hub_rate_limit=1, trusted_proxies=1).test_client()
    assert [post(proxied, "203.0.113.3"), post(proxied, "203.0.113.4")] == [202, 202]
    assert post(proxied, "203.0.113.3") == 429


def test_pending_verifications_are_capped_per_callback_host(limited, callback, clock):
    app = limited(hub_pending_per_host=2)
    rt = app.extensions["syndication"]
    _channels(rt)
    client = app.test_client()
    topics = [f"{BASE_URL}/feeds/world.{fmt}" for fmt in ("rss", "atom", "json")]
    codes = [subscribe(client, callback.url(f"/cb{i}"), topic=t).status_code for i, t in
             enumerate(topics)]  # fmt: skip
    assert codes == [202, 202, 429]
    refused = subscribe(client, callback.url("/cb9"), topic=topics[2])
    assert refused.headers["Retry-After"] == "60"
    assert "too many verifications are pending" in refused.get_data(as_text=True)
    assert "127.0.0.1" in refused.get_data(as_text=True)
    # A newer request for a pending (topic, callback) replaces it: no more pending than before.
    assert subscribe(client, callback.url("/cb0"), topic=topics[0]).status_code == 202
    assert [i.status for i in intents(rt)] == ["failed", "pending", "pending"]
    # Verified, they are no longer pending: room again.
    verify(rt)
    assert subscribe(client, callback.url("/cb2"), topic=topics[2]).status_code == 202


def test_publish_distributes_only_a_topic_that_changed(rt, client, channel, callback, clock):
    """hub.mode=publish is anonymous: it may only ask the hub to distribute what changed since
    the topic's last distribution, never make it send the same document to everyone again."""
    from syndication.stories.service import create_story

    for n in range(3):
        subscribe(client, callback.url(f"/cb{n}"))
    verify(rt)

    def queued() -> int:
        with rt.db.read() as s:
            return s.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
            )

    assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    assert queued() == 3, "never distributed: the first publish goes out"
    rt.push.engine.drain()
    assert queued() == 0
    for _ in range(5):
        assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    assert queued() == 0, "unchanged: nothing goes out, however often it is asked"
    with rt.db.write() as s:  # a story in the channel: distributed by the hub itself
        create_story(
            s, rt.settings, {"code": "n1", "title": "New", "status": "published"}, now=clock()
        )
    rt.push.engine.drain()
    sent = len(callback.requests)
    assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    assert queued() == 0, "that change was distributed already"
    with rt.db.write() as s:
        update_channel(s, "world", {"title": "World news"}, now=clock())
    assert post(client, hub_mode="publish", hub_url=TOPIC).status_code == 202
    assert queued() == 3, "the channel changed: its topics go out"
    rt.push.engine.drain()
    assert len(callback.requests) == sent + 3
