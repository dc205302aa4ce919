"""Partner webhook subscribers as a service (push/subscribers.py), on SQLite and PostgreSQL:
validation by field, URL safety with and without `outbound_allow`, secrets and their rotation,
test pings, replay and recovery of deliveries, health; and the ninjs payload format validated
against the IPTC ninjs 2.1 JSON Schema (tests/data/ninjs-2.x.schema.json)."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from syndication.channels.service import create_channel
from syndication.config import load_settings
from syndication.errors import NotFound, ValidationError
from syndication.models import Delivery, DeliveryAttempt, Event
from syndication.outbound import OutboundClient, OutboundPolicy, UnsafeURL
from syndication.push import subscribers as svc
from syndication.push.outbox import EVENT_TYPES
from syndication.push.queue import new_message_id
from syndication.push.webhooks.ninjs import to_ninjs
from syndication.push.webhooks.payloads import payload_bytes
from syndication.stories.service import create_story, story_to_dict
from tests.conftest import BASE_URL

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hook"
SCHEMA = json.loads((Path(__file__).parent / "data" / "ninjs-2.x.schema.json").read_text())
ASCII = "must be visible ASCII characters (RFC 9110 field value); got "
# Custom header values every registration path refuses (test_push_api, test_push_ui too), with
# the error naming them; and one it keeps.
BAD_HEADER_VALUES = {
    "euro": ("10€", ASCII + "'€' at position 3"),
    "nul": ("a\0b", ASCII + "'\\x00' at position 2"),
    "newline": ("a\nb", ASCII + "'\\n' at position 2"),
    "del": ("a\x7fb", ASCII + "'\\x7f' at position 2"),
    "space only": (" ", "must not be empty or only spaces"),
}
GOOD_HEADER_VALUE = "Bearer abc.def"


@pytest.fixture
def settings(db_url: str, tmp_path: Path):
    """The suite's settings, with loopback allowed as a webhook target (as tests must)."""
    return load_settings(
        {
            "database_url": db_url,
            "base_url": BASE_URL,
            "instance_path": str(tmp_path / "instance"),
            "outbound_allow": "127.0.0.1",
            "secret_overlap": 3600,
        },
        environ={},
    )


def _create(rt, **fields):
    with rt.db.write() as s:
        sub, secret = svc.create_subscriber(
            s, rt.push.outbound.check_sync, {"name": "Partner", "url": HOOK, **fields}, NOW
        )
        return sub.id, secret


def _fields(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return exc.value.fields


# --- validation -------------------------------------------------------------------------------


def test_create_with_defaults_and_secret_shown_once(rt):
    sub_id, secret = _create(rt)
    assert secret.startswith("whsec_")
    with rt.db.read() as s:
        sub = svc.get_subscriber(s, sub_id)
        body = svc.subscriber_to_dict(sub)
    assert "secret" not in body and secret not in json.dumps(body)
    assert body["event_types"] == list(EVENT_TYPES)
    assert body["format"] == "json" and body["channels"] == [] and body["filter"] == {}
    assert body["active"] is True and body["headers"] == {} and body["throttle"] is None


def test_every_bad_field_is_named(rt):
    bad = {
        "name": "",
        "url": "ftp://example.org/x",
        "event_types": ["story.deleted"],
        "format": "xml",
        "headers": {"Webhook-Id": "x", "Content-Type": "text/plain", "X-Ok": "a\r\nb"},
        "throttle": 0,
        "colour": "red",
    }
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.create_subscriber(s, rt.push.outbound.check_sync, bad, NOW)
    fields = _fields(exc)
    assert set(fields) == {
        "name",
        "url",
        "event_types",
        "format",
        "headers.Webhook-Id",
        "headers.Content-Type",
        "headers.X-Ok",
        "throttle",
        "colour",
    }
    assert "story.deleted" in fields["event_types"]


def test_channels_must_exist_and_exclude_a_filter(rt):
    with rt.db.write() as s:
        create_channel(s, {"slug": "sport", "title": "Sport"}, now=NOW)
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.create_subscriber(
            s,
            rt.push.outbound.check_sync,
            {"name": "P", "url": HOOK, "channels": ["sport", "nope"]},
            NOW,
        )
    assert _fields(exc) == {"channels": "no channel 'nope'"}
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.create_subscriber(
            s,
            rt.push.outbound.check_sync,
            {"name": "P", "url": HOOK, "channels": ["sport"], "filter": {"tags": ["x"]}},
            NOW,
        )
    assert "not both" in _fields(exc)["channels"]
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.create_subscriber(
            s,
            rt.push.outbound.check_sync,
            {"name": "P", "url": HOOK, "filter": {"colours": ["x"]}},
            NOW,
        )
    assert "filter.colours" in _fields(exc)
    sub_id, _ = _create(rt, channels=["sport"], event_types=["story.retracted"], throttle=2.5)
    with rt.db.write() as s:
        with pytest.raises(ValidationError) as exc:
            svc.update_subscriber(
                s, rt.push.outbound.check_sync, sub_id, {"filter": {"tags": ["x"]}}
            )
        assert "not both" in _fields(exc)["filter"]
        sub = svc.update_subscriber(
            s, rt.push.outbound.check_sync, sub_id, {"channels": None, "filter": {"tags": ["x"]}}
        )
        assert sub.channels == [] and sub.filter == {"tags": ["x"]}
        assert sub.event_types == ["story.retracted"] and sub.throttle == 2.5


class NoDNS:
    """The outside world's DNS, stubbed: no name resolves."""

    async def resolve(self, host, port):
        return []


def test_urls_refused_without_outbound_allow(rt, tmp_path):
    strict = OutboundClient(OutboundPolicy(), resolver=NoDNS())
    cases = {
        "https://127.0.0.1/hook": "loopback",
        "https://10.1.2.3/hook": "private",
        "https://169.254.169.254/latest": "link-local",
        "https://[::1]/hook": "loopback",
        "http://203.0.113.9/hook": "https",
        "http://not-in-dns-yet.example/hook": "https",
        "https://127.0.0.1\\.attacker.test/h": "backslash",
        "https://127.1/hook": "IPv4",
        "https://[::ffff:127.0.0.1]/hook": "loopback",
        "https://[64:ff9b::a00:1]/hook": "private",
        "https://u:p@partner.example/hook": "credentials",
    }
    try:
        for url, why in cases.items():
            with rt.db.write() as s, pytest.raises(ValidationError) as exc:
                svc.create_subscriber(s, strict.check_sync, {"name": "P", "url": url}, NOW)
            assert why in _fields(exc)["url"], (url, _fields(exc))
    finally:
        strict.close()
    # allowed by the module's settings (outbound_allow=127.0.0.1), plain http included
    assert _create(rt, url="http://127.0.0.1:8080/in")[0]
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.update_subscriber(s, rt.push.outbound.check_sync, 1, {"url": "https://10.0.0.8/x"})
    assert "private" in _fields(exc)["url"]


class MapDNS:
    """The outside world's DNS, stubbed: the names in `answers` resolve to their addresses."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(self, host, port):
        return [ipaddress.ip_address(a) for a in self.answers.get(host, [])]


def test_a_host_not_in_the_dns_yet_is_accepted_with_a_warning(rt):
    strict = OutboundClient(OutboundPolicy(), resolver=NoDNS())
    try:
        warnings: list[str] = []
        with rt.db.write() as s:
            sub, _ = svc.create_subscriber(
                s,
                strict.check_sync,
                {"name": "City", "url": "https://City.example/hooks/news"},
                NOW,
                warnings,
            )
            sub_id, url = sub.id, sub.url
        assert url == "https://city.example/hooks/news"  # stored as the client reads it
        assert len(warnings) == 1
        assert "'city.example' does not resolve" in warnings[0]
        assert "checked again before every delivery" in warnings[0]
        # The same on a change of URL; a resolvable change warns of nothing.
        warnings.clear()
        with rt.db.write() as s:
            svc.update_subscriber(
                s, strict.check_sync, sub_id, {"url": "https://other.example/x"}, warnings
            )
        assert len(warnings) == 1 and "'other.example' does not resolve" in warnings[0]
        # Still refused without DNS: what the URL itself says is wrong.
        for url, why in {
            "http://city.example/hooks": "https",
            "https://10.0.0.1/hooks": "private",
        }.items():
            with rt.db.write() as s, pytest.raises(ValidationError) as exc:
                svc.create_subscriber(s, strict.check_sync, {"name": "P", "url": url}, NOW, [])
            assert why in _fields(exc)["url"], (url, _fields(exc))
    finally:
        strict.close()


def test_a_host_that_resolves_to_a_private_address_is_refused_at_add_and_at_send(rt):
    """Accepted while it did not resolve, the host is judged again by the outbound client
    before a delivery is sent: once its name points at a private address, nothing is sent."""
    private = OutboundClient(OutboundPolicy(), resolver=MapDNS({"city.example": ["10.20.30.40"]}))
    missing = OutboundClient(OutboundPolicy(), resolver=NoDNS())
    try:
        with rt.db.write() as s, pytest.raises(ValidationError) as exc:
            svc.create_subscriber(
                s, private.check_sync, {"name": "P", "url": "https://city.example/h"}, NOW, []
            )
        assert "private" in _fields(exc)["url"]
        with rt.db.write() as s:
            sub, _ = svc.create_subscriber(
                s, missing.check_sync, {"name": "P", "url": "https://city.example/h"}, NOW, []
            )
            url = sub.url
        # At send time the engine's client resolves it: now to a private address.
        with pytest.raises(UnsafeURL, match="private"):
            private.request_sync("POST", url, body=b"{}")
    finally:
        private.close()
        missing.close()


def test_headers_kept_and_reserved_ones_refused(rt):
    sub_id, _ = _create(rt, headers={"Authorization": "Bearer abc", "X-Partner": "news"})
    with rt.db.read() as s:
        assert svc.get_subscriber(s, sub_id).headers == {
            "Authorization": "Bearer abc",
            "X-Partner": "news",
        }
    for name in ("Host", "Content-Length", "webhook-signature", "Bad Name", "X:y"):
        with rt.db.write() as s, pytest.raises(ValidationError) as exc:
            svc.update_subscriber(s, rt.push.outbound.check_sync, sub_id, {"headers": {name: "v"}})
        assert f"headers.{name}" in _fields(exc)


@pytest.mark.parametrize("case", sorted(BAD_HEADER_VALUES))
def test_header_values_must_be_visible_ascii(rt, case):
    value, message = BAD_HEADER_VALUES[case]
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.create_subscriber(
            s,
            rt.push.outbound.check_sync,
            {"name": "P", "url": HOOK, "headers": {"X-Partner": value}},
            NOW,
        )
    assert _fields(exc) == {"headers.X-Partner": message}
    sub_id, _ = _create(rt, headers={"X-Partner": GOOD_HEADER_VALUE})
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.update_subscriber(
            s, rt.push.outbound.check_sync, sub_id, {"headers": {"X-Partner": value}}
        )
    assert _fields(exc) == {"headers.X-Partner": message}
    with rt.db.read() as s:
        assert svc.get_subscriber(s, sub_id).headers == {"X-Partner": GOOD_HEADER_VALUE}


def test_header_values_lose_the_whitespace_around_them_only(rt):
    kept = {"A": " \tBearer abc.def \t", "B": "a\tb  c", "C": "!~"}
    sub_id, _ = _create(rt, headers=kept)
    with rt.db.read() as s:
        assert svc.get_subscriber(s, sub_id).headers == {
            "A": GOOD_HEADER_VALUE,
            "B": "a\tb  c",
            "C": "!~",
        }
    refused = {
        "Lead": ("  é", ASCII + "'é' at position 3"),  # positions count in the value as given
        "Nbsp": ("\xa0x", ASCII + "'\\xa0' at position 1"),  # not HTTP whitespace
        "Cr": ("x\r", ASCII + "'\\r' at position 2"),
        "Long": ("x" * 1001, "must be at most 1000 characters"),
        "Empty": ("", "must not be empty or only spaces"),
    }
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.update_subscriber(
            s, rt.settings, sub_id, {"headers": {k: v for k, (v, _) in refused.items()}}
        )
    assert _fields(exc) == {f"headers.{k}": m for k, (_, m) in refused.items()}
    at_limit = svc.clean_subscriber({"headers": {"X": "x" * 1000}}, partial=True)
    assert at_limit["headers"] == {"X": "x" * 1000}


# --- secrets ----------------------------------------------------------------------------------


def test_rotation_keeps_the_old_secret_for_the_overlap(rt):
    sub_id, first = _create(rt)
    later = NOW + timedelta(minutes=5)
    with rt.db.write() as s:
        second = svc.rotate_secret(s, rt.settings, sub_id, later)
    assert second.startswith("whsec_") and second != first
    with rt.db.read() as s:
        sub = svc.get_subscriber(s, sub_id)
        assert sub.secret == second and sub.previous_secret == first
        assert sub.previous_secret_until == later + timedelta(seconds=3600)
        assert svc.subscriber_to_dict(sub)["previous_secret_until"] == "2025-03-01T13:05:00Z"


def test_disable_enable_and_not_found(rt):
    sub_id, _ = _create(rt)
    with rt.db.write() as s:
        svc.get_subscriber(s, sub_id).failing_since = NOW
        sub = svc.disable(s, sub_id, "partner asked")
        assert not sub.active and sub.disabled_reason == "partner asked"
    with rt.db.write() as s:
        sub = svc.enable(s, sub_id)
        assert sub.active and sub.disabled_reason is None and sub.failing_since is None
    with rt.db.read() as s, pytest.raises(NotFound):
        svc.get_subscriber(s, 999)
    with rt.db.read() as s, pytest.raises(NotFound):
        svc.get_subscriber(s, 2**40)


# --- deliveries: ping, replay, recover, list, health -----------------------------------------


def _delivery(s, sub_id: int, status: str, created: datetime, attempts: int = 0) -> int:
    event = Event(
        type="story.published",
        story_id=None,
        story_code="c1",
        snapshot={"code": "c1"},
        terms=[],
        created_at=created,
        dispatched_at=created,
    )
    s.add(event)
    s.flush()
    d = Delivery(
        event_id=event.id,
        subscriber_id=sub_id,
        message_id=new_message_id(),
        status=status,
        attempts=attempts,
        next_attempt_at=None if status in ("dead", "delivered") else created + timedelta(hours=2),
        created_at=created,
    )
    s.add(d)
    s.flush()
    return d.id


def test_send_test_queues_one_ping_for_that_subscriber(rt):
    sub_id, _ = _create(rt)
    other, _ = _create(rt, name="Other")
    with rt.db.write() as s:
        d = svc.send_test(s, sub_id, NOW)
        delivery_id = d.id
    with rt.db.read() as s:
        detail = svc.delivery_detail(s, delivery_id)
        event = s.get(Event, detail["event_id"])
        assert event.type == "ping" and event.dispatched_at is not None
        assert event.snapshot == {"message": "test", "subscriber": sub_id}
        assert s.scalars(select(Delivery.subscriber_id)).all() == [sub_id]
        sub = svc.get_subscriber(s, sub_id)
        body = json.loads(payload_bytes(event, sub, NOW))
    assert other != sub_id
    assert detail["status"] == "pending" and detail["attempts"] == 0 and detail["log"] == []
    assert detail["message_id"].startswith("msg_")
    assert body["type"] == "ping" and body["data"] == {"message": "test", "subscriber": sub_id}


def test_replay_keeps_the_message_id_and_the_log(rt):
    sub_id, _ = _create(rt)
    with rt.db.write() as s:
        d_id = _delivery(s, sub_id, "dead", NOW, attempts=8)
        s.add(DeliveryAttempt(delivery_id=d_id, at=NOW, status_code=500, error="HTTP 500"))
        message_id = s.get(Delivery, d_id).message_id
    later = NOW + timedelta(days=1)
    with rt.db.write() as s:
        svc.replay_delivery(s, d_id, later)
    with rt.db.read() as s:
        detail = svc.delivery_detail(s, d_id)
    assert detail["message_id"] == message_id
    assert detail["status"] == "pending" and detail["attempts"] == 0
    assert detail["next_attempt_at"] == "2025-03-02T12:00:00Z"
    assert [a["status_code"] for a in detail["log"]] == [500]
    with rt.db.write() as s, pytest.raises(NotFound):
        svc.replay_delivery(s, 12345, later)


def test_recover_requeues_failed_deliveries_in_the_window(rt):
    sub_id, _ = _create(rt)
    other, _ = _create(rt, name="Other")
    with rt.db.write() as s:
        inside_dead = _delivery(s, sub_id, "dead", NOW + timedelta(hours=1), attempts=8)
        inside_cancelled = _delivery(s, sub_id, "cancelled", NOW + timedelta(hours=2))
        inside_skipped = _delivery(s, sub_id, "skipped", NOW + timedelta(hours=2))
        inside_failing = _delivery(s, sub_id, "pending", NOW + timedelta(hours=3), attempts=2)
        inside_ok = _delivery(s, sub_id, "delivered", NOW + timedelta(hours=1))
        before = _delivery(s, sub_id, "dead", NOW - timedelta(hours=1))
        after = _delivery(s, sub_id, "dead", NOW + timedelta(days=2))
        elsewhere = _delivery(s, other, "dead", NOW + timedelta(hours=1))
    at = NOW + timedelta(hours=4)  # the failing one waits for its retry until NOW + 5 h
    with rt.db.write() as s:
        n = svc.recover(s, sub_id, NOW, NOW + timedelta(days=1), at)
    assert n == 4
    with rt.db.read() as s:
        status = {d.id: (d.status, d.next_attempt_at) for d in s.scalars(select(Delivery))}
    for d_id in (inside_dead, inside_cancelled, inside_skipped, inside_failing):
        assert status[d_id] == ("pending", at)
    for d_id in (before, after, elsewhere):
        assert status[d_id][0] == "dead"
    assert status[inside_ok][0] == "delivered"
    # An empty window (until before since) holds nothing: nothing is requeued (the API's
    # document cannot say "until after since", so the service does not refuse it).
    with rt.db.write() as s:
        assert svc.recover(s, sub_id, "2025-03-02T00:00:00Z", "2025-03-01T00:00:00Z", at) == 0
    with rt.db.write() as s, pytest.raises(ValidationError) as exc:
        svc.recover(s, sub_id, "yesterday", None, at)
    assert set(_fields(exc)) == {"since"}


def test_list_deliveries_filters_and_pages(rt):
    sub_id, _ = _create(rt)
    other, _ = _create(rt, name="Other")
    with rt.db.write() as s:
        ids = [_delivery(s, sub_id, "dead", NOW + timedelta(minutes=i)) for i in range(5)]
        _delivery(s, other, "delivered", NOW)
    with rt.db.read() as s:
        page, after = svc.list_deliveries(s, {"subscriber": sub_id}, limit=3)
        assert [d.id for d, _ in page] == ids[::-1][:3] and after == ids[2]
        rest, after2 = svc.list_deliveries(s, {"subscriber": sub_id}, limit=3, after=after)
        assert [d.id for d, _ in rest] == ids[1::-1] and after2 is None
        delivered, _ = svc.list_deliveries(s, {"status": "delivered"})
        assert [d.subscriber_id for d, _ in delivered] == [other]
        window, _ = svc.list_deliveries(
            s, {"since": "2025-03-01T12:01:00Z", "until": "2025-03-01T12:03:00Z"}
        )
        assert sorted(d.id for d, _ in window) == ids[1:3]
        typed, _ = svc.list_deliveries(s, {"event_type": "ping"})
        assert typed == []
        with pytest.raises(ValidationError):
            svc.list_deliveries(s, {"since": "soon"})


def test_health_counts_attempts_and_states(rt):
    sub_id, _ = _create(rt)
    with rt.db.read() as s:
        empty = svc.subscriber_health(s, sub_id)
    assert empty["success_rate"] is None and empty["last_error"] is None
    with rt.db.write() as s:
        dead = _delivery(s, sub_id, "dead", NOW)
        ok = _delivery(s, sub_id, "delivered", NOW)
        _delivery(s, sub_id, "pending", NOW)
        for i, (d_id, code, err) in enumerate(
            [(dead, 500, None), (dead, None, "timed out"), (ok, 204, None), (dead, 503, None)]
        ):
            s.add(
                DeliveryAttempt(
                    delivery_id=d_id, at=NOW + timedelta(seconds=i), status_code=code, error=err
                )
            )
    with rt.db.read() as s:
        health = svc.subscriber_health(s, sub_id)
    assert health["attempts"] == 4 and health["success_rate"] == 0.25
    assert health["last_success_at"] == "2025-03-01T12:00:02Z"
    assert health["last_error"] == {
        "at": "2025-03-01T12:00:03Z",
        "status_code": 503,
        "error": "HTTP 503",
    }
    assert (health["pending"], health["dead"], health["delivered"]) == (1, 1, 1)


def test_delete_takes_deliveries_and_log_along(rt):
    sub_id, _ = _create(rt)
    with rt.db.write() as s:
        d_id = _delivery(s, sub_id, "dead", NOW)
        s.add(DeliveryAttempt(delivery_id=d_id, at=NOW, status_code=500))
    with rt.db.write() as s:
        svc.delete_subscriber(s, sub_id)
    with rt.db.read() as s:
        assert s.scalars(select(Delivery)).all() == []
        assert s.scalars(select(DeliveryAttempt)).all() == []
        assert svc.list_subscribers(s) == []


# --- ninjs ------------------------------------------------------------------------------------


def _validate(item: dict) -> None:
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(item)


def test_ninjs_of_a_full_story_is_valid(rt):
    with rt.db.write() as s:
        story = create_story(
            s,
            rt.settings,
            {
                "code": "ninjs-1",
                "title": "Harbour bridge reopens",
                "summary": "After two years.",
                "body_html": "<p>The bridge <b>reopened</b>.</p>",
                "url": "https://paper.example.org/bridge",
                "authors": ["Ana Lima", "Bo Chen"],
                "source": "Wire",
                "section": "Local",
                "tags": ["Transport", "City"],
                "language": "en-GB",
                "image": {
                    "url": "https://img.example.org/b.jpg",
                    "caption": "The bridge",
                    "type": "image/jpeg",
                    "width": 1200,
                    "height": 800,
                    "length": 12345,
                },
            },
            now=NOW,
            default_status="published",
        )
        snapshot = story_to_dict(story, rt.settings)
    item = to_ninjs(snapshot)
    _validate(item)
    assert item["uri"] == f"{BASE_URL}/stories/ninjs-1"
    assert item["type"] == "text" and item["pubstatus"] == "usable"
    assert item["version"] == str(snapshot["revision"])
    assert item["versioncreated"] == snapshot["updated_at"]
    assert item["firstcreated"] == snapshot["published_at"]
    assert item["headlines"][0]["value"] == "Harbour bridge reopens"
    assert item["descriptions"][0] == {
        "role": "summary",
        "contenttype": "text/plain",
        "value": "After two years.",
    }
    assert item["bodies"][0]["contenttype"] == "text/html"
    assert item["language"] == "en-GB"
    assert {"name": "Local", "rel": "section"} in item["subjects"]
    assert [p["name"] for p in item["people"]] == ["Ana Lima", "Bo Chen"]
    assert {"role": "story-code", "value": "ninjs-1"} in item["altids"]
    picture = item["associations"][0]
    assert picture["type"] == "picture" and picture["uri"] == "https://img.example.org/b.jpg"
    assert picture["renditions"][0] == {
        "name": "original",
        "href": "https://img.example.org/b.jpg",
        "contenttype": "image/jpeg",
        "width": 1200,
        "height": 800,
        "sizeinbytes": 12345,
    }
    # the registry knows it: a ninjs subscriber's payload carries it as `data`
    event = Event(type="story.published", snapshot=snapshot, created_at=NOW)
    sub = type("S", (), {"format": "ninjs"})()
    assert json.loads(payload_bytes(event, sub, NOW))["data"] == json.loads(json.dumps(item))


def test_ninjs_of_hostile_and_minimal_stories_is_valid():
    hostile = {
        "code": "x" * 64,
        "title": 'Quotes " and \\ and </script><script>alert(1)</script> \u202e\U0001f600',
        "summary": "\u0000 nul? \ufeff bom",
        "body_html": "<p onclick='x()'>" + "é" * 10_000 + "</p>",
        "url": "https://example.org/a?b=c&d=<e>",
        "page_url": "https://news.example.test/stories/x",
        "authors": ["", "Ünïcödé", "a, b"],
        "source": "",
        "section": None,
        "tags": ["", "tag with spaces", "ταυτότητα"],
        "language": None,
        "image": {"url": "https://img.example.org/x.png", "width": True, "height": "800"},
        "status": "retracted",
        "publish_at": None,
        "published_at": "2025-03-01T12:00:00Z",
        "updated_at": "2025-03-02T12:00:00Z",
        "revision": 7,
    }
    item = to_ninjs(hostile)
    _validate(item)
    assert item["pubstatus"] == "canceled" and item["version"] == "7"
    assert "width" not in item["associations"][0]["renditions"][0]
    minimal = {
        "code": "m",
        "title": "T",
        "page_url": "https://news.example.test/stories/m",
        "status": "published",
        "updated_at": "2025-03-02T12:00:00Z",
        "revision": 1,
    }
    _validate(to_ninjs(minimal))
    with pytest.raises(jsonschema.ValidationError):
        _validate({**to_ninjs(minimal), "unknown": 1})  # the schema is strict: we are too
