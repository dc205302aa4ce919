"""Corrections (issue 14, point 1), on SQLite and PostgreSQL: the API (editor, Idempotency-Key,
malformed, hostile, oversized and duplicate input, only published stories), the admin form
(CSRF), `syndication stories correct`, the story page's "Correction" block in English and
Arabic, the three feeds (feedparser, the JSON Feed schema) with their caches invalidated, and
`story.corrected` to real receivers on 127.0.0.1 in json and ninjs (valid against IPTC's
schema), its version greater than the one before."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import jsonschema
import pytest
from lxml import html as lxml_html
from standardwebhooks import Webhook

from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.channels.service import create_channel
from syndication.models import Story
from syndication.stories.service import (
    CORRECTION_MAX,
    correct_story,
    create_story,
    retract_story,
)

from .conftest import BASE_URL, make_settings
from .pushkit import FakeClock, add_subscriber, publish, receiver  # noqa: F401 - a fixture
from .storyfactory import parse_json

SCHEMA = json.loads((Path(__file__).parent / "data" / "ninjs-2.x.schema.json").read_text())
NINJS = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1", timezone="Europe/Paris")


@pytest.fixture
def app(clocked_app):
    return clocked_app


def _token(rt, role: str) -> dict[str, str]:
    with rt.db.write() as s:
        _, value = create_token(s, role, role, now=rt.clock())
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def editor(rt):
    return _token(rt, "editor")


def _story(rt, code: str = "s1", status: str = "published", **fields) -> None:
    data = {"code": code, "title": "Bridge opens", "summary": "The lead.", "section": "City"}
    data["body_html"] = "<p>The body.</p>"
    data.update(fields)
    with rt.db.write() as s:
        create_story(s, rt.settings, data, now=rt.clock(), default_status=status)


def _stored(rt, code: str = "s1") -> tuple[list, int, datetime]:
    with rt.db.read() as s:
        story = s.query(Story).filter_by(code=code).one()
        return list(story.corrections), story.revision, story.updated_at


def _post(client, headers, text, code="s1", **extra):
    return client.post(
        f"/api/v1/stories/{code}/corrections", json={"text": text, **extra}, headers=headers
    )


# --- the API --------------------------------------------------------------------------------


def test_a_correction_is_dated_public_and_a_new_revision(rt, client, clock, editor):
    _story(rt)
    before = _stored(rt)[1]
    clock.advance(60)
    r = _post(client, editor, "The bridge opens on Tuesday, not Monday.")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    when = clock().astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert body["corrections"] == [
        {"text": "The bridge opens on Tuesday, not Monday.", "at": when}
    ]
    assert body["revision"] == before + 1
    assert body["updated_at"] == when
    clock.advance(60)
    second = _post(client, editor, "The mayor's name is Ana.").get_json()
    assert [c["text"] for c in second["corrections"]] == [
        "The bridge opens on Tuesday, not Monday.",
        "The mayor's name is Ana.",
    ]
    assert second["revision"] == before + 2
    # read back through GET too, and the export re-imports as is (corrections read-only)
    got = client.get("/api/v1/stories/s1", headers=editor).get_json()
    assert got["corrections"] == second["corrections"]
    assert client.patch("/api/v1/stories/s1", json=got, headers=editor).status_code == 200
    assert _stored(rt)[0] == second["corrections"]


def test_hostile_text_is_stored_as_plain_text(rt, client, editor):
    _story(rt)
    r = _post(client, editor, "<script>alert(1)</script><b>Fixed</b> &amp; <i>checked</i>\x7f")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["corrections"][0]["text"] == "Fixed & checked"


@pytest.mark.parametrize(
    "payload",
    [
        {"text": ""},
        {"text": "   \n "},
        {"text": "<b></b>"},
        {"text": None},
        {"text": 12},
        {"text": ["a"]},
        {},
        {"text": "ok", "at": "2020-01-01T00:00:00Z"},
        {"text": "x" * (CORRECTION_MAX + 1)},
        {"text": "a\x00b"},
    ],
)
def test_malformed_or_oversized_input_is_refused_and_changes_nothing(rt, client, editor, payload):
    _story(rt)
    before = _stored(rt)
    r = client.post("/api/v1/stories/s1/corrections", json=payload, headers=editor)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.get_json()["error"]["fields"]
    assert _stored(rt) == before


def test_not_json_is_refused(rt, client, editor):
    _story(rt)
    r = client.post(
        "/api/v1/stories/s1/corrections",
        data="text=x",
        headers={**editor, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (400, 415, 422)
    assert _stored(rt)[0] == []


def test_the_longest_correction_fits(rt, client, editor):
    _story(rt)
    assert _post(client, editor, "x" * CORRECTION_MAX).status_code == 200


def test_the_same_text_again_adds_nothing(rt, client, clock, editor):
    _story(rt)
    first = _post(client, editor, "Fixed the date.").get_json()
    clock.advance(60)
    again = _post(client, editor, "  Fixed   the date. ")  # cleaned, it is the same text
    assert again.status_code == 200
    assert again.get_json()["corrections"] == first["corrections"]
    assert again.get_json()["revision"] == first["revision"]


def test_idempotency_key_replays_the_first_answer(rt, client, clock, editor):
    _story(rt)
    keyed = {**editor, "Idempotency-Key": "fix-1"}
    first = _post(client, keyed, "Fixed the date.")
    clock.advance(1)
    again = _post(client, keyed, "Fixed the date.")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = _post(client, keyed, "Another text.")  # the same key with another body
    assert other.status_code == 422
    assert len(_stored(rt)[0]) == 1


@pytest.mark.parametrize("status", ["draft", "scheduled", "retracted"])
def test_only_a_published_story_can_be_corrected(rt, client, editor, status):
    if status == "scheduled":
        _story(rt, status="scheduled", publish_at="2099-01-01T00:00:00Z")
    elif status == "retracted":
        _story(rt)
        with rt.db.write() as s:
            retract_story(s, rt.settings, "s1", now=rt.clock())
    else:
        _story(rt, status="draft")
    before = _stored(rt)
    r = _post(client, editor, "Fixed.")
    assert r.status_code == 409, r.get_data(as_text=True)
    assert f"is {status}" in r.get_json()["error"]["message"]
    assert _stored(rt) == before
    assert _post(client, editor, "Fixed.", code="nope").status_code == 404


def test_readers_and_strangers_cannot_correct(rt, client):
    _story(rt)
    assert _post(client, _token(rt, "reader"), "Fixed.").status_code == 403
    assert _post(client, {}, "Fixed.").status_code == 401
    assert _stored(rt)[0] == []


def test_openapi_documents_the_action(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/stories/{code}/corrections"]["post"]
    assert {"200", "404", "409", "422"} <= set(op["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "corrections" in schema["properties"]


# --- admin and CLI --------------------------------------------------------------------------


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _login(client, rt, role: str) -> str:
    with rt.db.write() as s:
        create_user(s, role, PASSWORD, role, rt.clock())
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    data = {"username": role, "password": PASSWORD, "csrf_token": csrf}
    assert client.post("/admin/login", data=data).status_code == 303
    return _csrf_of(client.get("/admin/").get_data(as_text=True))


def test_admin_form_corrects_with_csrf(rt, client):
    _story(rt)
    csrf = _login(client, rt, "editor")
    page = client.get("/admin/stories/s1").get_data(as_text=True)
    assert 'action="/admin/stories/s1/corrections"' in page
    url = "/admin/stories/s1/corrections"
    assert client.post(url, data={"text": "Fixed."}).status_code == 400  # no CSRF token
    assert client.post(url, data={"text": "Fixed.", "csrf_token": "x" * 43}).status_code == 400
    assert _stored(rt)[0] == []
    r = client.post(url, data={"text": "<em>Fixed</em> the date.", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/stories/s1")
    assert [c["text"] for c in _stored(rt)[0]] == ["Fixed the date."]
    page = client.get("/admin/stories/s1").get_data(as_text=True)
    assert "Story s1 corrected." in page and "Fixed the date." in page
    client.post(url, data={"text": "Fixed the date.", "csrf_token": csrf})
    assert "That correction is already there." in client.get("/admin/stories/s1").get_data(
        as_text=True
    )
    client.post(url, data={"text": "  ", "csrf_token": csrf})
    page = client.get("/admin/stories/s1").get_data(as_text=True)
    assert "Could not correct story s1: correction must not be empty" in page
    assert len(_stored(rt)[0]) == 1


def test_admin_form_only_for_published_stories_and_editors(rt, client):
    _story(rt, "d1", status="draft")
    _story(rt)
    csrf = _login(client, rt, "reader")
    assert "/corrections" not in client.get("/admin/stories/s1").get_data(as_text=True)
    r = client.post("/admin/stories/s1/corrections", data={"text": "x", "csrf_token": csrf})
    assert r.status_code == 403


def test_admin_draft_gets_a_clear_message(rt, client):
    _story(rt, "d1", status="draft")
    csrf = _login(client, rt, "editor")
    assert "/corrections" not in client.get("/admin/stories/d1").get_data(as_text=True)
    r = client.post("/admin/stories/d1/corrections", data={"text": "x", "csrf_token": csrf})
    assert r.status_code == 303
    page = client.get("/admin/stories/d1").get_data(as_text=True)
    assert "only published stories can be corrected" in page
    r = client.post("/admin/stories/zz/corrections", data={"text": "x", "csrf_token": csrf})
    assert r.status_code == 404


def test_cli_corrects(invoke, db_url, tmp_path):
    from syndication.runtime import Runtime

    rt = Runtime.create(make_settings(db_url, tmp_path))
    try:
        _story(rt)
        _story(rt, "d1", status="draft")
    finally:
        rt.close()
    ok = invoke("stories", "correct", "s1", "--text", "<b>Fixed</b> the date.")
    assert ok.exit_code == 0, ok.output
    assert "story s1 corrected: revision 2" in ok.output
    again = invoke("stories", "correct", "s1", "--text", "Fixed the date.")
    assert again.exit_code == 0 and "already has this correction" in again.output
    draft = invoke("stories", "correct", "d1", "--text", "Fixed.")
    assert draft.exit_code == 1 and "only published stories can be corrected" in draft.output
    empty = invoke("stories", "correct", "s1", "--text", " ")
    assert empty.exit_code == 1 and "text: must not be empty" in empty.output
    long = invoke("stories", "correct", "s1", "--text", "x" * (CORRECTION_MAX + 1))
    assert long.exit_code == 1 and "at most" in long.output
    missing = invoke("stories", "correct", "nope", "--text", "x")
    assert missing.exit_code == 1 and "no story" in missing.output
    assert invoke("stories", "correct", "s1").exit_code == 2  # --text is required


# --- the story page ---------------------------------------------------------------------------


def _corrected(rt, clock, code: str = "s1", texts=("First fix.", "Second fix.")) -> None:
    for text in texts:
        clock.advance(3600)
        with rt.db.write() as s:
            correct_story(s, rt.settings, code, text, now=clock())


def test_story_page_shows_corrections_newest_first(rt, client, clock):
    _story(rt)
    assert "Correction" not in client.get("/stories/s1").get_data(as_text=True)
    _corrected(rt, clock)
    doc = lxml_html.fromstring(client.get("/stories/s1").get_data(as_text=True))
    block = doc.xpath("//section[contains(@class, 'corrections')]")[0]
    assert block.xpath(".//h2")[0].text_content() == "Correction"
    notes = block.xpath(".//p[@class='correction']")
    assert [n.xpath(".//span")[0].text_content() for n in notes] == ["Second fix.", "First fix."]
    times = [n.xpath(".//time")[0] for n in notes]
    latest = clock().astimezone(UTC)
    assert datetime.fromisoformat(times[0].get("datetime")) == latest
    assert times[0].text_content().endswith("CET")  # the site's zone, in words a person reads
    # The page's updated time is the latest correction's.
    updated = doc.xpath("//span[@class='updated']/time")[0]
    assert datetime.fromisoformat(updated.get("datetime")) == latest


def test_story_page_in_arabic_translates_the_label(rt, client, clock):
    _story(rt, language="ar", title="افتتاح الجسر")
    _corrected(rt, clock, texts=("صُحّح التاريخ.",))
    doc = lxml_html.fromstring(client.get("/stories/s1").get_data(as_text=True))
    block = doc.xpath("//section[contains(@class, 'corrections')]")[0]
    heading = block.xpath(".//h2")[0]
    assert heading.text_content() == "تصحيح" and heading.get("lang") == "ar"
    time = block.xpath(".//time")[0]
    assert time.get("dir") == "rtl" and "توقيت وسط أوروبا" in time.text_content()
    assert "صُحّح التاريخ." in block.text_content()


def test_story_page_in_persian_translates_the_label(rt, client, clock):
    _story(rt, language="fa", title="گشایش پل")
    _corrected(rt, clock, texts=("تاریخ اصلاح شد.",))
    doc = lxml_html.fromstring(client.get("/stories/s1").get_data(as_text=True))
    heading = doc.xpath("//section[contains(@class, 'corrections')]//h2")[0]
    assert heading.text_content() == "تصحیح" and heading.get("lang") == "fa"


# --- feeds ------------------------------------------------------------------------------------


def test_feeds_carry_the_corrections_and_the_new_updated_time(rt, client, clock):
    with rt.db.write() as s:
        create_channel(s, {"slug": "city", "title": "City", "filter": {}}, now=clock())
    _story(rt)
    warm = {fmt: client.get(f"/feeds/city.{fmt}").data for fmt in ("rss", "atom", "json")}
    assert all(b"First fix." not in body for body in warm.values())  # caches filled
    _corrected(rt, clock, texts=("First fix.", "A <3 & fix."))
    latest = clock().astimezone(UTC).replace(microsecond=0)

    for fmt in ("rss", "atom"):
        feed = feedparser.parse(client.get(f"/feeds/city.{fmt}").data)
        assert not feed.bozo, feed.bozo_exception
        entry = feed.entries[0]
        content = entry.content[0].value
        assert "First fix." in content, content
        assert content.startswith("<p>The body.</p>")
        # at the end, newest first, the text escaped as text
        assert content.index("A &lt;3 &amp; fix.") < content.index("First fix.")
        assert content.rstrip().endswith("</div>")
        assert entry.summary == "The lead."  # the plain summary unchanged
        if fmt == "atom":
            when = datetime(*entry.updated_parsed[:6], tzinfo=UTC)
            assert when == latest
    doc = parse_json(client.get("/feeds/city.json").data)  # valid against JSON Feed 1.1
    item = doc["items"][0]
    assert item["summary"] == "The lead."
    assert item["content_html"].startswith("<p>The body.</p>")
    assert "A &lt;3 &amp; fix." in item["content_html"]
    assert datetime.fromisoformat(item["date_modified"]) == latest


def test_summary_only_channels_keep_the_summary_alone(rt, client, clock):
    with rt.db.write() as s:
        create_channel(
            s, {"slug": "brief", "title": "Brief", "filter": {}, "content": "summary"}, now=clock()
        )
    _story(rt)
    _corrected(rt, clock)
    item = parse_json(client.get("/feeds/brief.json").data)["items"][0]
    assert item["content_text"] == "The lead." and "content_html" not in item


# --- partners ---------------------------------------------------------------------------------


def _step(rt, ctx, clock, text: str) -> None:
    clock.advance(1)  # a second: Standard Webhooks refuses timestamps far from real time
    with rt.db.write() as s:
        correct_story(s, rt.settings, "s1", text, now=clock())
    ctx.engine.drain()


def test_partners_receive_story_corrected_in_json_and_ninjs(rt, ctx, clock, receiver):
    secret = {}
    for fmt in ("json", "ninjs"):
        secret[fmt] = add_subscriber(rt, receiver.url(f"/{fmt}"), format=fmt).secret
    add_subscriber(rt, receiver.url("/only-published"), event_types=["story.published"])
    publish(rt, now=clock(), summary="The lead.")
    ctx.engine.drain()
    _step(rt, ctx, clock, "First fix.")
    _step(rt, ctx, clock, "Second fix.")

    payloads = {
        fmt: [Webhook(secret[fmt]).verify(body, h) for _, h, body in receiver.on(f"/{fmt}")]
        for fmt in ("json", "ninjs")
    }
    types = ["story.published", "story.corrected", "story.corrected"]
    assert [p["type"] for p in payloads["json"]] == types
    assert [p["type"] for p in payloads["ninjs"]] == types
    assert len(receiver.on("/only-published")) == 1  # who did not choose it gets none

    last = payloads["json"][-1]["data"]
    assert [c["text"] for c in last["corrections"]] == ["First fix.", "Second fix."]
    assert last["corrections"][-1]["at"] == last["updated_at"]
    assert payloads["json"][0]["data"]["corrections"] == []
    revisions = [p["data"]["revision"] for p in payloads["json"]]
    assert revisions == sorted(set(revisions)), revisions  # only grows

    for payload, revision in zip(payloads["ninjs"], revisions, strict=True):
        item = payload["data"]
        NINJS.validate(item)
        assert item["version"] == str(revision)
        assert item["pubstatus"] == "usable"
    descriptions = payloads["ninjs"][-1]["data"]["descriptions"]
    assert descriptions == [
        {"role": "summary", "contenttype": "text/plain", "value": "The lead."},
        {"role": "correction", "contenttype": "text/plain", "value": "Second fix."},
        {"role": "correction", "contenttype": "text/plain", "value": "First fix."},
    ]
    assert "ednote" not in payloads["ninjs"][-1]["data"]


def test_new_subscribers_choose_story_corrected_by_default(rt, client):
    admin = _token(rt, "admin")
    r = client.post(
        "/api/v1/subscribers", json={"name": "P", "url": "http://127.0.0.1:9/h"}, headers=admin
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    assert "story.corrected" in r.get_json()["event_types"]
    r = client.post(
        "/api/v1/subscribers",
        json={"name": "Q", "url": "http://127.0.0.1:9/h", "event_types": ["story.corrected"]},
        headers=admin,
    )
    assert r.status_code == 201 and r.get_json()["event_types"] == ["story.corrected"]


def test_a_duplicate_correction_sends_nothing(rt, ctx, clock, receiver):
    add_subscriber(rt, receiver.url("/json"))
    publish(rt, now=clock())
    ctx.engine.drain()
    _step(rt, ctx, clock, "Fix.")
    _step(rt, ctx, clock, "Fix.")
    assert [json.loads(b)["type"] for _, _, b in receiver.on("/json")] == [
        "story.published",
        "story.corrected",
    ]


def test_page_url_in_events_is_the_story_page(rt, ctx, clock, receiver):
    add_subscriber(rt, receiver.url("/ninjs"), format="ninjs")
    publish(rt, now=clock())
    ctx.engine.drain()
    _step(rt, ctx, clock, "Fix.")
    item = json.loads(receiver.on("/ninjs")[-1][2])["data"]
    assert item["uri"] == f"{BASE_URL}/stories/s1"
