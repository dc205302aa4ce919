"""Embargo (issue 14, point 3): partners with `receives_embargoed` hear of a scheduled story at
once (`story.embargoed` with the publish_at), nothing of it is public before publish_at (feeds,
page, news sitemap, News Link and QR, WebSub), everyone gets `story.published` at publish_at,
rescheduling tells the trusted partners again, unscheduling or deleting sends `story.killed` to
those who were told. Real receivers on 127.0.0.1, the delivery engine, a clock moved by hand, on
SQLite and PostgreSQL; ninjs payloads validated against the vendored IPTC schema. Then the flag
itself: API, web admin and CLI, with bad input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import jsonschema
import pytest
from sqlalchemy import select

from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.channels.service import create_channel
from syndication.links.service import story_link
from syndication.models import Delivery, Story, Subscriber
from syndication.scheduler import release_due_stories
from syndication.stories.kill import kill_story
from syndication.stories.service import create_story, delete_story, get_story, update_story
from syndication.validation import iso

from .conftest import make_settings
from .pushkit import Receiver, add_subscriber, settle

SCHEMA = json.loads((Path(__file__).parent / "data" / "ninjs-2.x.schema.json").read_text())
NINJS = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
PASSWORD = "correct horse battery"
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


@pytest.fixture
def app(clocked_app):
    return clocked_app


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def partners(rt, receiver, clock):
    """Paths of the receiver: /trusted (json, flagged), /trusted-ninjs (flagged), /plain (not
    flagged), and a WebSub subscription of channel "sport" at /websub."""
    with rt.db.write() as s:
        create_channel(
            s, {"slug": "sport", "title": "Sport", "filter": {"sections": ["Sport"]}}, now=clock()
        )
    add_subscriber(rt, receiver.url("/trusted"), receives_embargoed=True, created_at=clock())
    add_subscriber(
        rt,
        receiver.url("/trusted-ninjs"),
        format="ninjs",
        receives_embargoed=True,
        created_at=clock(),
    )
    add_subscriber(rt, receiver.url("/plain"), created_at=clock())
    now = clock()
    with rt.db.write() as s:
        s.add(
            Subscriber(
                kind="websub",
                name="websub",
                url=receiver.url("/websub"),
                secret="",
                channels=["sport"],
                topic=f"{rt.settings.base_url}/feeds/sport.rss",
                topic_format="rss",
                lease_seconds=86400,
                lease_expires_at=now + timedelta(days=1),
                verified_at=now,
                active=True,
                created_at=now,
            )
        )
    return receiver


def _bodies(receiver, path: str) -> list[dict]:
    return [json.loads(body) for _, _, body in receiver.on(path)]


def _websub_deliveries(rt) -> int:
    with rt.db.read() as s:
        ids = select(Subscriber.id).where(Subscriber.kind == "websub")
        return len(list(s.scalars(select(Delivery.id).where(Delivery.subscriber_id.in_(ids)))))


def _public(client, rt, title: str) -> dict[str, bool]:
    """Where the story shows publicly (True = it does)."""
    seen = {}
    for fmt in ("rss", "atom", "json"):
        r = client.get(f"/feeds/sport.{fmt}")
        assert r.status_code == 200
        if fmt == "json":
            seen[fmt] = title in [i.get("title") for i in json.loads(r.data)["items"]]
            continue
        parsed = feedparser.parse(r.data)
        assert not parsed.bozo, parsed.bozo_exception
        seen[fmt] = title in [e.title for e in parsed.entries]
    seen["page"] = client.get("/stories/s1").status_code == 200
    seen["news sitemap"] = title in client.get("/sitemaps/news.xml").get_data(as_text=True)
    seen["sitemap"] = "/stories/s1" in "".join(
        client.get(loc).get_data(as_text=True)
        for loc in re.findall(
            r"<loc>([^<]+)</loc>", client.get("/sitemap.xml").get_data(as_text=True)
        )
        for loc in [loc.replace(rt.settings.base_url, "")]
    )
    with rt.db.read() as s:
        link = story_link(s, get_story(s, "s1").id)
        code = link.code if link else None
    seen["link"] = code is not None and client.get(f"/s/{code}").status_code in (301, 302, 307)
    seen["qr"] = code is not None and client.get(f"/s/{code}/qr.svg").status_code == 200
    seen["websub"] = _websub_deliveries(rt) > 0
    return seen


def test_schedule_reschedule_publish(rt, client, ctx, clock, partners):
    receiver = partners
    at = clock() + timedelta(hours=1)
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {
                "code": "s1",
                "title": "Secret deal",
                "section": "Sport",
                "status": "scheduled",
                "publish_at": iso(at),
            },
            now=clock(),
        )
    settle(
        ctx, lambda: len(receiver.on("/trusted")) == 1 and len(receiver.on("/trusted-ninjs")) == 1
    )
    (first,) = _bodies(receiver, "/trusted")
    assert first["type"] == "story.embargoed"
    assert first["data"]["embargoed"] == iso(at) and first["data"]["title"] == "Secret deal"
    (ninjs,) = _bodies(receiver, "/trusted-ninjs")
    NINJS.validate(ninjs["data"])
    assert ninjs["data"]["embargoed"] == iso(at) and ninjs["data"]["pubstatus"] == "withheld"
    assert receiver.on("/plain") == []
    assert not any(_public(client, rt, "Secret deal").values())

    # Rescheduled: the trusted partners hear the new time, with a greater version.
    later = at + timedelta(hours=1)
    clock.advance(60)
    with rt.db.write() as s:
        update_story(s, rt.settings, "s1", {"publish_at": iso(later)}, now=clock())
    settle(
        ctx, lambda: len(receiver.on("/trusted")) == 2 and len(receiver.on("/trusted-ninjs")) == 2
    )
    second = _bodies(receiver, "/trusted")[1]
    assert second["type"] == "story.embargoed" and second["data"]["embargoed"] == iso(later)
    assert second["data"]["revision"] > first["data"]["revision"]
    assert (
        int(_bodies(receiver, "/trusted-ninjs")[1]["data"]["version"]) == second["data"]["revision"]
    )

    # The first time passes: still nothing public, nothing for anyone.
    clock.advance((at - clock()).total_seconds() + 1)
    assert release_due_stories(rt.db, rt.settings, clock) == 0
    ctx.engine.drain()
    assert receiver.on("/plain") == [] and len(receiver.on("/trusted")) == 2
    assert not any(_public(client, rt, "Secret deal").values())

    # At publish_at: story.published to everyone, and public everywhere.
    clock.advance((later - clock()).total_seconds())
    assert release_due_stories(rt.db, rt.settings, clock) == 1
    settle(
        ctx,
        lambda: (
            len(receiver.on("/plain")) == 1
            and len(receiver.on("/trusted")) == 3
            and len(receiver.on("/trusted-ninjs")) == 3
            and len(receiver.on("/websub")) == 1
        ),
    )
    (plain,) = _bodies(receiver, "/plain")
    third = _bodies(receiver, "/trusted")[2]
    assert plain["type"] == third["type"] == "story.published"
    assert third["data"]["revision"] > second["data"]["revision"]
    assert "embargoed" not in third["data"]
    published_ninjs = _bodies(receiver, "/trusted-ninjs")[2]["data"]
    NINJS.validate(published_ninjs)
    assert published_ninjs["pubstatus"] == "usable" and "embargoed" not in published_ninjs
    assert all(_public(client, rt, "Secret deal").values())


@pytest.mark.parametrize("how", ["unschedule", "delete", "kill"])
def test_cancelled_embargo_kills_for_the_told_only(rt, client, ctx, clock, partners, how):
    receiver = partners
    at = clock() + timedelta(hours=1)
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {
                "code": "s1",
                "title": "Deal",
                "section": "Sport",
                "status": "scheduled",
                "publish_at": iso(at),
            },
            now=clock(),
        )
    settle(
        ctx, lambda: len(receiver.on("/trusted")) == 1 and len(receiver.on("/trusted-ninjs")) == 1
    )
    # Trusted only now: it was not told, so it is not told of the cancellation either; the
    # told partner no longer flagged still is (it holds the story).
    with rt.db.write() as s:
        for sub in s.scalars(select(Subscriber).where(Subscriber.kind == "webhook")):
            if sub.url.endswith("/plain"):
                sub.receives_embargoed = True
            elif sub.url.endswith("/trusted"):
                sub.receives_embargoed = False
    clock.advance(60)
    with rt.db.write() as s:
        if how == "unschedule":
            update_story(s, rt.settings, "s1", {"status": "draft"}, now=clock())
        elif how == "delete":
            delete_story(s, "s1", settings=rt.settings, now=clock())
        else:  # a takedown of a story never public: its tombstone is a revision of its own
            kill_story(s, rt.settings, "s1", "court order", now=clock())
    settle(
        ctx, lambda: len(receiver.on("/trusted")) == 2 and len(receiver.on("/trusted-ninjs")) == 2
    )
    first, killed = _bodies(receiver, "/trusted")
    assert killed["type"] == "story.killed"
    reason = {"unschedule": "unscheduled", "delete": "deleted", "kill": "court order"}[how]
    assert killed["data"] == {
        "code": "s1",
        "version": first["data"]["revision"] + (2 if how == "kill" else 1),
        "reason": reason,
    }
    ninjs = _bodies(receiver, "/trusted-ninjs")[1]["data"]
    NINJS.validate(ninjs)
    assert ninjs["pubstatus"] == "canceled" and int(ninjs["version"]) == killed["data"]["version"]
    assert "headlines" not in ninjs and "bodies" not in ninjs
    assert receiver.on("/plain") == [] and _websub_deliveries(rt) == 0
    # Publishing time comes: nothing is released, nothing public.
    clock.advance(7200)
    assert release_due_stories(rt.db, rt.settings, clock) == 0
    ctx.engine.drain()
    assert len(receiver.requests) == 4
    for fmt in ("rss", "atom", "json"):
        assert "Deal" not in client.get(f"/feeds/sport.{fmt}").get_data(as_text=True)
    assert client.get("/stories/s1").status_code == (410 if how == "kill" else 404)


def test_a_draft_never_scheduled_is_deleted_silently_and_published_ones_stay(
    rt, ctx, clock, partners
):
    receiver = partners
    with rt.db.write() as s:
        create_story(s, rt.settings, {"code": "d1", "title": "Draft"}, now=clock())
        delete_story(s, "d1", settings=rt.settings, now=clock())
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {"code": "p1", "title": "Out", "section": "Sport", "status": "published"},
            now=clock(),
        )
    from syndication.errors import Conflict

    with pytest.raises(Conflict), rt.db.write() as s:
        delete_story(s, "p1", settings=rt.settings, now=clock())
    settle(ctx, lambda: len(receiver.on("/plain")) == 1)
    assert [b["type"] for b in _bodies(receiver, "/trusted")] == ["story.published"]


def test_scheduled_story_content_edit_tells_again(rt, ctx, clock, partners):
    receiver = partners
    at = clock() + timedelta(hours=1)
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {
                "code": "s1",
                "title": "One",
                "section": "Sport",
                "status": "scheduled",
                "publish_at": iso(at),
            },
            now=clock(),
        )
        create_story(
            s,
            rt.settings,
            {
                "code": "s2",
                "title": "Elsewhere",
                "section": "Local",
                "status": "scheduled",
                "publish_at": iso(at),
            },
            now=clock(),
        )
    with rt.db.write() as s:
        update_story(s, rt.settings, "s1", {"title": "Two"}, now=clock())
    settle(ctx, lambda: len(receiver.on("/trusted")) == 3)
    titles = [
        (b["type"], b["data"]["code"], b["data"]["title"]) for b in _bodies(receiver, "/trusted")
    ]
    # In order within a story (the second waits for the first); two stories go side by side.
    assert sorted(titles, key=lambda t: t[1]) == [
        ("story.embargoed", "s1", "One"),
        ("story.embargoed", "s1", "Two"),
        ("story.embargoed", "s2", "Elsewhere"),
    ]


# --- the flag: API, web admin, CLI --------------------------------------------------------------


@pytest.fixture
def auth(rt):
    out = {}
    for role in ("editor", "admin"):
        with rt.db.write() as s:
            token = create_token(s, role, role, now=datetime.now(UTC))[1]
        out[role] = {"Authorization": f"Bearer {token}"}
    return out


def test_api_flag(client, auth):
    admin = auth["admin"]
    r = client.post("/api/v1/subscribers", json={"name": "P", "url": HOOK}, headers=admin)
    assert r.status_code == 201 and r.get_json()["receives_embargoed"] is False
    url = r.headers["Location"]
    r = client.post(
        "/api/v1/subscribers",
        json={"name": "T", "url": HOOK, "receives_embargoed": True},
        headers=admin,
    )
    assert r.status_code == 201 and r.get_json()["receives_embargoed"] is True
    for bad in ("yes", 1, 0, "true", [], {}, "x" * 100_000):
        r = client.post(
            "/api/v1/subscribers",
            json={"name": "B", "url": HOOK, "receives_embargoed": bad},
            headers=admin,
        )
        assert r.status_code in (400, 422), (bad, r.status_code)
        assert "receives_embargoed" in r.get_json()["error"]["fields"]
        r = client.patch(url, json={"receives_embargoed": bad}, headers=admin)
        assert r.status_code in (400, 422), bad
    assert client.get(url, headers=admin).get_json()["receives_embargoed"] is False
    assert len(client.get("/api/v1/subscribers", headers=admin).get_json()["items"]) == 2
    r = client.patch(url, json={"receives_embargoed": True}, headers=admin)
    assert r.status_code == 200 and r.get_json()["receives_embargoed"] is True
    r = client.patch(url, json={"receives_embargoed": True}, headers=admin)  # twice: the same
    assert r.status_code == 200 and r.get_json()["receives_embargoed"] is True
    r = client.patch(url, json={"receives_embargoed": None}, headers=admin)
    assert r.get_json()["receives_embargoed"] is False
    assert (
        client.patch(url, json={"receives_embargoed": True}, headers=auth["editor"]).status_code
        == 403
    )
    assert client.patch(url, json={"receives_embargoed": True}).status_code == 401
    assert client.get(url, headers=admin).get_json()["receives_embargoed"] is False


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


def _flag(rt, name: str) -> bool:
    with rt.db.read() as s:
        return s.scalar(select(Subscriber.receives_embargoed).where(Subscriber.name == name))


def test_admin_flag(client, rt):
    csrf = _login(client, rt, "root", "admin")
    form = client.get("/admin/subscribers/new").get_data(as_text=True)
    assert 'name="receives_embargoed"' in form
    r = client.post(
        "/admin/subscribers/new",
        data={
            "csrf_token": csrf,
            "name": "Trusted",
            "url": HOOK,
            "format": "json",
            "receives_embargoed": "1",
        },
    )
    assert r.status_code == 200 and _flag(rt, "Trusted") is True
    with rt.db.read() as s:
        sub_id = s.scalar(select(Subscriber.id).where(Subscriber.name == "Trusted"))
    detail = client.get(f"/admin/subscribers/{sub_id}").get_data(as_text=True)
    assert "Embargoed stories" in detail and "received" in detail
    edit = client.get(f"/admin/subscribers/{sub_id}/edit").get_data(as_text=True)
    assert re.search(r'name="receives_embargoed" value="1" checked', edit)
    for bad in ("yes", "on", "<script>", "1" * 10_000):
        r = client.post(
            f"/admin/subscribers/{sub_id}/edit",
            data={
                "csrf_token": csrf,
                "name": "Trusted",
                "url": HOOK,
                "format": "json",
                "receives_embargoed": bad,
            },
        )
        assert r.status_code == 422, bad
        assert "must be checked or not" in r.get_data(as_text=True)
        assert "<script>" not in r.get_data(as_text=True)
    assert _flag(rt, "Trusted") is True  # nothing half-written
    r = client.post(
        f"/admin/subscribers/{sub_id}/edit",
        data={"csrf_token": csrf, "name": "Trusted", "url": HOOK, "format": "json"},
    )
    assert r.status_code == 303 and _flag(rt, "Trusted") is False
    # Editors never see or change it.
    client.post("/admin/logout", data={"csrf_token": csrf})
    editor_client = client.application.test_client()
    csrf = _login(editor_client, rt, "ed", "editor")
    r = editor_client.post(
        f"/admin/subscribers/{sub_id}/edit",
        data={"csrf_token": csrf, "name": "Trusted", "url": HOOK, "receives_embargoed": "1"},
    )
    assert r.status_code == 403 and _flag(rt, "Trusted") is False


def test_cli_flag(invoke, rt):
    invoke.env["SYNDICATION_OUTBOUND_ALLOW"] = "127.0.0.1"
    out = invoke("subscribers", "add", "--name", "T", "--url", HOOK, "--receives-embargoed")
    assert out.exit_code == 0, out.output
    sub_id = int(re.search(r"id: (\d+)", out.output)[1])
    assert _flag(rt, "T") is True
    out = invoke("subscribers", "add", "--name", "P", "--url", HOOK)
    assert out.exit_code == 0 and _flag(rt, "P") is False
    out = invoke("subscribers", "update", str(sub_id), "--no-receives-embargoed")
    assert out.exit_code == 0 and "does not receive" in out.output
    assert _flag(rt, "T") is False
    out = invoke("subscribers", "update", str(sub_id), "--receives-embargoed")
    assert out.exit_code == 0 and _flag(rt, "T") is True
    bad = invoke("subscribers", "update", str(sub_id))
    assert bad.exit_code == 2 and "nothing to change" in bad.output
    bad = invoke("subscribers", "update", "999999", "--receives-embargoed")
    assert bad.exit_code == 1 and "999999" in bad.output
    bad = invoke("subscribers", "update", "x", "--receives-embargoed")
    assert bad.exit_code == 2
    bad = invoke("subscribers", "add", "--name", "Q", "--url", HOOK, "--receives-embargoed=yes")
    assert bad.exit_code == 2
    assert _flag(rt, "T") is True and _flag(rt, "Q") is None


def test_admin_deletes_a_scheduled_story(rt, client, ctx, clock, partners):
    receiver = partners
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {
                "code": "s1",
                "title": "Deal",
                "section": "Sport",
                "status": "scheduled",
                "publish_at": iso(clock() + timedelta(hours=1)),
            },
            now=clock(),
        )
    settle(ctx, lambda: len(receiver.on("/trusted")) == 1)
    csrf = _login(client, rt, "ed", "editor")
    edit = client.get("/admin/stories/s1").get_data(as_text=True)
    assert "Delete scheduled story…" in edit
    assert "partners told get story.killed" in client.get("/admin/stories/s1/delete").get_data(
        as_text=True
    )
    r = client.post("/admin/stories/s1/delete", data={"csrf_token": csrf})
    assert r.status_code == 303
    with rt.db.read() as s:
        assert s.scalar(select(Story.id).where(Story.code == "s1")) is None
    settle(ctx, lambda: len(receiver.on("/trusted")) == 2)
    killed = _bodies(receiver, "/trusted")[1]
    assert killed["type"] == "story.killed" and killed["data"]["reason"] == "deleted"
    assert receiver.on("/plain") == []
