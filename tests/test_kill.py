"""Takedown (kill): the API (admin only, Idempotency-Key, bad input), the CLI, the 410s of the
story page, News Link and QR images, feeds dropping the item, `story.killed` to a real partner
on 127.0.0.1 (json and ninjs, validated), pending deliveries of earlier events cancelled, and
the purge: a unique marker in every content field is found nowhere in a full dump of the
database afterwards (SQLite iterdump, PostgreSQL pg_dump), nor in a feed fetched after."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from syndication.auth.tokens import create_token
from syndication.models import Delivery, Event, Story
from syndication.push.queue import dispatch_events

from .conftest import make_settings
from .pushkit import Receiver, add_subscriber, deliveries
from .storyfactory import page_url, parse_json, parse_xml, xml_tree

SCHEMA = json.loads((Path(__file__).parent / "data" / "ninjs-2.x.schema.json").read_text())
NINJS = jsonschema.Draft202012Validator(SCHEMA)
MARK = "Zq9MarkerXk"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


@pytest.fixture
def app(clocked_app):
    return clocked_app


def _auth(rt, role: str) -> dict[str, str]:
    with rt.db.write() as s:
        return {"Authorization": f"Bearer {create_token(s, role, role, now=rt.clock())[1]}"}


def _marked_story(code: str = "k1") -> dict:
    return {
        "code": code,
        "title": f"Title {MARK}",
        "summary": f"Summary {MARK}",
        "body_html": f"<p>Body {MARK}</p>",
        "url": f"https://news.example/{MARK}",
        "authors": [f"Author {MARK}"],
        "image": {"url": f"https://news.example/{MARK}.jpg", "caption": f"Caption {MARK}"},
        "section": "Local",
        "tags": ["City"],
        "language": "en",
        "status": "published",
    }


def _dump(settings) -> str:
    url = settings.database_url
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("///", 1)[1])
        try:
            return "\n".join(con.iterdump())
        finally:
            con.close()
    plain = url.replace("+psycopg", "")
    return subprocess.run(
        ["pg_dump", "--data-only", plain], check=True, capture_output=True, text=True
    ).stdout


def test_kill_purges_every_trace_and_tells_partners(rt, ctx, client, clock, settings):
    # The partners echo the story in their answers to story.published (the first request):
    # the attempt log keeps the first 1 KiB. (What they answer to story.killed is theirs.)
    ninjs_partner = Receiver(lambda path, n: (200, {}, f"got {MARK}".encode() if n == 1 else b"ok"))
    json_partner = Receiver(lambda path, n: (200, {}, f"got {MARK}".encode() if n == 1 else b"ok"))
    try:
        add_subscriber(rt, json_partner.url("/json"), format="json")
        add_subscriber(rt, ninjs_partner.url("/ninjs"), format="ninjs")
        editor, admin = _auth(rt, "editor"), _auth(rt, "admin")
        r = client.post(
            "/api/v1/stories",
            json=_marked_story(),
            headers={**editor, "Idempotency-Key": "create-k1"},
        )
        assert r.status_code == 201, r.get_json()
        link = r.get_json()["short_url"].rsplit("/", 1)[1]
        r = client.patch(f"/api/v1/links/{link}", json={"title": f"Link {MARK}"}, headers=editor)
        assert r.status_code == 200, r.get_json()
        assert client.get("/feeds/all.atom").status_code in (200, 404)
        ctx.engine.drain()  # story.published delivered to both (their attempt log kept)
        assert {d.status for d in deliveries(rt)} == {"delivered"}
        clock.advance(1)
        r = client.patch("/api/v1/stories/k1", json={"summary": f"New {MARK}"}, headers=editor)
        assert r.status_code == 200
        dispatch_events(rt.db, ctx.transmitters, clock)  # story.updated: pending, never sent
        pending = [d.id for d in deliveries(rt) if d.status == "pending"]
        assert len(pending) == 2
        assert client.get("/stories/k1").status_code == 200
        assert client.get(f"/s/{link}/qr.svg").status_code == 200
        before = _dump(settings)  # the marker is in every place the purge must reach
        for place in ("got " + MARK, "Link " + MARK, "Caption " + MARK, "Author " + MARK):
            assert place in before, place

        clock.advance(1)
        r = client.post(
            "/api/v1/stories/k1/kill",
            json={"reason": "court order"},
            headers={**admin, "Idempotency-Key": "kill-k1"},
        )
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["status"] == "killed" and body["kill_reason"] == "court order"
        assert MARK not in r.get_data(as_text=True)
        # Replays: the kill's own, and the create's (now the tombstone).
        again = client.post(
            "/api/v1/stories/k1/kill",
            json={"reason": "court order"},
            headers={**admin, "Idempotency-Key": "kill-k1"},
        )
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        replay = client.post(
            "/api/v1/stories",
            json=_marked_story(),
            headers={**editor, "Idempotency-Key": "create-k1"},
        )
        assert MARK not in replay.get_data(as_text=True)
        # Without a key a second kill is a conflict.
        assert (
            client.post("/api/v1/stories/k1/kill", json={"reason": "x"}, headers=admin).status_code
            == 409
        )

        page = client.get("/stories/k1")
        assert page.status_code == 410 and MARK not in page.get_data(as_text=True)
        news = client.get(f"/s/{link}")
        assert news.status_code == 410 and MARK not in news.get_data(as_text=True)
        assert client.get(f"/s/{link}/qr.svg").status_code == 410
        assert client.get(f"/s/{link}/qr.png").status_code == 410
        # Nothing brings it back.
        assert (
            client.patch("/api/v1/stories/k1", json={"title": "x"}, headers=editor).status_code
            == 409
        )

        with rt.db.read() as s:
            cancelled = s.scalars(select(Delivery).where(Delivery.id.in_(pending))).all()
            assert {d.status for d in cancelled} == {"cancelled"}
        ctx.engine.drain()
        assert not [d for d in deliveries(rt) if d.id in pending and d.status != "cancelled"]
        killed = [json.loads(b) for _, _, b in json_partner.on("/json")][-1]
        assert killed["type"] == "story.killed"
        data = killed["data"]
        assert data["code"] == "k1" and data["reason"] == "court order"
        assert data["version"] == data["revision"] == body["revision"]
        assert len(json_partner.on("/json")) == 2  # published, killed: the update never went
        ninjs = [json.loads(b) for _, _, b in ninjs_partner.on("/ninjs")][-1]
        assert ninjs["type"] == "story.killed" and ninjs["data"]["pubstatus"] == "canceled"
        NINJS.validate(ninjs["data"])
        assert MARK not in json.dumps(killed) + json.dumps(ninjs)

        # Nothing before the kill goes out again: no replay, no recovery.
        r = client.post(f"/api/v1/deliveries/{pending[0]}/replay", headers=admin)
        assert r.status_code == 409, r.get_json()
        sub_id = deliveries(rt)[0].subscriber_id
        r = client.post(
            f"/api/v1/subscribers/{sub_id}/recover",
            json={"since": "2000-01-01T00:00:00+00:00"},
            headers=admin,
        )
        assert r.status_code == 200 and r.get_json()["requeued"] == 0, r.get_json()

        dump = _dump(settings)
        assert "court order" in dump  # the dump is real: the tombstone is in it
        assert MARK not in dump
        assert MARK.lower() not in dump.lower()
    finally:
        ninjs_partner.close()
        json_partner.close()


def test_feeds_drop_a_killed_story_at_once_and_atom_lists_tombstones(rt, client, clock):
    admin = _auth(rt, "admin")
    client.post("/api/v1/channels", json={"slug": "all", "title": "All"}, headers=admin)
    assert client.post("/api/v1/stories", json=_marked_story(), headers=admin).status_code == 201
    assert (
        client.post("/api/v1/stories", json=_marked_story("r1"), headers=admin).status_code == 201
    )
    for fmt in ("rss", "atom", "json"):
        assert MARK in client.get(f"/feeds/all.{fmt}").get_data(as_text=True)
    clock.advance(10)
    r = client.post("/api/v1/stories/r1/retract", headers=admin)
    assert r.status_code == 200
    clock.advance(10)
    r = client.post("/api/v1/stories/k1/kill", json={"reason": "libel"}, headers=admin)
    assert r.status_code == 200
    killed_at = r.get_json()["killed_at"]
    for fmt in ("rss", "atom", "json"):
        r = client.get(f"/feeds/all.{fmt}")
        assert r.status_code == 200 and MARK not in r.get_data(as_text=True)
        if fmt == "json":
            assert parse_json(r.data)["items"] == []  # validated against JSON Feed 1.1
            assert b"deleted" not in r.data
        else:
            assert parse_xml(r.data).bozo == 0
    atom = xml_tree(client.get("/feeds/all.atom").data)
    gone = atom.findall(f"{{{TOMBSTONES}}}deleted-entry")
    assert [(g.get("ref"), datetime.fromisoformat(g.get("when"))) for g in gone] == [
        (page_url("k1"), datetime.fromisoformat(killed_at)),
        (page_url("r1"), _updated(rt, "r1")),
    ]
    # Only on the first page, never in RSS (no standard tombstone there).
    assert TOMBSTONES.encode() not in client.get("/feeds/all.rss").data
    # Gone from the Atom feed once tombstone_days have passed (at the channel's next change).
    clock.advance(8 * 86400)
    assert (
        client.post("/api/v1/stories", json=_marked_story("n1"), headers=admin).status_code == 201
    )
    atom = xml_tree(client.get("/feeds/all.atom").data)
    assert atom.findall(f"{{{TOMBSTONES}}}deleted-entry") == []


def _updated(rt, code: str) -> datetime:
    with rt.db.read() as s:
        return s.scalar(select(Story.updated_at).where(Story.code == code))


@pytest.mark.parametrize(
    "payload, status",
    [
        ({}, 422),
        ({"reason": ""}, 422),
        ({"reason": "x" * 501}, 422),
        ({"reason": 5}, 422),
        ({"reason": "ok", "extra": 1}, 422),
        ({"reason": "bad\x00reason"}, 422),
    ],
)
def test_kill_refuses_bad_input_and_leaves_the_story(rt, client, payload, status):
    admin = _auth(rt, "admin")
    assert client.post("/api/v1/stories", json=_marked_story(), headers=admin).status_code == 201
    r = client.post("/api/v1/stories/k1/kill", json=payload, headers=admin)
    assert r.status_code in (status, 400), r.get_json()
    with rt.db.read() as s:
        assert s.scalar(select(Story.status).where(Story.code == "k1")) == "published"


def test_kill_is_for_admins_only_and_unknown_codes_are_404(rt, client):
    editor, admin = _auth(rt, "editor"), _auth(rt, "admin")
    assert client.post("/api/v1/stories", json=_marked_story(), headers=editor).status_code == 201
    assert (
        client.post("/api/v1/stories/k1/kill", json={"reason": "x"}, headers=editor).status_code
        == 403
    )
    assert client.post("/api/v1/stories/k1/kill", json={"reason": "x"}).status_code == 401
    assert (
        client.post("/api/v1/stories/nope/kill", json={"reason": "x"}, headers=admin).status_code
        == 404
    )


def test_cli_kills_a_story(rt, invoke):
    with rt.db.write() as s:
        from syndication.stories.service import create_story

        create_story(s, rt.settings, _marked_story(), now=rt.clock())
    blank = invoke("stories", "kill", "k1", "--reason", "  ")
    assert blank.exit_code != 0 and "reason" in blank.output
    result = invoke("stories", "kill", "k1", "--reason", "court order")
    assert result.exit_code == 0, result.output
    assert "killed" in result.output
    again = invoke("stories", "kill", "k1", "--reason", "court order")
    assert again.exit_code != 0 and "already killed" in again.output
    missing = invoke("stories", "kill", "nope", "--reason", "x")
    assert missing.exit_code != 0
    with rt.db.read() as s:
        story = s.scalar(select(Story).where(Story.code == "k1"))
        assert story.status == "killed" and story.title == "" and story.authors == []
        events = s.scalars(select(Event).where(Event.story_id == story.id).order_by(Event.id)).all()
        assert [e.type for e in events][-1] == "story.killed"
        assert MARK not in json.dumps([e.snapshot for e in events])


def test_admin_page_confirms_with_a_reason_then_kills(rt, client):
    from .test_admin import _csrf_of, _login, _user

    with rt.db.write() as s:
        from syndication.stories.service import create_story

        create_story(s, rt.settings, _marked_story(), now=rt.clock())
    _user(rt, "ed", "editor")
    _login(client, "ed")
    assert "Kill…" not in client.get("/admin/stories/k1").get_data(as_text=True)
    assert client.get("/admin/stories/k1/kill").status_code == 403
    client.post(
        "/admin/logout", data={"csrf_token": _csrf_of(client.get("/admin/").get_data(as_text=True))}
    )
    _user(rt, "boss", "admin")
    csrf = _login(client, "boss")
    assert "Kill…" in client.get("/admin/stories/k1").get_data(as_text=True)
    confirm = client.get("/admin/stories/k1/kill")
    assert confirm.status_code == 200 and 'name="reason"' in confirm.get_data(as_text=True)
    # No reason: nothing happens, the form comes back with the error.
    r = client.post("/admin/stories/k1/kill", data={"csrf_token": csrf, "reason": " "})
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/stories/k1/kill")
    with rt.db.read() as s:
        assert s.scalar(select(Story.status).where(Story.code == "k1")) == "published"
    assert client.post("/admin/stories/k1/kill", data={"reason": "x"}).status_code in (400, 403)
    r = client.post("/admin/stories/k1/kill", data={"csrf_token": csrf, "reason": "court order"})
    assert r.status_code == 303
    with rt.db.read() as s:
        story = s.scalar(select(Story).where(Story.code == "k1"))
        assert (story.status, story.kill_reason, story.title) == ("killed", "court order", "")
    page = client.get("/admin/stories/k1").get_data(as_text=True)
    assert "Kill…" not in page and MARK not in page


def test_websub_subscribers_of_its_channel_get_the_topic_without_it(rt, ctx):
    from syndication.channels.service import create_channel
    from syndication.stories.kill import kill_story
    from syndication.stories.service import create_story

    from .pushkit import settle
    from .test_websub_distribution import subscribe

    hub = Receiver()
    try:
        with rt.db.write() as s:
            create_channel(s, {"slug": "local", "title": "Local"}, now=rt.clock())
        subscribe(rt, hub.url("/atom"), slug="local", fmt="atom")
        subscribe(rt, hub.url("/json"), slug="local", fmt="json")
        with rt.db.write() as s:
            create_story(s, rt.settings, _marked_story(), now=rt.clock())
        settle(ctx, lambda: len(hub.requests) == 2)
        assert MARK.encode() in hub.on("/atom")[0][2]
        with rt.db.write() as s:
            kill_story(s, rt.settings, "k1", "court order", now=rt.clock())
        settle(ctx, lambda: len(hub.requests) == 4)
        atom, jsonfeed = hub.on("/atom")[1][2], hub.on("/json")[1][2]
        assert MARK.encode() not in atom + jsonfeed
        assert json.loads(jsonfeed)["items"] == []
        gone = xml_tree(atom).findall(f"{{{TOMBSTONES}}}deleted-entry")
        assert [g.get("ref") for g in gone] == [page_url("k1")]
    finally:
        hub.close()
