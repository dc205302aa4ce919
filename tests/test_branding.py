"""Branding (site_name, site_logo, site_description, site_accent), on SQLite and PostgreSQL: the
public header, every <title>, og:site_name, the JSON-LD publisher, the feeds' generator and
defaults, the news sitemap's publication name, /brand.css; with the settings and without them
(the name falls back to "Syndication", never to the host); bad values refused at start-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree

from syndication.app import create_app
from syndication.config import ConfigError, load_settings
from syndication.runtime import Runtime
from tests.conftest import BASE_URL, make_settings
from tests.pushkit import FakeClock
from tests.storyfactory import add_channel, add_story

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NEWS = {"news": "http://www.google.com/schemas/sitemap-news/0.9"}
BRAND = {
    "site_name": "Harbour Times",
    "site_logo": "/media/harbour-logo.png",
    "site_description": "News from the harbour & the bay",
    "site_accent": "#c30",
}


def _app(db_url: str, tmp_path: Path, **overrides):
    settings = make_settings(db_url, tmp_path, **overrides)
    app = create_app(runtime=Runtime.create(settings, FakeClock(NOW)))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def site(request, db_url: str, tmp_path: Path):
    """(client, runtime) of an app with the settings the test's `brand` marker names."""
    app = _app(db_url, tmp_path, **request.param)
    rt = app.extensions["syndication"]
    add_channel(rt, {"slug": "bay", "title": "The Bay", "filter": {"sections": ["bay"]}})
    add_channel(
        rt,
        {
            "slug": "own",
            "title": "Own",
            "description": "A channel of its own",
            "logo": "https://news.example.test/own.png",
        },
    )
    add_story(
        rt,
        {
            "code": "B1",
            "title": "Ferry timetable changes",
            "summary": "New times from Monday.",
            "section": "bay",
            "source": "Port Authority",
        },
        now=NOW,
    )
    yield app.test_client(), rt
    rt.close()


branded = pytest.mark.parametrize("site", [BRAND], indirect=True, ids=["branded"])
plain = pytest.mark.parametrize("site", [{}], indirect=True, ids=["plain"])


def _doc(client, path: str, status: int = 200) -> lxml.html.HtmlElement:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return lxml.html.document_fromstring(response.data)


def _title(doc) -> str:
    return doc.xpath("//head/title")[0].text


def _ld(doc) -> dict:
    return json.loads(doc.xpath("//script[@type='application/ld+json']")[0].text)


# -- pages --------------------------------------------------------------------------------------


@branded
def test_branded_pages(site) -> None:
    client, _ = site
    titles = {
        "/": "Channels — Harbour Times",
        "/channels/bay": "The Bay — Harbour Times",
        "/stories/B1": "Ferry timetable changes — Harbour Times",
        "/stories/nope": "Story not found — Harbour Times",
    }
    for path, title in titles.items():
        doc = _doc(client, path, 404 if path.endswith("nope") else 200)
        assert _title(doc) == title, path
        name = doc.xpath("//header[contains(@class, 'site-header')]//a[@class='site-name']")[0]
        assert name.text_content().strip() == "Harbour Times", path
        # The logo beside the name: alt="" (WCAG H2), the link's text is the name already.
        [logo] = name.xpath("img")
        assert logo.get("src") == f"{BASE_URL}/media/harbour-logo.png"
        assert logo.get("alt") == ""
        sheets = doc.xpath("//head/link[@rel='stylesheet']/@href")
        assert sheets == [f"{BASE_URL}/static/site.css", f"{BASE_URL}/brand.css?v=c30"], path

    home = _doc(client, "/")
    assert home.xpath("//head/meta[@name='description']/@content") == [
        "News from the harbour & the bay"
    ]
    story = _doc(client, "/stories/B1")
    assert story.xpath("//head/meta[@property='og:site_name']/@content") == ["Harbour Times"]
    ld = _ld(story)
    assert ld["publisher"] == {
        "@type": "Organization",
        "name": "Harbour Times",
        "url": f"{BASE_URL}/",
        "logo": {"@type": "ImageObject", "url": f"{BASE_URL}/media/harbour-logo.png"},
    }
    assert ld["sourceOrganization"] == {"@type": "Organization", "name": "Port Authority"}

    css = client.get("/brand.css?v=c30")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.get_data(as_text=True) == ":root { --site-accent: #c30; }\n"
    site_css = client.get("/static/site.css").get_data(as_text=True)
    assert "var(--site-accent" in site_css


@plain
def test_pages_without_branding_say_syndication_not_the_host(site) -> None:
    client, _ = site
    for path in ("/", "/channels/bay", "/stories/B1"):
        doc = _doc(client, path)
        assert _title(doc).endswith(" — Syndication"), path
        assert "news.example.test" not in _title(doc)
        name = doc.xpath("//a[@class='site-name']")[0]
        assert name.text_content().strip() == "Syndication"
        assert not name.xpath("img"), "no logo set, none shown"
        assert doc.xpath("//head/link[@rel='stylesheet']/@href") == [f"{BASE_URL}/static/site.css"]
    story = _doc(client, "/stories/B1")
    assert story.xpath("//head/meta[@property='og:site_name']/@content") == ["Syndication"]
    assert _ld(story)["publisher"] == {
        "@type": "Organization",
        "name": "Syndication",
        "url": f"{BASE_URL}/",
    }
    assert not _doc(client, "/").xpath("//head/meta[@name='description']")
    css = client.get("/brand.css")
    assert css.status_code == 200 and css.get_data(as_text=True) == ""


# -- feeds and the news sitemap ---------------------------------------------------------------


def _logo(parsed, fmt: str) -> str | None:
    """The feed's logo as feedparser reads it: RSS <image><url>, Atom <logo>."""
    if fmt == "rss":
        return parsed.feed["image"]["href"] if "image" in parsed.feed else None
    return parsed.feed.get("logo")


@branded
def test_branded_feeds_and_news_sitemap(site) -> None:
    client, _ = site
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/feeds/bay.{fmt}").data)
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.feed.generator == "Harbour Times (syndication)", fmt
        # A channel without description or logo takes the site's.
        assert parsed.feed.get("subtitle") == "News from the harbour & the bay", fmt
        assert _logo(parsed, fmt) == f"{BASE_URL}/media/harbour-logo.png", fmt
        own = feedparser.parse(client.get(f"/feeds/own.{fmt}").data)
        assert own.feed.get("subtitle") == "A channel of its own", fmt
        assert _logo(own, fmt) == "https://news.example.test/own.png", fmt
    doc = client.get("/feeds/bay.json").get_json()
    assert doc["description"] == "News from the harbour & the bay"
    assert doc["icon"] == f"{BASE_URL}/media/harbour-logo.png"
    assert client.get("/feeds/own.json").get_json()["description"] == "A channel of its own"

    news = etree.fromstring(client.get("/sitemaps/news.xml").data)
    assert [n.text for n in news.iterfind(".//news:name", NEWS)] == ["Harbour Times"]


@plain
def test_feeds_and_news_sitemap_without_branding(site) -> None:
    client, _ = site
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/feeds/bay.{fmt}").data)
        assert parsed.feed.generator == "syndication", fmt
        assert parsed.feed.get("subtitle") == "The Bay", fmt  # the title, as before branding
        assert _logo(parsed, fmt) is None, fmt
    assert "icon" not in client.get("/feeds/bay.json").get_json()
    news = etree.fromstring(client.get("/sitemaps/news.xml").data)
    assert [n.text for n in news.iterfind(".//news:name", NEWS)] == ["Syndication"]


@pytest.mark.parametrize("site", [{"site_name": 'Q&A <b>"Daily"</b>'}], indirect=True)
def test_a_hostile_site_name_stays_text(site) -> None:
    client, _ = site
    raw = client.get("/stories/B1").get_data(as_text=True)
    assert "<b>" not in raw
    doc = lxml.html.document_fromstring(raw)
    assert _title(doc) == 'Ferry timetable changes — Q&A <b>"Daily"</b>'
    assert _ld(doc)["publisher"]["name"] == 'Q&A <b>"Daily"</b>'
    parsed = feedparser.parse(client.get("/feeds/bay.atom").data)
    assert parsed.feed.generator == 'Q&A <b>"Daily"</b> (syndication)'


# -- the settings themselves --------------------------------------------------------------------


def test_branding_settings_from_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('site_name = "From File"\nsite_accent = "#0B57D0"\n')
    settings = load_settings(
        environ={
            "SYNDICATION_CONFIG": str(cfg),
            "SYNDICATION_SITE_LOGO": "media/logo.svg",
            "SYNDICATION_SITE_DESCRIPTION": "About us",
        }
    )
    assert settings.site_name == "From File" and settings.site_accent == "#0B57D0"
    assert settings.site_logo == "/media/logo.svg"  # relative to base_url
    assert settings.logo_url == "http://127.0.0.1:8000/media/logo.svg"
    assert settings.site_description == "About us"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("/static/logo.png", "/static/logo.png"),
        ("media/a%20b.png", "/media/a%20b.png"),
        ("http://news.example.test/media/x.png", "/media/x.png"),  # this origin: kept as a path
        ("HTTP://NEWS.EXAMPLE.TEST/x.png", "/x.png"),
        ("", ""),
    ],
)
def test_good_logo_values(value: str, path: str) -> None:
    settings = load_settings({"base_url": BASE_URL, "site_logo": value}, environ={})
    assert settings.site_logo == path
    assert settings.logo_url == (f"{BASE_URL}{path}" if path else None)


def test_logo_under_a_base_url_with_a_path() -> None:
    base = {"base_url": "https://example.org/news"}
    settings = load_settings({**base, "site_logo": "https://example.org/news/logo.png"}, environ={})
    assert settings.logo_url == "https://example.org/news/logo.png"
    with pytest.raises(ConfigError, match="under base_url"):
        load_settings({**base, "site_logo": "https://example.org/other/logo.png"}, environ={})


@pytest.mark.parametrize(
    "value",
    [
        "https://cdn.example.com/logo.png",  # another origin
        "https://news.example.test/logo.png",  # another scheme: another origin
        "http://news.example.test:8080/logo.png",  # another port
        "//evil.example/logo.png",  # a browser reads another host
        "/\\evil.example/logo.png",
        "\\\\evil.example/logo.png",
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "/media/../secret_key",
        "/media/./logo.png",
        "/logo.png?v=1",
        "/logo.png#x",
        "http://news.example.test/logo.png?v=1",
        '/logo.png" onerror="alert(1)',
        "/logo .png",
        "/" + "a" * 600,
        "http://[bad/logo.png",
    ],
)
def test_bad_logo_values_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="^invalid setting site_logo: "):
        load_settings({"base_url": BASE_URL, "site_logo": value}, environ={})


@pytest.mark.parametrize(
    "value",
    [
        "red",
        "c30",
        "#c3",
        "#c300",
        "#12345",
        "#1234567",
        "#ggg",
        "#c30;} body { display: none",
        "#c30 !important",
        "#c30</style>",
        "var(--x)",
        "url(https://evil.example/x)",
    ],
)
def test_bad_accent_colours_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="^invalid setting site_accent: must be a CSS hex"):
        load_settings({"site_accent": value}, environ={})


def test_bad_values_name_their_environment_variable() -> None:
    with pytest.raises(ConfigError, match=r"site_accent: .*\(from SYNDICATION_SITE_ACCENT\)"):
        load_settings(environ={"SYNDICATION_SITE_ACCENT": "blue"})
    with pytest.raises(ConfigError, match=r"site_logo: .*\(from SYNDICATION_SITE_LOGO\)"):
        load_settings(environ={"SYNDICATION_SITE_LOGO": "https://cdn.example.com/l.png"})
    with pytest.raises(ConfigError, match="site_description"):
        load_settings({"site_description": "x" * 501}, environ={})
    with pytest.raises(ConfigError, match="site_description"):
        load_settings({"site_description": "line\nbreak"}, environ={})
