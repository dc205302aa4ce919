"""The story model: validation, codes, revisions and the status life cycle, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndication.channels.service import create_channel, get_channel
from syndication.errors import Conflict, ValidationError
from syndication.stories.service import (
    create_story,
    get_story,
    publish_story,
    release_due,
    retract_story,
    story_to_dict,
    update_story,
    upsert_story,
)

NOW = datetime(2025, 2, 14, 9, 10, tzinfo=UTC)


def test_codes_come_from_a_sequence_and_skip_taken_ones(rt):
    with rt.db.write() as s:
        a = create_story(s, rt.settings, {"title": "A"}, now=NOW)
        create_story(s, rt.settings, {"title": "B", "code": "1000001"}, now=NOW)
        c = create_story(s, rt.settings, {"title": "C"}, now=NOW)
    assert a.code == "1000000"
    assert c.code == "1000002"


def test_duplicate_code_is_a_conflict_and_stores_nothing(rt):
    with rt.db.write() as s:
        create_story(s, rt.settings, {"title": "A", "code": "42"}, now=NOW)
    with pytest.raises(Conflict), rt.db.write() as s:
        create_story(s, rt.settings, {"title": "B", "code": "42"}, now=NOW)
    with rt.db.read() as s:
        assert get_story(s, "42").title == "A"


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"title": "  "}, "title", "must not be empty"),
        ({"title": "x" * 501}, "title", "at most 500"),
        ({"title": "T", "url": "javascript:alert(1)"}, "url", "http or https"),
        ({"title": "T", "url": "ftp://example.com/a"}, "url", "http or https"),
        ({"title": "T", "language": "english!"}, "language", "BCP 47"),
        ({"title": "T", "status": "live"}, "status", "must be one of"),
        ({"title": "T", "published_at": "2025-02-14T09:10:00"}, "published_at", "time zone"),
        ({"title": "T", "published_at": "yesterday"}, "published_at", "ISO 8601"),
        ({"title": "T", "status": "scheduled"}, "publish_at", "required"),
        ({"title": "T", "image": {"caption": "no url"}}, "image.url", "must not be empty"),
        (
            {"title": "T", "image": {"url": "https://x.test/a.jpg", "length": -1}},
            "image.length",
            "between",
        ),
        (
            {"title": "T", "image": {"url": "https://x.test/a.jpg", "type": "jpeg"}},
            "image.type",
            "MIME",
        ),
        ({"title": "T", "tags": "a" and 5}, "tags", "list of strings"),
        ({"title": "T", "code": "has space"}, "code", "letters, digits"),
        ({"title": "T", "titel": "typo"}, "titel", "unknown field"),
        ({"title": "T", "summary": "s" * 5001}, "summary", "at most 5000"),
    ],
)
def test_validation_names_the_field(rt, record, field, message):
    with pytest.raises(ValidationError) as info, rt.db.write() as s:
        create_story(s, rt.settings, record, now=NOW)
    assert field in info.value.fields, info.value.fields
    assert message in info.value.fields[field]


def test_every_bad_field_is_reported_at_once(rt):
    with pytest.raises(ValidationError) as info, rt.db.write() as s:
        create_story(s, rt.settings, {"title": "", "url": "nope", "language": "??"}, now=NOW)
    assert set(info.value.fields) == {"title", "url", "language"}


def test_html_is_sanitised_and_links_made_absolute_before_storing(rt):
    body = (
        '<p onclick="x()">Hi <a href="/about">about</a> <img src="pic.jpg">'
        '<script>alert(1)</script><a href="javascript:alert(1)">bad</a>\x01</p>'
    )
    with rt.db.write() as s:
        story = create_story(
            s, rt.settings, {"title": "T", "code": "7", "body_html": body}, now=NOW
        )
    html = story.body_html
    assert "script" not in html and "onclick" not in html and "javascript:" not in html
    assert 'href="http://news.example.test/about"' in html
    assert 'src="http://news.example.test/stories/pic.jpg"' in html
    assert "\x01" not in html


def test_revision_grows_only_on_real_content_change(rt):
    with rt.db.write() as s:
        story = create_story(
            s, rt.settings, {"title": "T", "code": "9", "status": "published"}, now=NOW
        )
        assert story.revision == 1
    later = NOW + timedelta(hours=1)
    with rt.db.write() as s:
        _, outcome = update_story(s, rt.settings, "9", {"title": "T"}, now=later)
        assert outcome == "unchanged"
        story, outcome = update_story(s, rt.settings, "9", {"title": "T2"}, now=later)
        assert outcome == "updated" and story.revision == 2 and story.updated_at == later
        story, outcome = update_story(s, rt.settings, "9", {"title": "T2", "tags": []}, now=later)
        assert outcome == "unchanged" and story.revision == 2


def test_publishing_without_date_takes_the_time_of_publishing(rt):
    with rt.db.write() as s:
        create_story(s, rt.settings, {"title": "T", "code": "1"}, now=NOW)
        story = publish_story(s, rt.settings, "1", now=NOW + timedelta(minutes=5))
    assert story.status == "published"
    assert story.published_at == NOW + timedelta(minutes=5)


def test_scheduled_story_is_released_at_its_publish_time(rt):
    due = NOW + timedelta(hours=2)
    with rt.db.write() as s:
        create_story(
            s,
            rt.settings,
            {"title": "T", "code": "5", "status": "scheduled", "publish_at": due.isoformat()},
            now=NOW,
        )
        assert release_due(s, rt.settings, now=NOW) == []
    with rt.db.write() as s:
        assert release_due(s, rt.settings, now=due + timedelta(seconds=3)) == ["5"]
    with rt.db.read() as s:
        story = get_story(s, "5")
        assert story.status == "published" and story.published_at == due


def test_scheduled_in_the_past_is_published_at_once(rt):
    with rt.db.write() as s:
        story = create_story(
            s,
            rt.settings,
            {"title": "T", "status": "scheduled", "publish_at": "2020-01-01T00:00:00Z"},
            now=NOW,
        )
    assert story.status == "published"
    assert story.published_at == datetime(2020, 1, 1, tzinfo=UTC)


def test_published_with_future_date_is_scheduled(rt):
    with rt.db.write() as s:
        story = create_story(
            s,
            rt.settings,
            {"title": "T", "status": "published", "published_at": "2030-01-01T00:00:00+01:00"},
            now=NOW,
        )
    assert story.status == "scheduled"
    assert story.publish_at == datetime(2029, 12, 31, 23, 0, tzinfo=UTC)


def test_retract_only_published(rt):
    with rt.db.write() as s:
        create_story(s, rt.settings, {"title": "T", "code": "d"}, now=NOW)
    with pytest.raises(Conflict), rt.db.write() as s:
        retract_story(s, rt.settings, "d", now=NOW)
    with rt.db.write() as s:
        publish_story(s, rt.settings, "d", now=NOW)
        assert retract_story(s, rt.settings, "d", now=NOW).status == "retracted"


def test_upsert_is_idempotent_by_code_and_by_external_id(rt):
    rec = {"code": "77", "title": "T", "tags": ["a"]}
    ext = {"external_id": "urn:x:1", "title": "E"}
    with rt.db.write() as s:
        assert upsert_story(s, rt.settings, rec, now=NOW)[1] == "created"
        assert upsert_story(s, rt.settings, ext, now=NOW)[1] == "created"
    with rt.db.write() as s:
        assert upsert_story(s, rt.settings, rec, now=NOW)[1] == "unchanged"
        assert upsert_story(s, rt.settings, ext, now=NOW)[1] == "unchanged"
        assert upsert_story(s, rt.settings, {**ext, "title": "E2"}, now=NOW)[1] == "updated"


def test_export_reimports_unchanged(rt):
    with rt.db.write() as s:
        story = create_story(
            s,
            rt.settings,
            {"title": "T", "body_html": "<p>x</p>", "status": "published", "tags": ["x"]},
            now=NOW,
        )
        exported = story_to_dict(story, rt.settings)
    with rt.db.write() as s:
        assert upsert_story(s, rt.settings, exported, now=NOW + timedelta(days=1))[1] == "unchanged"


def test_story_changes_bump_only_the_channels_that_show_it(rt):
    with rt.db.write() as s:
        create_channel(
            s, {"slug": "sport", "title": "Sport", "filter": {"sections": ["Sport"]}}, now=NOW
        )
        create_channel(
            s, {"slug": "arts", "title": "Arts", "filter": {"sections": ["arts"]}}, now=NOW
        )
        create_channel(s, {"slug": "all", "title": "All"}, now=NOW)
    with rt.db.write() as s:
        create_story(s, rt.settings, {"title": "Draft", "code": "1", "section": "sport"}, now=NOW)
    versions = _versions(rt)
    assert versions == {"sport": 1, "arts": 1, "all": 1}, "editing a draft touches no feed"
    with rt.db.write() as s:
        publish_story(s, rt.settings, "1", now=NOW)
    assert _versions(rt) == {"sport": 2, "arts": 1, "all": 2}
    with rt.db.write() as s:  # moving sections touches the old and the new channel
        update_story(s, rt.settings, "1", {"section": "Arts"}, now=NOW)
    assert _versions(rt) == {"sport": 3, "arts": 2, "all": 3}


def _versions(rt) -> dict[str, int]:
    with rt.db.read() as s:
        return {slug: get_channel(s, slug).version for slug in ("sport", "arts", "all")}
