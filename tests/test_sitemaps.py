"""Discovery: /sitemaps/news.xml, /sitemap.xml with its story sitemaps, /robots.txt.

Every document is checked against the published schemas (tests/data: sitemaps.org 0.9 and
Google's news extension) with lxml, robots.txt with the standard library's parser; time comes
from a FakeClock, so the 48-hour window is tested at its exact edges.
"""

from __future__ import annotations

import gzip
import urllib.robotparser
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from werkzeug.http import http_date

from syndication.config import ConfigError, load_settings
from syndication.models import Story
from syndication.runtime import Runtime
from syndication.sitemaps import service
from syndication.stories.service import create_story, retract_story, update_story
from tests.conftest import BASE_URL, make_settings
from tests.pushkit import FakeClock
from tests.storyfactory import NS, SITEINDEX, UNPRINTABLE, URLSET, valid_sitemap

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def settings(db_url: str, tmp_path: Path):
    return make_settings(db_url, tmp_path, site_name="The Hostile Times")


@pytest.fixture
def app(clocked_app):
    return clocked_app


@pytest.fixture
def rt(app) -> Runtime:
    return app.extensions["syndication"]


def add(rt, clock, **data) -> str:
    data.setdefault("title", "A story")
    with rt.db.write() as s:
        return create_story(s, rt.settings, data, now=clock(), default_status="published").code


def insert_raw(rt, story_id: int, *, status: str = "published", when: datetime = NOW, **extra):
    """A story row with a chosen id (to reach far id ranges without creating 50,000 stories)."""
    with rt.db.write() as s:
        s.add(
            Story(
                id=story_id,
                code=f"raw{story_id}",
                title=extra.pop("title", f"Raw {story_id}"),
                status=status,
                published_at=when if status != "draft" else None,
                created_at=when,
                updated_at=extra.pop("updated_at", when),
                content_hash="",
                **extra,
            )
        )
        service.bump(s, when)


def news_titles(root: etree._Element) -> list[str]:
    return [t.text for t in root.iterfind(".//news:title", NS)]


def locs(root: etree._Element) -> list[str]:
    return [loc.text for loc in root.iterfind(".//sm:loc", NS)]


# --- the news sitemap ------------------------------------------------------------------------


def test_hostile_titles_come_out_as_valid_xml(client, rt, clock):
    hostile = {
        "markup": "Profits & Losses: <b>Q3</b> <script>x</script>",
        "rtl": "\u05e9\u05dc\u05d5\u05dd \u202eعالم\u202c & co",
        "emoji": "Launch 🚀 day 👩‍👩‍👧",
        "c1": "Control\x85 chars\x9f and a\ufeff BOM",
    }
    codes = {key: add(rt, clock, title=title) for key, title in hostile.items()}
    # An IRI canonical on this site, with a query needing escapes.
    iri = add(rt, clock, title="IRI", url=f"{BASE_URL}/café/ünï?a=1&b=<2>")
    add(rt, clock, title="Off site", url="https://elsewhere.example/story")

    response = client.get("/sitemaps/news.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = valid_sitemap(response.data, URLSET)
    titles = news_titles(root)
    assert len(titles) == 5  # the off-site story is not ours to list
    assert not any(UNPRINTABLE.search(t) for t in titles)
    assert any("Profits & Losses" in t for t in titles)
    assert any("🚀" in t and "👩‍👩‍👧" in t for t in titles)
    assert any("عالم" in t for t in titles)
    assert f"{BASE_URL}/caf%C3%A9/%C3%BCn%C3%AF?a=1&b=%3C2%3E" in locs(root)
    assert f"{BASE_URL}/stories/{codes['markup']}" in locs(root)
    assert iri
    for publication in root.iterfind(".//news:publication", NS):
        assert publication.findtext("news:name", namespaces=NS) == "The Hostile Times"
        assert publication.findtext("news:language", namespaces=NS) == "en"
    dates = [d.text for d in root.iterfind(".//news:publication_date", NS)]
    assert set(dates) == {"2025-03-01T12:00:00Z"}


def test_news_language_in_googles_form(client, rt, clock):
    for tag in ("en-GB", "zh-HK", "zh-Hans", "zh", "pt-BR", "fil"):
        add(rt, clock, title=tag, language=tag)
    root = valid_sitemap(client.get("/sitemaps/news.xml").data, URLSET)
    by_title = {
        url.findtext(".//news:title", namespaces=NS): url.findtext(
            ".//news:language", namespaces=NS
        )
        for url in root.iterfind("sm:url", NS)
    }
    assert by_title == {
        "en-GB": "en",
        "zh-HK": "zh-tw",
        "zh-Hans": "zh-cn",
        "zh": "zh-cn",
        "pt-BR": "pt",
        "fil": "fil",
    }


def test_window_edges_follow_the_clock(client, rt, clock):
    edge = NOW - service.NEWS_WINDOW
    add(rt, clock, title="exactly 48 h old", published_at=edge.isoformat())
    add(
        rt, clock, title="1 s short of 48 h", published_at=(edge + timedelta(seconds=1)).isoformat()
    )
    add(rt, clock, title="fresh", published_at=(NOW - timedelta(hours=1)).isoformat())

    first = client.get("/sitemaps/news.xml")
    assert news_titles(valid_sitemap(first.data, URLSET)) == ["fresh", "1 s short of 48 h"]
    # Changed at NOW: its date goes out once that second is past (channels/modified.py).
    assert "Last-Modified" not in first.headers

    clock.advance(1)  # now 48 h old: out, though nothing was written
    second = client.get("/sitemaps/news.xml")
    assert news_titles(valid_sitemap(second.data, URLSET)) == ["fresh"]
    assert second.headers["ETag"] != first.headers["ETag"]
    clock.advance(0.5)
    third = client.get("/sitemaps/news.xml")
    assert third.headers["ETag"] == second.headers["ETag"]
    # The document changed when that story left the window, a second after the first one.
    assert third.headers["Last-Modified"] == http_date(NOW + timedelta(seconds=1))
    since_first = {"If-Modified-Since": http_date(NOW)}
    assert client.get("/sitemaps/news.xml", headers=since_first).status_code == 200
    since_third = {"If-Modified-Since": third.headers["Last-Modified"]}
    assert client.get("/sitemaps/news.xml", headers=since_third).status_code == 304

    clock.advance(47 * 3600 - 2.5)  # "fresh" is 1 s short of 48 h old: still in
    assert news_titles(valid_sitemap(client.get("/sitemaps/news.xml").data, URLSET)) == ["fresh"]
    clock.advance(1)
    response = client.get("/sitemaps/news.xml")
    assert response.status_code == 404  # an empty urlset is invalid: nothing to serve
    assert response.mimetype == "text/plain"


def test_news_sitemap_stops_at_1000_newest_first(client, rt, clock):
    with rt.db.write() as s:
        for i in range(1001):
            when = NOW - timedelta(minutes=i)
            s.add(
                Story(
                    code=f"c{i:04d}",
                    title=f"Story {i}",
                    status="published",
                    published_at=when,
                    created_at=when,
                    updated_at=when,
                    content_hash="",
                )
            )
    root = valid_sitemap(client.get("/sitemaps/news.xml").data, URLSET)
    titles = news_titles(root)
    assert len(titles) == service.NEWS_MAX == 1000
    assert titles[0] == "Story 0" and titles[-1] == "Story 999"


def test_a_story_change_invalidates_the_cached_sitemaps(client, rt, clock):
    code = add(rt, clock, title="Before")
    assert news_titles(valid_sitemap(client.get("/sitemaps/news.xml").data, URLSET)) == ["Before"]
    index_etag = client.get("/sitemap.xml").headers["ETag"]
    clock.advance(5)
    with rt.db.write() as s:
        update_story(s, rt.settings, code, {"title": "After"}, now=clock())
    changed_at = clock()
    clock.advance(1)  # the change's second is past: its date goes out
    response = client.get("/sitemaps/news.xml")
    assert news_titles(valid_sitemap(response.data, URLSET)) == ["After"]
    assert response.headers["Last-Modified"] == http_date(changed_at)
    index = client.get("/sitemap.xml")
    assert index.headers["ETag"] != index_etag  # its lastmod moved
    assert index.headers["Last-Modified"] == http_date(changed_at)
    clock.advance(5)
    with rt.db.write() as s:
        retract_story(s, rt.settings, code, now=clock())
    assert client.get("/sitemaps/news.xml").status_code == 404
    assert client.get("/sitemap.xml").status_code == 404


# --- the sitemap index and the story sitemaps ------------------------------------------------


def test_index_pages_by_id_range(client, rt, clock):
    first = add(rt, clock, title="first")  # id 1
    add(rt, clock, title="draft", status="draft")
    add(rt, clock, title="off site", url="https://elsewhere.example/x")
    insert_raw(rt, 50_000, when=NOW - timedelta(days=400))
    insert_raw(rt, 50_001, status="retracted")  # file 2 holds nothing listed: not in the index
    insert_raw(rt, 100_001, updated_at=NOW + timedelta(hours=1))

    index = client.get("/sitemap.xml")
    root = valid_sitemap(index.data, SITEINDEX)
    assert locs(root) == [
        f"{BASE_URL}/sitemaps/stories-1.xml",
        f"{BASE_URL}/sitemaps/stories-3.xml",
    ]
    lastmods = [m.text for m in root.iterfind(".//sm:lastmod", NS)]
    assert lastmods == ["2025-03-01T12:00:00Z", "2025-03-01T13:00:00Z"]

    one = client.get("/sitemaps/stories-1.xml")
    root = valid_sitemap(one.data, URLSET)
    assert locs(root) == [f"{BASE_URL}/stories/{first}", f"{BASE_URL}/stories/raw50000"]
    assert [m.text for m in root.iterfind(".//sm:lastmod", NS)] == [
        "2025-03-01T12:00:00Z",
        "2024-01-26T12:00:00Z",
    ]
    assert root.find(".//news:news", NS) is None  # story sitemaps carry no news entries
    assert client.get("/sitemaps/stories-2.xml").status_code == 404
    assert locs(valid_sitemap(client.get("/sitemaps/stories-3.xml").data, URLSET)) == [
        f"{BASE_URL}/stories/raw100001"
    ]
    for missing in ("0", "4", "99999999999999999999"):
        response = client.get(f"/sitemaps/stories-{missing}.xml")
        assert response.status_code == 404 and response.mimetype == "text/plain"

    # New stories land in the last file: file 1 keeps its bytes, the index gains nothing new.
    clock.advance(60)
    insert_raw(rt, 100_002, when=clock())
    again = client.get("/sitemaps/stories-1.xml")
    assert again.data == one.data and again.headers["ETag"] == one.headers["ETag"]
    assert len(locs(valid_sitemap(client.get("/sitemaps/stories-3.xml").data, URLSET))) == 2


def test_nothing_published_yet(client, rt, clock):
    add(rt, clock, title="draft only", status="draft")
    for path in ("/sitemap.xml", "/sitemaps/news.xml", "/sitemaps/stories-1.xml"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/plain"


# --- conditional GET -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sitemaps/news.xml", "/sitemap.xml", "/sitemaps/stories-1.xml"])
def test_conditional_get(client, rt, clock, path):
    add(rt, clock, title="one")
    clock.advance(1)  # Last-Modified goes out once the change's second is past
    response = client.get(path)
    assert response.status_code == 200
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert response.headers["Cache-Control"] == "public, max-age=60"

    hit = client.get(path, headers={"If-None-Match": etag})
    assert hit.status_code == 304 and hit.data == b""
    assert hit.headers["ETag"] == etag
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200

    clock.advance(10)
    add(rt, clock, title="two")
    changed = client.get(path, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    later = client.get(path, headers={"If-Modified-Since": modified})
    assert later.status_code == 200


@pytest.mark.parametrize("path", ["/sitemaps/news.xml", "/sitemaps/stories-1.xml"])
def test_gzip_like_feeds(client, rt, clock, path):
    """Sitemaps are compressed as feeds are: once, with their own ETag and 304 (the index of
    one file is too small to be worth it)."""
    for n in range(40):  # enough text to be worth compressing
        add(rt, clock, title=f"story number {n} of the day")
    plain = client.get(path)
    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        path, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304


# --- robots.txt ------------------------------------------------------------------------------


def test_robots_txt_names_both_sitemaps(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(response.data.decode().splitlines())
    assert parser.site_maps() == [f"{BASE_URL}/sitemap.xml", f"{BASE_URL}/sitemaps/news.xml"]
    for public_path in (
        "/",
        "/stories/1000000",
        "/channels/world",
        "/feeds/all.rss",
        "/sitemap.xml",
    ):
        assert parser.can_fetch("Googlebot", BASE_URL + public_path), public_path
    for private in ("/admin/", "/admin/stories", "/api/v1/stories", "/s/abc"):
        assert not parser.can_fetch("Googlebot", BASE_URL + private), private
    etag = response.headers["ETag"]
    assert client.get("/robots.txt", headers={"If-None-Match": etag}).status_code == 304


# --- the writer and the settings, without a database -----------------------------------------


def test_site_name_setting():
    assert load_settings({"site_name": "Le Monde"}, environ={}).publication_name == "Le Monde"
    assert load_settings({}, environ={}).publication_name == "Syndication"  # never the host
    env = {"SYNDICATION_SITE_NAME": "From Env"}
    assert load_settings(environ=env).site_name == "From Env"
    with pytest.raises(ConfigError, match="site_name"):
        load_settings({"site_name": "bad\x85name"}, environ={})
    with pytest.raises(ConfigError, match="site_name"):
        load_settings({"site_name": "x" * 201}, environ={})
