"""The input limits one by one, on SQLite and PostgreSQL: what a NUL byte, a lone surrogate, an
id beyond its column, deep JSON or a date outside the range gets (status, error shape, field),
and that every date the range allows renders in every kind of time zone."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from syndication import inputs
from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.runtime import Runtime
from syndication.validation import DATE_MAX, DATE_MIN, aware_datetime
from tests.conftest import make_settings
from tests.pushkit import FakeClock
from tests.storyfactory import add_channel, add_story, parse_json, parse_xml

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def _bearer(rt, role: str = "admin") -> dict[str, str]:
    with rt.db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, role, role, now=NOW)[1]}"}


def _api_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


# --- the pieces, without a database ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1900-01-01T00:00:00Z", True),
        ("1900-01-01T00:00:00+00:01", False),  # 1899 in UTC
        ("9999-12-30T23:59:59Z", True),
        ("9999-12-31T00:00:00Z", False),
        ("0001-01-01T00:00:00+14:00", False),  # before year 1 in UTC: no datetime holds it
        ("9999-12-31T23:59:59-14:00", False),  # after year 9999 in UTC
        ("0001-01-01T00:00:00Z", False),
        ("2025-03-01T09:00:00-05:00", True),
    ],
)
def test_one_date_range(value, ok):
    if ok:
        assert aware_datetime(value) is not None
    else:
        with pytest.raises(ValueError, match="1900-01-01T00:00:00Z to 9999-12-30T23:59:59Z"):
            aware_datetime(value)


def test_json_depth_is_counted_without_parsing_and_ignores_brackets_in_strings():
    assert not inputs.json_too_deep(b'{"a": [[1]], "b": "[[[[[[[[[["}', 3)
    assert inputs.json_too_deep(b'{"a": [[[1]]]}', 3)
    assert not inputs.json_too_deep(b'{"a": "\\"[[[[[[", "b": {}}', 2)
    assert inputs.json_too_deep(b"[" * 1_000_000, 32)  # no RecursionError, no parse


def test_json_problems_name_the_field():
    found = inputs.json_problems(
        {"title": "a\x00", "image": {"url": "x\ud800"}, "tags": ["ok", 2**60], "n": 2**53}
    )
    assert set(found) == {"title", "image.url", "tags.1"}
    assert "NUL" in found["title"] and "surrogate" in found["image.url"]


def test_id_ranges_follow_the_column_and_the_database():
    assert inputs.in_range(2**31, "int", is_sqlite=True)
    assert not inputs.in_range(2**31, "int", is_sqlite=False)
    assert inputs.in_range(2**63 - 1, "bigint", is_sqlite=False)
    assert not inputs.in_range(2**63, "bigint", is_sqlite=True)
    with pytest.raises(ValueError):
        inputs.row_id("²", "bigint", True)  # str.isdigit() says yes; int() says no


# --- over HTTP, on both databases --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/s/a%00b", "/stories/a%00b", "/channels/a%00b", "/feeds/a%00b.rss", "/s/a%00b/qr.svg",
     "/stories/a%ED%A0%80b", "/api/v1/stories/a%00b"],
)  # fmt: skip
def test_nul_or_surrogate_in_a_path_is_404(client, rt, path):
    response = client.get(path, headers=_bearer(rt))
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert _api_error(response, 404)["code"] == "not_found"


def test_nul_or_surrogate_in_a_query_is_400(client, rt):
    headers = _bearer(rt, "reader")
    for query in ("q=a%00b", "tag=%ED%A0%80", "section=x%00"):
        error = _api_error(client.get(f"/api/v1/stories?{query}", headers=headers), 400)
        assert "NUL" in error["message"] or "UTF-8" in error["message"]
    assert client.get("/feeds/x.rss?before=1%00").status_code == 400
    assert client.get("/s/x?m=%00").status_code == 400


def test_json_bodies(client, rt):
    headers = _bearer(rt, "editor")
    deep = b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    error = _api_error(
        client.post("/api/v1/stories", data=deep, content_type="application/json", headers=headers),
        400,
    )
    assert "deeper than 32" in error["message"]
    body = {"title": "t\x00", "url": "https://example.org/\ud800", "external_id": "e\x00"}
    error = _api_error(client.post("/api/v1/stories", json=body, headers=headers), 422)
    assert set(error["fields"]) == {"title", "url", "external_id"}
    r = client.post(
        "/api/v1/stories", data=b'{"title": NaN}', content_type="application/json", headers=headers
    )
    _api_error(r, 400)
    r = client.post("/api/v1/tokens", json={"name": "a\x00", "role": "reader"}, headers=_bearer(rt))
    assert _api_error(r, 422)["fields"] == {"name": "must not contain NUL characters (U+0000)"}


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_dates_outside_the_range_are_422_naming_the_field(client, rt, value):
    headers = _bearer(rt, "editor")
    for field in ("published_at", "publish_at"):
        r = client.post("/api/v1/stories", json={"title": "t", field: value}, headers=headers)
        assert _api_error(r, 422)["fields"][field].startswith("must be from 1900")
    r = client.get(f"/api/v1/deliveries?since={value.replace('+', '%2B')}", headers=_bearer(rt))
    assert r.status_code == 422


def test_ids_beyond_their_column_are_404_and_cursors_422(client, rt, db_url):
    admin = _bearer(rt)
    for token_id in (2**31, 2**64 + 1):
        r = client.get(f"/api/v1/tokens/{token_id}", headers=admin)
        assert _api_error(r, 404)["code"] == "not_found"
    # 2^31 fits SQLite's INTEGER: an ordinary "no such token" there, refused early on PostgreSQL.
    assert client.delete(f"/api/v1/tokens/{2**31}", headers=admin).status_code == 404
    for resource in ("stories", "links", "deliveries"):
        r = client.get(f"/api/v1/{resource}?cursor={2**64}", headers=admin)
        assert _api_error(r, 422)["fields"] == {
            "query.cursor": "is not a cursor from a `next` link"
        }


def _sign_in_as_admin(client, rt) -> str:
    """Signs `client` in as an admin; returns the session's CSRF token."""
    with rt.db.write() as s:
        create_user(s, "root", PASSWORD, "admin", NOW)
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    client.post("/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": csrf})
    return csrf


def test_admin_after_beyond_bigint_is_400(client, rt):
    _sign_in_as_admin(client, rt)
    assert client.get(f"/admin/stories?after={2**63}").status_code == 400
    assert client.get(f"/admin/stories?after={2**62}").status_code == 200


def test_admin_form_dates_use_the_same_range(client, rt):
    _sign_in_as_admin(client, rt)
    page = client.get("/admin/stories/new").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post(
        "/admin/stories/new",
        data={"csrf_token": csrf, "title": "t", "status": "scheduled",
              "publish_at": "0001-01-01T00:00"},
    )  # fmt: skip
    assert r.status_code == 422
    assert "must be from 1900-01-01T00:00:00Z" in r.get_data(as_text=True)


def test_patching_external_id_to_another_storys_is_409(client, rt):
    headers = _bearer(rt, "editor")
    client.post("/api/v1/stories", json={"title": "a", "external_id": "wire-1"}, headers=headers)
    other = client.post("/api/v1/stories", json={"title": "b"}, headers=headers).get_json()
    r = client.patch(f"/api/v1/stories/{other['code']}", json={"external_id": "wire-1"},
                     headers=headers)  # fmt: skip
    error = _api_error(r, 409)
    assert error["code"] == "conflict" and set(error["fields"]) == {"external_id"}
    r = client.post(
        "/api/v1/stories", json={"title": "c", "external_id": "wire-1"}, headers=headers
    )
    assert _api_error(r, 409)["fields"] == error["fields"]  # POST and PATCH alike


# --- every stored date renders in every zone ---------------------------------------------------

ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "America/New_York", "Asia/Kathmandu")


@pytest.mark.parametrize("zone", ZONES)
def test_dates_at_both_ends_of_the_range_render_everywhere(db_url, tmp_path, zone):
    # The clock stands at the end of the range, so that both stories are out and public.
    settings = make_settings(db_url, tmp_path, timezone=zone)
    rt = Runtime.create(settings, clock=FakeClock(DATE_MAX))
    app = create_app(runtime=rt)
    app.config["TESTING"] = True
    try:
        add_channel(rt, {"slug": "all", "title": "All", "limit": 1}, now=DATE_MAX)
        codes = [
            add_story(rt, {"title": "First", "published_at": DATE_MIN.isoformat()}, now=DATE_MAX),
            add_story(rt, {"title": "Last", "published_at": DATE_MAX.isoformat()}, now=DATE_MAX),
        ]
        client = app.test_client()
        headers = _bearer(rt)
        for code in codes:
            assert client.get(f"/stories/{code}").status_code == 200
            story = client.get(f"/api/v1/stories/{code}", headers=headers)
            assert story.status_code == 200
            short = story.get_json()["short_url"].removeprefix("http://news.example.test")
            assert client.get(short).status_code in (301, 302, 307, 308)
            assert client.get(f"{short}/qr.svg").status_code == 200
        assert client.get("/channels/all").status_code == 200
        assert client.get("/api/v1/channels/all/preview", headers=headers).status_code == 200
        for fmt in ("rss", "atom", "json"):
            url, seen = f"/feeds/all.{fmt}", []
            while url:  # one item a page: the next link carries each end's date as a cursor
                r = client.get(url)
                assert r.status_code == 200, (url, r.get_data(as_text=True))
                if fmt == "json":
                    doc = parse_json(r.data)
                    seen += [item["title"] for item in doc["items"]]
                    url = doc.get("next_url", "").removeprefix("http://news.example.test")
                else:
                    doc = parse_xml(r.data)
                    seen += [entry.title for entry in doc.entries]
                    nxt = [ln.href for ln in doc.feed.get("links", []) if ln.rel == "next"]
                    url = nxt[0].removeprefix("http://news.example.test") if nxt else ""
            assert seen == ["Last", "First"], fmt
    finally:
        rt.close()


def test_json_dumps_of_error_has_no_surrogates(client, rt):
    """The 422 naming a bad field is itself valid UTF-8 JSON (the bad value is not echoed)."""
    r = client.post("/api/v1/stories", json={"title": "\ud800"}, headers=_bearer(rt, "editor"))
    json.loads(r.get_data().decode("utf-8"))


def test_nul_in_a_form_is_400(client, rt):
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post("/admin/login", data={"username": "a\x00", "password": "x", "csrf_token": csrf})
    assert r.status_code == 400 and "NUL" in r.get_data(as_text=True)
    r = client.post(
        "/hub",
        data={"hub.mode": "subscribe", "hub.topic": "a\x00", "hub.callback": "https://x.test/"},
    )
    assert r.status_code == 400 and r.mimetype == "text/plain"
