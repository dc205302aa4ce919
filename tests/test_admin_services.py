"""Services the API and the web admin share: story lists, deleting drafts, editing and removing
links, channel previews with findings — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.check import Finding, check
from syndication.channels.preview import draft_channel, preview
from syndication.channels.service import create_channel, get_channel
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.links.service import create_link, delete_link, get_link, story_link, update_link
from syndication.stories.service import (
    create_story,
    delete_story,
    get_story,
    list_stories,
    publish_story,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def archive(rt):
    with rt.db.write() as s:
        for i in range(12):
            create_story(
                s,
                rt.settings,
                {
                    "code": f"c{i}",
                    "title": f"Harbour news {i}" if i % 2 else f"Market 100% {i}",
                    "section": "Sport" if i % 3 == 0 else "World",
                    "tags": ["tide"] if i < 4 else [],
                    "language": "en-GB" if i % 4 else "ar",
                    "source": "Coastal Herald",
                    "status": "published" if i < 9 else "draft",
                    "published_at": (NOW - timedelta(hours=i)).isoformat() if i < 9 else None,
                },
                now=NOW,
            )


def _codes(rt, filters, **kw):
    with rt.db.read() as s:
        stories, after = list_stories(s, filters, **kw)
        return [x.code for x in stories], after


def test_list_stories_filters(rt, archive):
    assert _codes(rt, {"status": "draft"})[0] == ["c11", "c10", "c9"]
    assert _codes(rt, {"section": "sport"})[0] == ["c9", "c6", "c3", "c0"]
    assert _codes(rt, {"tag": "TIDE"})[0] == ["c3", "c2", "c1", "c0"]
    assert _codes(rt, {"language": "en"})[0] == [
        "c11",
        "c10",
        "c9",
        "c7",
        "c6",
        "c5",
        "c3",
        "c2",
        "c1",
    ]
    assert _codes(rt, {"language": "ar", "section": "sport"})[0] == ["c0"]
    assert _codes(rt, {"q": "harbour"})[0] == ["c11", "c9", "c7", "c5", "c3", "c1"]
    assert _codes(rt, {"q": "100%"})[0] == ["c10", "c8", "c6", "c4", "c2", "c0"]
    assert _codes(rt, {"q": "%"})[0] == ["c10", "c8", "c6", "c4", "c2", "c0"]
    assert _codes(rt, {"source": "coastal herald"})[0][:2] == ["c11", "c10"]
    with pytest.raises(ValidationError):
        _codes(rt, {"status": "live"})


def test_list_stories_pages_without_gaps(rt, archive):
    seen, after = [], None
    while True:
        page, after = _codes(rt, {}, limit=5, after=after)
        seen += page
        if after is None:
            break
    assert seen == [f"c{i}" for i in range(11, -1, -1)]


def test_only_drafts_can_be_deleted(rt, archive):
    with rt.db.write() as s:
        delete_story(s, "c10")
    with pytest.raises(NotFound), rt.db.read() as s:
        get_story(s, "c10")
    with pytest.raises(Conflict), rt.db.write() as s:
        delete_story(s, "c1")
    with rt.db.write() as s:  # a draft that was published once keeps its News Link: kept
        publish_story(s, rt.settings, "c9", now=NOW)
        get_story(s, "c9").status = "draft"
    with pytest.raises(Conflict), rt.db.write() as s:
        delete_story(s, "c9")


def test_update_and_delete_links(rt, archive):
    with rt.db.write() as s:
        create_link(s, {"url": "https://example.org/a", "slug": "offer"}, now=NOW)
        link = update_link(
            s, "offer", {"url": "https://example.org/b", "max_visits": 5, "tags": ["x"]}
        )
        assert (link.target_url, link.max_visits, link.tags) == ("https://example.org/b", 5, ["x"])
    with pytest.raises(ValidationError), rt.db.write() as s:
        update_link(s, "offer", {"slug": "other"})
    with pytest.raises(ValidationError), rt.db.write() as s:
        update_link(s, "offer", {"url": "javascript:x"})
    with rt.db.write() as s:
        news_link = story_link(s, get_story(s, "c1").id).code
    with pytest.raises(ValidationError), rt.db.write() as s:
        update_link(s, news_link, {"url": "https://elsewhere.example/"})
    with pytest.raises(Conflict), rt.db.write() as s:
        delete_link(s, news_link, now=NOW)
    with rt.db.write() as s:
        delete_link(s, "offer", now=NOW)
    with pytest.raises(NotFound), rt.db.read() as s:
        get_link(s, "offer")
    with pytest.raises(Conflict), rt.db.write() as s:  # never handed out again
        create_link(s, {"url": "https://example.org/", "slug": "offer"}, now=NOW)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_preview_of_a_stored_and_of_a_draft_channel(rt, archive, fmt):
    with rt.db.write() as s:
        create_channel(
            s,
            {
                "slug": "sport",
                "title": "Sport",
                "filter": {"sections": ["sport"]},
                "formats": ["rss"],
            },
            now=NOW,
        )
    with rt.db.read() as s:
        stored = preview(s, rt.settings, get_channel(s, "sport"), fmt)
        assert b"Market 100% 6" in stored.body
        assert not [f for f in stored.findings if f.level == "error"], stored.findings
        assert Finding("info", "3 items") in stored.findings
        if fmt != "rss":
            assert stored.findings[0] == Finding("info", f"{fmt} is not enabled for this channel")
        draft = preview(
            s,
            rt.settings,
            draft_channel({"filter": {"tags": ["nothing"]}}, get_channel(s, "sport")),
            fmt,
        )
        assert any(f.level == "warning" and "no items" in f.message for f in draft.findings)
        assert get_channel(s, "sport").filter == {"sections": ["sport"]}, "draft saved nothing"
        with pytest.raises(ValidationError):
            draft_channel({"slug": "Bad Slug", "title": "x"})
        with pytest.raises(ValidationError):
            preview(s, rt.settings, get_channel(s, "sport"), "xml")


def test_check_reports_broken_documents():
    assert check(b"<rss><channel>", "rss")[0].level == "error"
    assert check(b"{}", "json")[0].level == "error"
    assert check(b"not json", "json") == [
        Finding("error", "not JSON: Expecting value: line 1 column 1 (char 0)")
    ]
