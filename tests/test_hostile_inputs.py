"""Hostile input gets a 4xx, never a 5xx, on SQLite and PostgreSQL: every route of the app
(walked from app.url_map, so a new route is covered without editing this file) is called with
NUL bytes, lone surrogates, huge integers, dates at the ends of the representable range, deep
JSON and overlong strings in its path segments, query parameters and bodies, signed in where
the route needs it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.channels.service import create_channel
from syndication.links.service import create_link
from syndication.ops import heartbeat
from syndication.push.subscribers import create_subscriber, send_test
from syndication.stories.service import create_story
from tests.conftest import make_settings

PASSWORD = "correct horse battery"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# Each hostile value as it travels in a URL (percent-encoded UTF-8, or raw bytes when UTF-8
# cannot say it) and as it travels in JSON (where \ud800 is a lone surrogate).
HOSTILE_TEXT = {
    "nul": "a\x00b",
    "surrogate": "a\ud800b",
    "huge_int": str(2**64 + 1),
    "int32_plus_one": str(2**31),
    "negative": str(-(2**63) - 1),
    "date_low": "0001-01-01T00:00:00+14:00",
    "date_high": "9999-12-31T23:59:59-14:00",
    "overlong": "x" * 20_000,
    "control": "a\r\nb\tc",
}
HOSTILE_JSON: dict[str, Any] = {
    **HOSTILE_TEXT,
    "huge_int_number": 2**70,
    "int32_number": 2**31,
    "negative_number": -(2**63) - 1,
    "list_nul": ["a\x00"],
    "object": {"\x00": "\ud800"},
}
# Names the non-API routes read from the query string or a form (the API's come from its
# OpenAPI document).
QUERY_TEXT_NAMES = ("q", "status", "section", "tag", "language", "format", "m")
QUERY_NUMBER_NAMES = ("after", "days", "before")
FORM_NAMES = (
    "title", "summary", "body_html", "section", "source", "authors", "tags", "language",
    "status", "publish_at", "image_url", "image_width", "image_length", "slug", "url",
    "description", "limit", "sections", "formats", "max_visits", "valid_until", "story",
    "name", "role", "username", "password", "next", "since", "reason", "disable",
    "event_types", "channels", "headers", "format", "throttle", "hub.mode", "hub.topic",
    "hub.url", "hub.callback", "hub.lease_seconds", "hub.secret",
)  # fmt: skip


def _surrogate_in_url(value: str) -> str:
    """Percent-encode; a lone surrogate goes as the bytes CESU-8 would send (ED A0 80)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@pytest.fixture
def settings(db_url, tmp_path):
    # America/New_York is where a year-1 date used to break the story page.
    return make_settings(db_url, tmp_path, timezone="America/New_York", outbound_allow="127.0.0.1")


@pytest.fixture
def world(rt) -> dict[str, Any]:
    """One of everything a route can name, and the credentials to reach it."""
    now = rt.clock()
    with rt.db.write() as s:
        create_user(s, "root", PASSWORD, "admin", NOW)
        create_channel(s, {"slug": "harbour", "title": "Harbour"}, now=now)
        create_story(
            s, rt.settings, {"code": "p1", "title": "Tide tables out", "external_id": "e1"},
            now=now, default_status="published",
        )  # fmt: skip
        create_story(s, rt.settings, {"code": "d1", "title": "Draft", "external_id": "e2"}, now=now)
        create_link(s, {"url": "https://example.org/x", "slug": "promo"}, now=now)
        token_row, token = create_token(s, "job", "admin", now)
        sub, _ = create_subscriber(
            s, None, {"name": "partner", "url": "http://127.0.0.1:9/hook"}, now
        )
        s.flush()
        delivery = send_test(s, sub.id, now)
        s.flush()
        ids = {
            "token_id": token_row.id,
            "subscriber_id": sub.id,
            "subscription_id": sub.id,
            "delivery_id": delivery.id,
        }
    return {"token": token, "ids": ids}


def _login(client) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post(
        "/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": csrf}
    )
    assert r.status_code == 303
    page = client.get("/admin/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _valid_args(rule, ids: dict[str, int]) -> dict[str, Any]:
    known = {"slug": "harbour", "code": "p1", "fmt": "rss", "username": "root"}
    return {name: ids.get(name, known.get(name, "x")) for name in rule.arguments}


def _build(rule, args: dict[str, Any]) -> str:
    """The rule's path with raw (already URL-encoded) segments."""
    path = rule.rule
    for name, value in args.items():
        path = re.sub(r"<(?:[a-z]+:)?" + name + ">", str(value), path)
    return path


def _api_operations(client) -> dict[tuple[str, str], dict[str, Any]]:
    """(path template, METHOD) -> {"query": [names], "body": [top-level fields]}."""
    spec = client.get("/api/v1/openapi.json").get_json()
    out = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            query = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            body: list[str] = []
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                schema = content["schema"]
                if "$ref" in schema:
                    schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                # Read-only fields a client may send back are ignored: nothing to try there.
                body = [
                    name
                    for name, prop in schema.get("properties", {}).items()
                    if "ignored" not in prop.get("description", "")
                ]
            flask_path = re.sub(r"\{([a-z_]+)\}", r"<\1>", path)
            out[(flask_path, method.upper())] = {"query": query, "body": body}
    return out


def _deep_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_no_route_answers_5xx_to_hostile_input(app, rt, client, world):
    # A 500 must come back as a response to count, not as an exception in the test.
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    csrf = _login(client)
    bearer = {"Authorization": f"Bearer {world['token']}"}
    api = _api_operations(client)
    calls: list[tuple[str, str, dict[str, Any]]] = []

    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"<\1>", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            valid = _valid_args(rule, world["ids"])
            is_api = rule.rule.startswith("/api/")
            op = api.get((template, method), {"query": [], "body": []})
            headers = dict(bearer) if is_api else {}
            # Path segments.
            for name in rule.arguments:
                for value in HOSTILE_TEXT.values():
                    path = _build(rule, {**valid, name: _surrogate_in_url(value)})
                    calls.append((method, path, {"headers": headers}))
            base = _build(rule, valid)
            # Query parameters: one at a time, so that one refused parameter does not hide
            # another; outside the API the text filters go together (read independently).
            if is_api:
                groups = [[name] for name in op["query"]]
            else:
                groups = [QUERY_TEXT_NAMES, *([name] for name in QUERY_NUMBER_NAMES)]
            for names in groups if method == "GET" else ():
                for value in HOSTILE_TEXT.values():
                    qs = "&".join(f"{quote(n)}={_surrogate_in_url(value)}" for n in names)
                    calls.append((method, f"{base}?{qs}", {"headers": headers}))
            if method == "GET":
                continue
            if is_api:
                fields = op["body"] or ["title"]
                for name in fields:
                    for value in HOSTILE_JSON.values():
                        body = json.dumps({"title": "t", name: value}).encode()
                        calls.append(
                            (method, base, {"headers": headers, "data": body,
                                            "content_type": "application/json"})
                        )  # fmt: skip
                for raw in (
                    _deep_json(100_000),
                    b"[" * 100_000,
                    b'{"title": "\\ud800"}',
                    b'{"title": NaN}',
                    b'{"title": "\xed\xa0\x80"}',
                ):
                    calls.append(
                        (method, base, {"headers": headers, "data": raw,
                                        "content_type": "application/json"})
                    )  # fmt: skip
            else:
                for value in HOSTILE_TEXT.values():
                    fields = "&".join(f"{quote(n)}={_surrogate_in_url(value)}" for n in FORM_NAMES)
                    for form in (f"csrf_token={csrf}&{fields}",):
                        calls.append(
                            (method, base, {"data": form.encode(),
                                            "content_type": "application/x-www-form-urlencoded"})
                        )  # fmt: skip

    failures = []
    for method, path, kwargs in calls:
        if path.startswith("/ready"):
            # A scheduler that has just beaten: /ready's 503 ("not ready") is then a fault.
            heartbeat.beat(rt.db, rt.clock, "scheduler")
        response = client.open(path, method=method, **kwargs)
        if response.status_code >= 500:
            body = kwargs.get("data", b"")[:120]
            failures.append(f"{method} {path[:160]} {body!r} -> {response.status_code}")
    assert not failures, f"{len(failures)} of {len(calls)} calls:\n" + "\n".join(failures[:200])
