"""Channels, on SQLite and PostgreSQL: filters (as served in feeds and as used to invalidate
them), validation, and the defaults a feed declares."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from syndication.app import create_app
from syndication.channels.service import (
    channel_to_dict,
    create_channel,
    get_channel,
    list_channels,
    update_channel,
)
from syndication.errors import Conflict, ValidationError
from syndication.stories.service import create_story, update_story
from tests.storyfactory import (
    BASE,
    NOW,
    add_channel,
    add_story,
    edit_channel,
    item_ids,
    page_url,
    parse_json,
    parse_xml,
    xml_tree,
)

STORIES = [
    # code, section, tags, language, source, authors
    ("a", "World", ["Politics", "Europe"], "en-GB", "Reuters", ["Ann"]),
    ("b", "world", ["ECONOMY"], "en", "AP", ["Bob"]),
    ("c", "Sport", ["Football"], "fr", "AFP", ["Ann", "Cleo"]),
    ("d", "Business", ["economy", "Europe"], "en-US", "Reuters", []),
    ("e", None, [], None, None, []),
]


@pytest.fixture
def newsroom(rt):
    with rt.db.write() as s:
        for i, (code, section, tags, language, source, authors) in enumerate(STORIES):
            create_story(
                s,
                rt.settings,
                {
                    "code": code,
                    "title": code.upper(),
                    "section": section,
                    "tags": tags,
                    "language": language,
                    "source": source,
                    "authors": authors,
                    "published_at": NOW - timedelta(hours=10 - i),
                },
                now=NOW - timedelta(hours=10 - i),
                default_status="published",
            )
        create_story(s, rt.settings, {"code": "z", "title": "Draft", "section": "World"}, now=NOW)
    return rt


def _codes(client, slug: str) -> set[str]:
    response = client.get(f"/feeds/{slug}.json")
    assert response.status_code == 200, response.data
    return {i.rsplit("/", 1)[1] for i in item_ids(response.data, "json")}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({}, {"a", "b", "c", "d", "e"}),
        ({"sections": ["WORLD"]}, {"a", "b"}),  # case-insensitive, both spellings
        ({"sections": ["World", "Sport"]}, {"a", "b", "c"}),  # OR within a kind
        ({"tags": ["economy"]}, {"b", "d"}),
        ({"sections": ["World"], "tags": ["Economy"]}, {"b"}),  # AND across kinds
        ({"sections": ["World", "Business"], "tags": ["europe"]}, {"a", "d"}),
        ({"languages": ["en"]}, {"a", "b", "d"}),  # "en" matches en-GB and en-US
        ({"languages": ["EN-gb"]}, {"a"}),
        ({"languages": ["en-US", "fr"]}, {"c", "d"}),
        ({"sources": ["reuters"]}, {"a", "d"}),
        ({"authors": ["ann"]}, {"a", "c"}),
        ({"authors": ["Ann"], "languages": ["fr"], "sources": ["AFP"]}, {"c"}),
        ({"tags": ["Nothing"]}, set()),
    ],
)
def test_filters(client, rt, newsroom, filter_, expected):
    add_channel(rt, {"slug": "ch", "title": "Ch", "filter": filter_}, now=NOW)
    assert _codes(client, "ch") == expected


def test_filter_decides_which_channels_a_change_touches(client, rt, newsroom):
    """The Python-side match (which cached pages to drop) agrees with the SQL one."""
    filters = {
        "all": {},
        "world": {"sections": ["WORLD"]},
        "en": {"languages": ["en"]},
        "eco-eu": {"tags": ["economy"], "sections": ["business"]},
        "sport": {"sections": ["Sport"]},
    }
    for slug, filter_ in filters.items():
        add_channel(rt, {"slug": slug, "title": slug, "filter": filter_}, now=NOW)
    etags = {slug: client.get(f"/feeds/{slug}.json").headers["ETag"] for slug in filters}
    with rt.db.write() as s:  # "d": Business, economy, en-US
        update_story(s, rt.settings, "d", {"title": "D, edited"}, now=NOW + timedelta(hours=1))
    after = {slug: client.get(f"/feeds/{slug}.json") for slug in filters}
    changed = {slug for slug in filters if after[slug].headers["ETag"] != etags[slug]}
    assert changed == {"all", "en", "eco-eu"}
    for slug in changed:
        titles = [i["title"] for i in parse_json(after[slug].data)["items"]]
        assert "D, edited" in titles
    # Moving a story out of a channel's filter touches that channel too.
    etags = {slug: r.headers["ETag"] for slug, r in after.items()}
    with rt.db.write() as s:
        update_story(s, rt.settings, "d", {"section": "Sport"}, now=NOW + timedelta(hours=2))
    after = {slug: client.get(f"/feeds/{slug}.json") for slug in filters}
    changed = {slug for slug in filters if after[slug].headers["ETag"] != etags[slug]}
    assert changed == {"all", "en", "eco-eu", "sport"}
    assert "d" not in _codes(client, "eco-eu")
    assert "d" in _codes(client, "sport")


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"slug": "Bad Slug", "title": "T"}, "slug"),
        ({"slug": "bad--slug", "title": "T"}, "slug"),
        ({"slug": "-bad", "title": "T"}, "slug"),
        ({"slug": "a" * 101, "title": "T"}, "slug"),
        ({"title": "T"}, "slug"),
        ({"slug": "ok"}, "title"),
        ({"slug": "ok", "title": "  "}, "title"),
        ({"slug": "ok", "title": "T", "limit": 0}, "limit"),
        ({"slug": "ok", "title": "T", "limit": 501}, "limit"),
        ({"slug": "ok", "title": "T", "limit": "7"}, "limit"),
        ({"slug": "ok", "title": "T", "limit": True}, "limit"),
        ({"slug": "ok", "title": "T", "content": "excerpt"}, "content"),
        ({"slug": "ok", "title": "T", "formats": ["rss", "xml"]}, "formats"),
        ({"slug": "ok", "title": "T", "formats": "rss"}, "formats"),
        ({"slug": "ok", "title": "T", "filter": {"topics": ["x"]}}, "filter.topics"),
        ({"slug": "ok", "title": "T", "filter": ["World"]}, "filter"),
        ({"slug": "ok", "title": "T", "filter": {"languages": ["english!"]}}, "filter.languages"),
        ({"slug": "ok", "title": "T", "language": "xx-!!"}, "language"),
        ({"slug": "ok", "title": "T", "link": "javascript:alert(1)"}, "link"),
        ({"slug": "ok", "title": "T", "logo": "/logo.png"}, "logo"),
        ({"slug": "ok", "title": "T", "colour": "red"}, "colour"),
    ],
)
def test_channel_validation(rt, data, field):
    with pytest.raises(ValidationError) as err, rt.db.write() as s:
        create_channel(s, data, now=NOW)
    assert field in err.value.fields
    with rt.db.read() as s:
        assert list_channels(s) == []


def test_limit_bounds_are_inclusive(rt):
    add_channel(rt, {"slug": "one", "title": "One", "limit": 1})
    add_channel(rt, {"slug": "max", "title": "Max", "limit": 500})


def test_duplicate_slug_is_a_conflict(rt):
    add_channel(rt, {"slug": "world", "title": "World"})
    with pytest.raises(Conflict) as err, rt.db.write() as s:
        create_channel(s, {"slug": "world", "title": "Other"}, now=NOW)
    assert "slug" in err.value.fields
    with rt.db.read() as s:
        assert get_channel(s, "world").title == "World"


def test_update_validates_and_keeps_the_slug(rt):
    add_channel(rt, {"slug": "world", "title": "World"})
    with pytest.raises(ValidationError) as err, rt.db.write() as s:
        update_channel(s, "world", {"slug": "other"}, now=NOW)
    assert "slug" in err.value.fields
    with pytest.raises(ValidationError) as err, rt.db.write() as s:
        update_channel(s, "world", {"limit": 0, "content": "nope"}, now=NOW)
    assert {"limit", "content"} <= set(err.value.fields)
    with rt.db.read() as s:
        channel = get_channel(s, "world")
        assert (channel.limit, channel.content, channel.version) == (None, "full", 1)


def test_update_without_a_change_keeps_the_version(rt):
    add_channel(rt, {"slug": "world", "title": "World", "filter": {"sections": ["World"]}})
    edit_channel(
        rt,
        "world",
        {"title": "World", "filter": {"sections": ["World"]}},
        now=NOW + timedelta(hours=1),
    )
    with rt.db.read() as s:
        channel = get_channel(s, "world")
        assert (channel.version, channel.changed_at) == (1, NOW)


# --- what a feed declares -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"filter": {"languages": ["fr"]}, "language": "de"}, "fr"),
        ({"filter": {"languages": ["fr", "en"]}, "language": "de"}, "de"),
        ({"filter": {"languages": ["fr", "en"]}}, "en-GB"),
        ({"language": "de"}, "de"),
        ({}, "en-GB"),
        ({"filter": {"languages": ["pt-br"]}}, "pt-BR"),
    ],
)
def test_declared_language(rt, channel, expected):
    app2 = create_app(dataclasses.replace(rt.settings, default_language="en-GB"))
    try:
        rt2 = app2.extensions["syndication"]
        add_channel(rt2, {"slug": "ch", "title": "Ch", **channel})
        client = app2.test_client()
        assert parse_json(client.get("/feeds/ch.json").data)["language"] == expected
        assert parse_xml(client.get("/feeds/ch.rss").data).feed.language == expected
        atom = client.get("/feeds/ch.atom").data
        assert f'xml:lang="{expected}"'.encode() in atom
        with rt2.db.read() as s:
            assert channel_to_dict(get_channel(s, "ch"), rt2.settings)["language"] == expected
    finally:
        app2.extensions["syndication"].db.dispose()


def test_defaults_description_and_link(client, rt):
    add_channel(rt, {"slug": "plain", "title": "Plain & Simple"})
    add_channel(
        rt,
        {
            "slug": "custom",
            "title": "Custom",
            "description": "About custom things",
            "link": "https://partner.example.test/custom?a=1&b=2",
        },
    )
    rss = client.get("/feeds/plain.rss").data
    assert xml_tree(rss).findtext("channel/description") == "Plain & Simple"
    plain = parse_xml(rss).feed
    assert plain.link == f"{BASE}/channels/plain"
    doc = parse_json(client.get("/feeds/plain.json").data)
    assert doc["description"] == "Plain & Simple"
    assert doc["home_page_url"] == f"{BASE}/channels/plain"
    atom = parse_xml(client.get("/feeds/plain.atom").data).feed
    assert atom.subtitle == "Plain & Simple"
    assert [lk.href for lk in atom.links if lk.rel == "alternate"] == [f"{BASE}/channels/plain"]

    custom = parse_json(client.get("/feeds/custom.json").data)
    assert custom["description"] == "About custom things"
    assert custom["home_page_url"] == "https://partner.example.test/custom?a=1&b=2"
    assert parse_xml(client.get("/feeds/custom.rss").data).feed.link == (
        "https://partner.example.test/custom?a=1&b=2"
    )
    with rt.db.read() as s:
        d = channel_to_dict(get_channel(s, "plain"), rt.settings)
    assert d["description"] == "Plain & Simple"
    assert d["link"] == f"{BASE}/channels/plain"
    assert d["feeds"] == {f: f"{BASE}/feeds/plain.{f}" for f in ("rss", "atom", "json")}
    assert d["limit"] == rt.settings.feed_limit and d["content"] == "full"


def test_feed_limit_setting_applies_without_a_channel_limit(client, rt):
    add_channel(rt, {"slug": "all", "title": "All"})
    with rt.db.write() as s:
        for i in range(rt.settings.feed_limit + 3):
            create_story(
                s,
                rt.settings,
                {"title": f"S{i}", "published_at": NOW},
                now=NOW,
                default_status="published",
            )
    doc = parse_json(client.get("/feeds/all.json").data)
    assert len(doc["items"]) == rt.settings.feed_limit
    assert "next_url" in doc


def test_story_page_url_is_the_guid_not_the_canonical_url(client, rt):
    add_channel(rt, {"slug": "all", "title": "All"})
    code = add_story(rt, {"title": "Elsewhere", "url": "https://partner.example.test/x"})
    entry = parse_xml(client.get("/feeds/all.atom").data).entries[0]
    assert entry.id == page_url(code)
    assert entry.link == "https://partner.example.test/x"
