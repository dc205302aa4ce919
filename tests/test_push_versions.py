"""Versions that only grow: every event a partner receives for a story carries a greater version
than the one before (json `revision`, ninjs `version`), through a story's whole life: publish,
update, retract, re-publish, take back to draft, publish again. End to end through the delivery
engine to a real receiver on 127.0.0.1, on SQLite and PostgreSQL; ninjs payloads validated
against the vendored IPTC ninjs schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import jsonschema
import pytest
from lxml import html as lxml_html
from standardwebhooks import Webhook

from syndication.channels.service import create_channel
from syndication.stories.kill import kill_story
from syndication.stories.service import correct_story, publish_story, retract_story, update_story

from .conftest import BASE_URL, make_settings
from .pushkit import FakeClock, add_subscriber, publish, receiver  # noqa: F401 - a fixture
from .storyfactory import parse_json

SCHEMA = json.loads((Path(__file__).parent / "data" / "ninjs-2.x.schema.json").read_text())
NINJS = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


def _step(rt, ctx, clock, change) -> None:
    """One editor's change a second later, and the deliveries it makes sent (one step at a time:
    the engine sends a subscriber's due deliveries concurrently, so order is the test's job).
    A second, not more: Standard Webhooks verification refuses timestamps far from real time."""
    clock.advance(1)
    with rt.db.write() as s:
        change(s, clock())
    ctx.engine.drain()


# (what the editor does, the event partners get, its pubstatus in ninjs)
LIFE = [
    ("update", lambda s, st, now: update_story(s, st, "s1", {"title": "Two"}, now=now)),
    ("retract", lambda s, st, now: retract_story(s, st, "s1", now=now)),
    ("re-publish", lambda s, st, now: publish_story(s, st, "s1", now=now)),
    ("to draft", lambda s, st, now: update_story(s, st, "s1", {"status": "draft"}, now=now)),
    ("publish", lambda s, st, now: publish_story(s, st, "s1", now=now)),
    ("update", lambda s, st, now: update_story(s, st, "s1", {"summary": "More"}, now=now)),
    (
        "retract with an edit",
        lambda s, st, now: update_story(
            s, st, "s1", {"status": "retracted", "title": "Gone"}, now=now
        ),
    ),
]
EXPECTED = [
    ("story.published", "usable"),
    ("story.updated", "usable"),
    ("story.retracted", "canceled"),
    ("story.published", "usable"),
    ("story.retracted", "withheld"),  # back to draft: withdrawn, and ninjs says so
    ("story.published", "usable"),
    ("story.updated", "usable"),
    ("story.retracted", "canceled"),
]


def test_every_event_carries_a_greater_version_in_json_and_ninjs(rt, ctx, clock, receiver):
    secret = {}
    for fmt in ("json", "ninjs"):
        secret[fmt] = add_subscriber(rt, receiver.url(f"/{fmt}"), format=fmt).secret
    publish(rt, now=clock())
    ctx.engine.drain()
    for _, change in LIFE:
        _step(rt, ctx, clock, lambda s, now, change=change: change(s, rt.settings, now))

    payloads = {
        fmt: [Webhook(secret[fmt]).verify(body, h) for _, h, body in receiver.on(f"/{fmt}")]
        for fmt in ("json", "ninjs")
    }
    assert [p["type"] for p in payloads["json"]] == [t for t, _ in EXPECTED]
    assert [p["type"] for p in payloads["ninjs"]] == [t for t, _ in EXPECTED]

    revisions = [p["data"]["revision"] for p in payloads["json"]]
    assert all(a < b for a, b in zip(revisions, revisions[1:], strict=False)), revisions
    assert revisions[0] == 1  # the first publication is the first revision

    for payload, revision, (_, pubstatus) in zip(
        payloads["ninjs"], revisions, EXPECTED, strict=True
    ):
        item = payload["data"]
        NINJS.validate(item)
        assert item["uri"] == f"{BASE_URL}/stories/s1"
        assert item["version"] == str(revision)  # json and ninjs agree, event by event
        assert item["pubstatus"] == pubstatus


def test_saving_unchanged_content_sends_nothing_and_keeps_the_revision(rt, ctx, clock, receiver):
    """Only events make revisions: an identical save, or a second retraction, is no event."""
    add_subscriber(rt, receiver.url("/json"))
    publish(rt, now=clock())
    ctx.engine.drain()
    _step(rt, ctx, clock, lambda s, now: retract_story(s, rt.settings, "s1", now=now))
    _step(rt, ctx, clock, lambda s, now: retract_story(s, rt.settings, "s1", now=now))
    same = {"title": "Title s1"}
    _step(rt, ctx, clock, lambda s, now: update_story(s, rt.settings, "s1", same, now=now))
    bodies = [json.loads(body) for _, _, body in receiver.on("/json")]
    assert [(b["type"], b["data"]["revision"]) for b in bodies] == [
        ("story.published", 1),
        ("story.retracted", 2),
    ]


def test_a_draft_published_for_the_first_time_keeps_its_revision(rt, ctx, clock, receiver):
    """Drafts edited before publication count their content revisions; publishing adds none."""
    add_subscriber(rt, receiver.url("/json"))
    publish(rt, now=clock(), status="draft")
    edit = {"title": "B"}
    _step(rt, ctx, clock, lambda s, now: update_story(s, rt.settings, "s1", edit, now=now))
    _step(rt, ctx, clock, lambda s, now: publish_story(s, rt.settings, "s1", now=now))
    ((_, _, body),) = receiver.on("/json")
    assert json.loads(body)["data"]["revision"] == 2


def test_versions_grow_through_an_embargo(rt, ctx, clock, receiver):
    """Scheduled (story.embargoed to a trusted partner), rescheduled, taken back to draft
    (story.killed to the told), scheduled again, edited, published now, updated: one growing
    version for the trusted partner in json and ninjs; the other partner's events grow too."""
    for fmt in ("json", "ninjs"):
        add_subscriber(rt, receiver.url(f"/{fmt}"), format=fmt, receives_embargoed=True)
    add_subscriber(rt, receiver.url("/plain"))
    later = clock() + timedelta(hours=1)

    def at(delta: int) -> str:
        return (later + timedelta(minutes=delta)).isoformat()

    publish(rt, now=clock(), status="scheduled", publish_at=at(0))
    ctx.engine.drain()
    life = [
        {"publish_at": at(10)},
        {"status": "draft"},
        {"status": "scheduled", "publish_at": at(20)},
        {"title": "Edited"},
    ]
    for change in life:
        _step(
            rt, ctx, clock, lambda s, now, c=change: update_story(s, rt.settings, "s1", c, now=now)
        )
    _step(rt, ctx, clock, lambda s, now: publish_story(s, rt.settings, "s1", now=now))
    _step(
        rt, ctx, clock, lambda s, now: update_story(s, rt.settings, "s1", {"summary": "M"}, now=now)
    )

    bodies = {
        p: [json.loads(b) for _, _, b in receiver.on(f"/{p}")] for p in ("json", "ninjs", "plain")
    }
    assert [b["type"] for b in bodies["json"]] == [
        "story.embargoed",
        "story.embargoed",
        "story.killed",
        "story.embargoed",
        "story.embargoed",
        "story.published",
        "story.updated",
    ]
    versions = [b["data"].get("revision", b["data"].get("version")) for b in bodies["json"]]
    assert all(a < b for a, b in zip(versions, versions[1:], strict=False)), versions
    for item, version in zip(bodies["ninjs"], versions, strict=True):
        NINJS.validate(item["data"])
        assert item["data"]["version"] == str(version)
    assert [b["type"] for b in bodies["plain"]] == ["story.published", "story.updated"]
    assert [b["data"]["revision"] for b in bodies["plain"]] == versions[-2:]


def test_one_version_in_every_output(rt, ctx, clock, receiver, client):
    """Each event's version and time are the story's everywhere at that moment: json
    `revision` and `updated_at`, ninjs `version` and `versioncreated`, the Atom entry's
    `updated`, the JSON Feed item's `date_modified`, the page's JSON-LD `version` and
    `dateModified`. A takedown's version is greater still, in json and ninjs alike."""
    with rt.db.write() as s:
        create_channel(s, {"slug": "all", "title": "All", "filter": {}}, now=clock())
    for fmt in ("json", "ninjs"):
        add_subscriber(rt, receiver.url(f"/{fmt}"), format=fmt)
    publish(rt, now=clock())
    ctx.engine.drain()

    def check() -> int:
        data = json.loads(receiver.on("/json")[-1][2])["data"]
        item = json.loads(receiver.on("/ninjs")[-1][2])["data"]
        NINJS.validate(item)
        when = datetime.fromisoformat(data["updated_at"])
        assert item["version"] == str(data["revision"])
        assert datetime.fromisoformat(item["versioncreated"]) == when
        atom = feedparser.parse(client.get("/feeds/all.atom").data)
        assert not atom.bozo, atom.bozo_exception
        assert datetime(*atom.entries[0].updated_parsed[:6], tzinfo=UTC) == when
        jf = parse_json(client.get("/feeds/all.json").data)
        assert datetime.fromisoformat(jf["items"][0]["date_modified"]) == when
        page = lxml_html.fromstring(client.get("/stories/s1").get_data(as_text=True))
        (script,) = page.xpath('//script[@type="application/ld+json"]')
        ld = json.loads(script.text)
        assert ld["version"] == str(data["revision"])
        assert datetime.fromisoformat(ld["dateModified"]) == when
        return data["revision"]

    versions = [check()]
    edits = [
        lambda s, now: update_story(s, rt.settings, "s1", {"title": "Two"}, now=now),
        lambda s, now: correct_story(s, rt.settings, "s1", "A fix.", now=now),
        lambda s, now: update_story(s, rt.settings, "s1", {"summary": "More"}, now=now),
    ]
    for edit in edits:
        _step(rt, ctx, clock, edit)
        versions.append(check())
    _step(rt, ctx, clock, lambda s, now: kill_story(s, rt.settings, "s1", "legal", now=now))
    killed = json.loads(receiver.on("/json")[-1][2])
    ninjs = json.loads(receiver.on("/ninjs")[-1][2])
    assert killed["type"] == ninjs["type"] == "story.killed"
    assert ninjs["data"]["version"] == str(killed["data"]["version"])
    versions.append(killed["data"]["version"])
    assert all(a < b for a, b in zip(versions, versions[1:], strict=False)), versions
    assert [json.loads(b)["type"] for _, _, b in receiver.on("/json")] == [
        "story.published",
        "story.updated",
        "story.corrected",
        "story.updated",
        "story.killed",
    ]
