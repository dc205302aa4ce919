"""The REST API /api/v1 end to end, on SQLite and PostgreSQL: every resource, every error status,
Location headers, idempotency, cursor pages, filters, the story life cycle, channel previews,
link stats and admin-only tokens. Tokens come from the auth service, as `token create` makes
them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.config import load_settings
from syndication.models import ApiToken, IdempotencyKey

NOW = datetime.now(UTC)
STORY = {
    "title": "Harbour bridge reopens",
    "summary": "After two years of works.",
    "body_html": "<p>The bridge <a href='/more'>reopened</a>.<script>x()</script></p>",
    "section": "Local",
    "tags": ["Transport", "City"],
    "language": "en-GB",
    "source": "Wire",
}


def _token(rt, role: str, name: str | None = None) -> str:
    with rt.db.write() as s:
        return create_token(s, name or role, role, now=NOW)[1]


@pytest.fixture
def auth(rt):
    """Authorization headers by role."""
    return {role: {"Authorization": f"Bearer {_token(rt, role)}"} for role in RANKS}


RANKS = ("reader", "editor", "admin")


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def _create(client, headers, **fields) -> dict:
    r = client.post("/api/v1/stories", json={**STORY, **fields}, headers=headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


# --- stories ----------------------------------------------------------------------------------


def test_story_create_read_patch_with_location_and_links(client, auth):
    editor = auth["editor"]
    r = client.post("/api/v1/stories", json=STORY, headers=editor)
    assert r.status_code == 201
    story = r.get_json()
    assert r.headers["Location"] == f"/api/v1/stories/{story['code']}"
    assert story["status"] == "draft"
    assert "<script>" not in story["body_html"]
    assert "http://news.example.test/more" in story["body_html"]  # made absolute
    assert story["short_url"] is None and story["qr_svg"] is None  # no News Link yet

    got = client.get(r.headers["Location"], headers=auth["reader"])
    assert got.status_code == 200 and got.get_json() == story

    patched = client.patch(
        r.headers["Location"], json={"summary": "Two years on.", "tags": None}, headers=editor
    )
    assert patched.status_code == 200
    body = patched.get_json()
    assert body["summary"] == "Two years on." and body["tags"] == []
    assert body["title"] == STORY["title"] and body["revision"] == 2

    # an export goes back as is: read-only fields are accepted and ignored
    again = client.patch(r.headers["Location"], json=body, headers=editor)
    assert again.status_code == 200 and again.get_json()["revision"] == 2


def test_story_published_and_scheduled_directly(client, auth):
    editor = auth["editor"]
    published = _create(client, editor, status="published", code="pub-1")
    assert published["status"] == "published" and published["published_at"]
    assert published["short_url"].startswith("http://news.example.test/s/")
    code = published["short_url"].rsplit("/", 1)[1]
    assert published["qr_svg"] == f"http://news.example.test/s/{code}/qr.svg"
    assert published["qr_png"] == f"http://news.example.test/s/{code}/qr.png"

    later = (NOW + timedelta(days=2)).isoformat()
    scheduled = _create(client, editor, status="scheduled", publish_at=later)
    assert scheduled["status"] == "scheduled" and scheduled["publish_at"]

    missing = client.post("/api/v1/stories", json={**STORY, "status": "scheduled"}, headers=editor)
    assert _error(missing, 422, "invalid")["fields"] == {
        "publish_at": "is required when status is scheduled"
    }


def test_publish_retract_and_delete_only_drafts(client, auth):
    editor = auth["editor"]
    draft = _create(client, editor, code="life-1")
    url = "/api/v1/stories/life-1"

    retract_draft = client.post(f"{url}/retract", headers=editor)
    _error(retract_draft, 409, "conflict")

    r = client.post(f"{url}/publish", headers=editor)
    assert r.status_code == 200
    assert r.get_json()["status"] == "published" and r.get_json()["short_url"]
    assert draft["status"] == "draft"

    _error(client.delete(url, headers=editor), 409, "conflict")  # published: retract instead

    r = client.post(f"{url}/retract", headers=editor)
    assert r.status_code == 200 and r.get_json()["status"] == "retracted"
    _error(client.delete(url, headers=editor), 409, "conflict")

    other = _create(client, editor, code="draft-2")
    r = client.delete(f"/api/v1/stories/{other['code']}", headers=editor)
    assert r.status_code == 204 and r.data == b""
    _error(client.get("/api/v1/stories/draft-2", headers=editor), 404, "not_found")
    _error(client.post("/api/v1/stories/nope/publish", headers=editor), 404, "not_found")


def test_list_filters_and_cursor_pages(client, auth):
    editor = auth["editor"]
    for i in range(7):
        _create(
            client,
            editor,
            code=f"s{i}",
            title=f"Story {i} {'budget' if i % 2 else 'match'}",
            section="Politics" if i % 2 else "Sport",
            tags=["Tax"] if i % 3 == 0 else [],
            language="en-GB" if i < 4 else "fr",
            source="AP" if i == 5 else "Wire",
            status="published" if i < 5 else "draft",
        )
    reader = auth["reader"]

    def codes(query: str) -> list[str]:
        r = client.get(f"/api/v1/stories?{query}", headers=reader)
        assert r.status_code == 200, r.get_data(as_text=True)
        return [s["code"] for s in r.get_json()["items"]]

    assert codes("") == [f"s{i}" for i in range(6, -1, -1)]
    assert codes("status=draft") == ["s6", "s5"]
    assert codes("section=politics") == ["s5", "s3", "s1"]
    assert codes("tag=tax") == ["s6", "s3", "s0"]
    assert codes("language=en") == ["s3", "s2", "s1", "s0"]
    assert codes("source=ap") == ["s5"]
    assert codes("q=BUDGET&status=published") == ["s3", "s1"]

    seen, url, pages = [], "/api/v1/stories?limit=3&section=sport", 0
    while url:
        r = client.get(url, headers=reader)
        assert r.status_code == 200
        page = r.get_json()
        assert set(page) == {"items", "next"}
        seen += [s["code"] for s in page["items"]]
        url, pages = page["next"], pages + 1
        if url:
            assert url.startswith("http://") and "section=sport" in url
    assert seen == ["s6", "s4", "s2", "s0"] and pages == 2

    err = _error(client.get("/api/v1/stories?limit=0", headers=reader), 422, "invalid")
    assert "query.limit" in err["fields"]
    err = _error(client.get("/api/v1/stories?status=gone", headers=reader), 422, "invalid")
    assert "query.status" in err["fields"]
    err = _error(client.get("/api/v1/stories?cursor=abc", headers=reader), 422, "invalid")
    assert "query.cursor" in err["fields"]
    err = _error(client.get("/api/v1/stories?colour=red", headers=reader), 422, "invalid")
    assert "query.colour" in err["fields"]


# --- errors -----------------------------------------------------------------------------------


def test_error_statuses(client, auth, rt):
    editor = auth["editor"]
    # 401: no or bad credentials, before any validation (an invalid body still gets 401)
    err = _error(client.post("/api/v1/stories", data="not json"), 401, "unauthorized")
    assert err["fields"] == {}
    r = client.post("/api/v1/stories", json={"title": 5}, headers={"Authorization": "Bearer x"})
    _error(r, 401, "unauthorized")
    assert "Bearer" in r.headers["WWW-Authenticate"]
    # 403: too weak a role, before validation too
    _error(client.post("/api/v1/stories", json={}, headers=auth["reader"]), 403, "forbidden")
    _error(client.post("/api/v1/channels", json={}, headers=editor), 403, "forbidden")
    # 400: not JSON, or not an object
    _error(client.post("/api/v1/stories", data="{oops", headers=editor), 400, "bad_request")
    r = client.post(
        "/api/v1/stories",
        data="{oops",
        headers={**editor, "Content-Type": "application/json"},
    )
    _error(r, 400, "bad_request")
    _error(client.post("/api/v1/stories", json=[STORY], headers=editor), 400, "bad_request")
    _error(client.patch("/api/v1/stories/x", json="title", headers=editor), 400, "bad_request")
    # 422: schema (types) and service rules, with field paths
    r = client.post(
        "/api/v1/stories",
        json={"title": 5, "tags": "x", "image": {"url": 3}, "colour": "red"},
        headers=editor,
    )
    err = _error(r, 422, "invalid")
    assert set(err["fields"]) == {"title", "tags", "image.url", "colour"}
    # What the OpenAPI document states (an http(s) URL) is checked with the shapes...
    r = client.post(
        "/api/v1/stories",
        json={"title": "x", "image": {"url": "ftp://x"}, "language": "xx-!!"},
        headers=editor,
    )
    assert set(_error(r, 422, "invalid")["fields"]) == {"image.url"}
    # ...then the service's rules, every bad field at once.
    r = client.post(
        "/api/v1/stories",
        json={"title": "x", "image": {"url": "https://x.example/i.png"}, "language": "xx-!!"},
        headers=editor,
    )
    assert set(_error(r, 422, "invalid")["fields"]) == {"language"}
    r = client.post("/api/v1/stories", json={"summary": "no title"}, headers=editor)
    assert "title" in _error(r, 422, "invalid")["fields"]
    # 409: duplicate code
    _create(client, editor, code="dup")
    err = _error(client.post("/api/v1/stories", json={**STORY, "code": "dup"}, headers=editor), 409)
    assert err["code"] == "conflict" and err["fields"] == {"code": "already exists"}
    # 404, 405
    _error(client.get("/api/v1/stories/nope", headers=editor), 404, "not_found")
    _error(client.get("/api/v1/nothing-here", headers=editor), 404, "not_found")
    r = client.put("/api/v1/stories/dup", json=STORY, headers=editor)
    _error(r, 405, "method_not_allowed")
    assert "PATCH" in r.headers["Allow"]


@pytest.fixture
def small_app(settings):
    """An app whose max_body is 2 KiB."""
    from dataclasses import replace

    app = create_app(replace(settings, max_body=2048))
    yield app
    rt = app.extensions["syndication"]
    rt.close()


def test_413_over_max_body(small_app):
    rt = small_app.extensions["syndication"]
    headers = {"Authorization": f"Bearer {_token(rt, 'editor')}"}
    client = small_app.test_client()
    big = {**STORY, "body_html": "<p>" + "x" * 4000 + "</p>"}
    err = _error(client.post("/api/v1/stories", json=big, headers=headers), 413, "too_large")
    assert err["fields"] == {}
    # anonymous callers still get 401 first
    _error(client.post("/api/v1/stories", json=big), 401)
    assert client.post("/api/v1/stories", json=STORY, headers=headers).status_code == 201


def test_max_body_setting(tmp_path: Path):
    assert load_settings({}, environ={}).max_body == 10 * 2**20
    env = {"SYNDICATION_MAX_BODY": "4096", "SYNDICATION_INSTANCE_PATH": str(tmp_path)}
    assert load_settings(environ=env).max_body == 4096


# --- idempotency ------------------------------------------------------------------------------


def test_idempotency_key(client, auth, rt):
    editor = {**auth["editor"], "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/stories", json=STORY, headers=editor)
    assert first.status_code == 201
    again = client.post("/api/v1/stories", json=STORY, headers=editor)
    assert again.status_code == 201
    assert again.headers["Location"] == first.headers["Location"]
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = client.get("/api/v1/stories", headers=editor).get_json()["items"]
    assert len(listed) == 1  # created once

    other = client.post("/api/v1/stories", json={**STORY, "title": "Else"}, headers=editor)
    err = _error(other, 422, "invalid")
    assert "Idempotency-Key" in err["message"]
    assert "header.Idempotency-Key" in err["fields"]

    # keys are per caller: another token with the same key creates its own story
    admin = {**auth["admin"], "Idempotency-Key": "k-1"}
    assert client.post("/api/v1/stories", json=STORY, headers=admin).status_code == 201
    assert len(client.get("/api/v1/stories", headers=editor).get_json()["items"]) == 2

    # an error is not kept: the key is free for the corrected request
    bad = {**auth["editor"], "Idempotency-Key": "k-2"}
    _error(client.post("/api/v1/stories", json={"title": 1}, headers=bad), 422)
    assert client.post("/api/v1/stories", json=STORY, headers=bad).status_code == 201

    # keys expire after 24 hours
    with rt.db.write() as s:
        for row in s.scalars(select(IdempotencyKey)):
            row.expires_at = NOW - timedelta(seconds=1)
    later = client.post("/api/v1/stories", json=STORY, headers=editor)
    assert later.status_code == 201 and later.headers["Location"] != first.headers["Location"]

    # publish, a POST without a body, replays too
    code = first.get_json()["code"]
    hdr = {**auth["editor"], "Idempotency-Key": "pub"}
    p1 = client.post(f"/api/v1/stories/{code}/publish", headers=hdr)
    p2 = client.post(f"/api/v1/stories/{code}/publish", headers=hdr)
    assert p1.status_code == p2.status_code == 200 and p1.get_json() == p2.get_json()


# --- channels ---------------------------------------------------------------------------------


def test_channels_crud_and_preview(client, auth):
    admin, editor = auth["admin"], auth["editor"]
    r = client.post(
        "/api/v1/channels",
        json={"slug": "sport", "title": "Sport", "filter": {"sections": ["Sport"]}},
        headers=admin,
    )
    assert r.status_code == 201
    assert r.headers["Location"] == "/api/v1/channels/sport"
    channel = r.get_json()
    assert channel["feeds"]["rss"] == "http://news.example.test/feeds/sport.rss"

    err = _error(
        client.post("/api/v1/channels", json={"slug": "sport", "title": "X"}, headers=admin), 409
    )
    assert err["fields"] == {"slug": "already exists"}
    bad = {"slug": "Bad Slug", "title": "X", "filter": {"colours": ["red"]}, "limit": "9"}
    err = _error(client.post("/api/v1/channels", json=bad, headers=admin), 422)
    assert set(err["fields"]) == {"slug", "filter.colours", "limit"}  # shapes and types first
    bad = {"slug": "ok", "title": "X", "limit": 9000, "language": "!!", "link": "ftp://x"}
    err = _error(client.post("/api/v1/channels", json=bad, headers=admin), 422)
    assert set(err["fields"]) == {"limit", "link"}  # what the OpenAPI document states
    bad = {"slug": "ok", "title": "X", "language": "!!", "description": 3}
    err = _error(client.post("/api/v1/channels", json=bad, headers=admin), 422)
    assert set(err["fields"]) == {"description"}
    bad = {"slug": "ok", "title": "X", "language": "!!"}
    err = _error(client.post("/api/v1/channels", json=bad, headers=admin), 422)
    assert set(err["fields"]) == {"language"}  # then the service's rules

    _create(client, editor, title="Cup final tonight", section="Sport", status="published")
    for fmt in ("rss", "atom", "json"):
        r = client.get(f"/api/v1/channels/sport/preview?format={fmt}", headers=auth["reader"])
        assert r.status_code == 200
        preview = r.get_json()
        assert preview["format"] == fmt and "Cup final tonight" in preview["body"]
        assert preview["content_type"].startswith("application/")
        assert all({"level", "message"} == set(f) for f in preview["findings"])
        assert not [f for f in preview["findings"] if f["level"] == "error"]
    client.patch("/api/v1/channels/sport", json={"formats": ["rss"]}, headers=admin)
    findings = client.get(
        "/api/v1/channels/sport/preview?format=json", headers=auth["reader"]
    ).get_json()["findings"]
    assert findings[0] == {"level": "info", "message": "json is not enabled for this channel"}
    err = _error(client.get("/api/v1/channels/sport/preview?format=pdf", headers=admin), 422)
    assert "query.format" in err["fields"]

    listed = client.get("/api/v1/channels", headers=auth["reader"]).get_json()
    assert [c["slug"] for c in listed["items"]] == ["sport"] and listed["next"] is None
    r = client.patch("/api/v1/channels/sport", json={"title": "All sport"}, headers=admin)
    assert r.get_json()["title"] == "All sport"
    _error(client.patch("/api/v1/channels/sport", json={"title": "x"}, headers=editor), 403)
    assert client.delete("/api/v1/channels/sport", headers=admin).status_code == 204
    _error(client.get("/api/v1/channels/sport", headers=admin), 404)


# --- links ------------------------------------------------------------------------------------


def test_links_crud_and_stats(client, auth):
    editor = auth["editor"]
    r = client.post(
        "/api/v1/links",
        json={"url": "https://example.org/sale", "slug": "sale", "tags": ["promo"]},
        headers=editor,
    )
    assert r.status_code == 201 and r.headers["Location"] == "/api/v1/links/sale"
    link = r.get_json()
    assert link["short_url"] == "http://news.example.test/s/sale"
    assert link["qr_svg"].endswith("/s/sale/qr.svg")
    _error(
        client.post("/api/v1/links", json={"url": "https://x.org", "slug": "SALE"}, headers=editor),
        409,
    )
    err = _error(client.post("/api/v1/links", json={"url": "javascript:x"}, headers=editor), 422)
    assert set(err["fields"]) == {"url"}

    generated = client.post("/api/v1/links", json={"url": "https://x.org/a"}, headers=editor)
    assert generated.status_code == 201
    r = client.patch("/api/v1/links/sale", json={"title": "Spring sale"}, headers=editor)
    assert r.status_code == 200 and r.get_json()["title"] == "Spring sale"

    assert client.get("/s/sale").status_code == 302
    client.application.extensions["syndication"].visits.flush()
    stats = client.get("/api/v1/links/sale/stats?days=3", headers=auth["reader"]).get_json()
    assert len(stats["days"]) == 3 and stats["total"]["visits"] == 1
    assert (
        "query.days"
        in _error(client.get("/api/v1/links/sale/stats?days=0", headers=editor), 422)["fields"]
    )
    _error(client.get("/api/v1/links/nope/stats", headers=editor), 404)

    first = client.get("/api/v1/links?limit=1", headers=auth["reader"]).get_json()
    assert len(first["items"]) == 1 and first["next"]
    second = client.get(first["next"], headers=auth["reader"]).get_json()
    assert [x["code"] for x in first["items"] + second["items"]][1] == "sale"
    assert second["next"] is None

    _error(client.delete("/api/v1/links/sale", headers=auth["reader"]), 403)
    assert client.delete("/api/v1/links/sale", headers=editor).status_code == 204
    _error(client.get("/api/v1/links/sale", headers=editor), 404)
    assert client.get("/s/sale").status_code == 410

    story = _create(client, editor, status="published")
    news_link = story["short_url"].rsplit("/", 1)[1]
    _error(client.delete(f"/api/v1/links/{news_link}", headers=editor), 409)


# --- tokens -----------------------------------------------------------------------------------


def test_tokens_admin_only_and_shown_once(client, auth, rt):
    for role in ("reader", "editor"):
        _error(client.get("/api/v1/tokens", headers=auth[role]), 403)
        _error(
            client.post("/api/v1/tokens", json={"name": "x", "role": "reader"}, headers=auth[role]),
            403,
        )
    admin = auth["admin"]
    r = client.post("/api/v1/tokens", json={"name": "ci", "role": "reader"}, headers=admin)
    assert r.status_code == 201
    made = r.get_json()
    assert made["token"].startswith("syn_") and made["prefix"] == made["token"][:10]
    assert r.headers["Location"] == f"/api/v1/tokens/{made['id']}"
    plaintext = made["token"]

    # the new token works, with its role
    mine = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/v1/stories", headers=mine).status_code == 200
    _error(client.post("/api/v1/stories", json=STORY, headers=mine), 403)

    # never again: not in the list, not in the detail, not in the database
    listing = client.get("/api/v1/tokens", headers=admin)
    detail = client.get(r.headers["Location"], headers=admin)
    for response in (listing, detail):
        assert response.status_code == 200
        assert plaintext not in response.get_data(as_text=True)
        assert plaintext[10:] not in response.get_data(as_text=True)
    assert "token" not in detail.get_json()
    with rt.db.read() as s:
        for row in s.scalars(select(ApiToken)):
            assert plaintext not in json.dumps([row.name, row.token_hash, row.prefix])
        assert s.scalars(select(IdempotencyKey)).all() == []

    err = _error(
        client.post("/api/v1/tokens", json={"name": "x", "role": "boss"}, headers=admin), 422
    )
    assert "role" in err["fields"]

    r = client.delete(f"/api/v1/tokens/{made['id']}", headers=admin)
    assert r.status_code == 200 and r.get_json()["revoked_at"]
    _error(client.get("/api/v1/stories", headers=mine), 401)
    _error(client.delete("/api/v1/tokens/99999", headers=admin), 404)


# --- the document and the docs ----------------------------------------------------------------


def test_openapi_document_and_docs_are_public_and_local(client, app):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = doc["paths"]
    # every /api/v1 route of the app is described, and nothing else
    rules = {
        str(rule.rule).replace("<", "{").replace(">", "}").replace("int:", "")
        for rule in app.url_map.iter_rules()
        if str(rule.rule).startswith("/api/v1/") and rule.endpoint != "api_docs.openapi_json"
    }
    assert set(paths) == rules
    assert not [p for p in paths if not p.startswith("/api/v1/")]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            # every error status listed (no catch-all `default`), each with the error body
            responses = operation["responses"]
            assert "default" not in responses, (path, method)
            assert {"400", "401", "403"} <= set(responses), (path, method)
            if "requestBody" in operation:
                assert {"413", "422"} <= set(responses), (path, method)
    for name, response in doc["components"]["responses"].items():
        ref = response["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorSchema", name
    post = paths["/api/v1/stories"]["post"]
    assert "Location" in post["responses"]["201"]["headers"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])

    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/openapi.json" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN: local assets only
    for asset in ("/static/swagger-ui/swagger-ui-bundle.js", "/static/swagger-ui/swagger-ui.css"):
        assert asset in html
        assert client.get(asset).status_code == 200
