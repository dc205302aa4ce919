"""The public HTML pages, on SQLite and PostgreSQL: a story's page (Story Code, News Link, QR,
language and direction, feed discovery, Open Graph, JSON-LD), hidden and retracted stories,
a channel's pages, the home page, and no resource fetched from anywhere but the site."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import lxml.html
import pytest
from sqlalchemy import delete, select

from syndication.links.service import qr_url, short_url, story_link
from syndication.models import Link, Story
from syndication.pages.view import is_rtl, local_time, script_json
from syndication.stories.service import retract_story
from tests.storyfactory import BASE, NOW, add_channel, add_story

EVIL = "Rates </script><script>alert(1)</script> & <b>more</b>"


def _get(client, url: str):
    return client.get(url.removeprefix(BASE))


def _page(client, url: str, status: int = 200) -> lxml.html.HtmlElement:
    response = _get(client, url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return lxml.html.document_fromstring(response.data)


def _link_of(rt, code: str) -> str:
    with rt.db.read() as s:
        story = s.scalar(select(Story).where(Story.code == code))
        link = story_link(s, story.id)
        assert link is not None, "a published story has a short link"
        return link.code


def _text(el) -> str:
    return " ".join(el.text_content().split())


def _meta(doc) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in doc.xpath("//head/meta[@property]"):
        out.setdefault(m.get("property"), []).append(m.get("content"))
    return out


def _alternates(doc) -> list[tuple[str, str, str]]:
    return [
        (ln.get("href"), ln.get("type"), ln.get("title"))
        for ln in doc.xpath("//head/link[@rel='alternate']")
    ]


@pytest.fixture
def story(rt) -> str:
    return add_story(
        rt,
        {
            "code": "A100",
            "title": "Harbour bridge reopens",
            "summary": "Traffic flows again after two years.",
            "body_html": "<p>The bridge <em>reopened</em> this morning.</p>",
            "source": "City Desk",
            "section": "local",
            "authors": ["Ann Writer", "Bo Reporter"],
            "tags": ["transport"],
            "image": {
                "url": "https://images.example.org/bridge.jpg",
                "caption": "The bridge at dawn",
                "width": 1200,
                "height": 800,
            },
            "published_at": "2025-02-14T09:10:00Z",
        },
    )


# -- the story page --------------------------------------------------------------------------


def test_story_page_shows_story_code_news_link_and_qr(rt, client, story) -> None:
    link_code = _link_of(rt, story)
    doc = _page(client, f"/stories/{story}")
    article = doc.xpath("//main//article")[0]
    assert _text(article.xpath(".//h1")[0]) == "Harbour bridge reopens"
    assert "Traffic flows again after two years." in _text(article)
    assert article.xpath(".//em")[0].text == "reopened"  # the body's HTML, not escaped
    assert "City Desk" in _text(article)

    # Date and time in the configured zone (Europe/London: GMT in February).
    time = article.xpath(".//time")[0]
    assert _text(time) == "14 Feb 2025, 09:10 GMT"
    assert datetime.fromisoformat(time.get("datetime")) == datetime(2025, 2, 14, 9, 10, tzinfo=UTC)

    figure = article.xpath(".//figure")[0]
    assert figure.xpath(".//img")[0].get("src") == "https://images.example.org/bridge.jpg"
    assert _text(figure.xpath(".//figcaption")[0]) == "The bridge at dawn"

    # Story Code, News Link (a link to the short URL) and the QR image.
    text = _text(article)
    assert f"Story Code: {story}" in text
    news_link = short_url(rt.settings, link_code)
    assert f"News Link: {news_link}" in text
    anchors = article.xpath(f".//a[@href='{news_link}']")
    assert len(anchors) == 1 and _text(anchors[0]) == news_link
    qr = article.xpath(".//img[@alt='QR Code']")
    assert len(qr) == 1
    assert qr[0].get("src") == qr_url(rt.settings, link_code, "svg")
    assert int(qr[0].get("width")) > 0 and qr[0].get("width") == qr[0].get("height")


def test_story_page_qr_image_resolves(rt, client, story) -> None:
    """The QR image on the page is served by the QR route (GET /s/<code>/qr.svg)."""
    doc = _page(client, f"/stories/{story}")
    src = doc.xpath("//img[@alt='QR Code']")[0].get("src")
    assert src.startswith(f"{BASE}/")
    response = _get(client, src)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype.startswith("image/")
    assert response.data


def test_story_page_time_zone_and_summer_time(rt, client) -> None:
    summer = datetime(2025, 7, 1, 8, 5, tzinfo=UTC)
    code = add_story(rt, {"title": "Summer", "published_at": summer.isoformat()}, now=summer)
    doc = _page(client, f"/stories/{code}")
    assert _text(doc.xpath("//article//time")[0]) == "1 Jul 2025, 09:05 BST"
    assert local_time(summer, rt.settings.tz).iso == "2025-07-01T09:05:00+01:00"


def test_right_to_left_story(rt, client) -> None:
    code = add_story(rt, {"title": "عنوان الخبر", "language": "ar", "body_html": "<p>نص</p>"})
    doc = _page(client, f"/stories/{code}")
    root = doc.getroottree().getroot()
    assert root.get("lang") == "ar"
    assert root.get("dir") == "rtl"
    # The labels speak the story's language (tests/test_i18n.py has the rest).
    box = doc.xpath("//*[contains(@class, 'story-code')]")[0]
    assert box.get("lang") == "ar" and box.get("dir") == "rtl"
    assert f"رمز الخبر: {code}" in _text(box)


def test_left_to_right_story_and_default_language(rt, client) -> None:
    code = add_story(rt, {"title": "No language given"})
    root = _page(client, f"/stories/{code}").getroottree().getroot()
    assert root.get("lang") == rt.settings.default_language
    assert root.get("dir") == "ltr"


@pytest.mark.parametrize(
    "lang",
    ["ar", "ar-EG", "AR", "he", "he-IL", "iw", "fa", "fa-IR", "ur", "yi", "ps", "sd", "ug", "dv",
     "ckb", "ckb-IQ", "az-Arab", "pa-Arab", "uz-Arab-AF", "ms-Arab", "zh-yue-Arab", "syr"],
)  # fmt: skip
def test_is_rtl(lang: str) -> None:
    assert is_rtl(lang)


@pytest.mark.parametrize(
    "lang",
    ["en", "en-GB", "fr", "az", "az-Latn", "ku", "ku-Latn", "pa", "uz", "zh-Hant", "sr-Cyrl",
     "he-Latn", "ar-Latn", "", None, "x"],
)  # fmt: skip
def test_is_not_rtl(lang: str | None) -> None:
    assert not is_rtl(lang)


def test_open_graph_and_json_ld_survive_script_injection(rt, client) -> None:
    code = add_story(
        rt,
        {
            "title": EVIL,
            "summary": "Lead </script> & co",
            "source": "The Gazette",
            "authors": ["Ann Writer"],
            "language": "en-GB",
            "image": {"url": "https://images.example.org/x.png", "caption": "X"},
            "published_at": "2025-02-14T09:10:00Z",
        },
    )
    # The write removes tags from plain text, so put them back behind its back: text stored
    # before that rule, or by any other path, must still be escaped by the page.
    with rt.db.write() as s:
        story = s.scalars(select(Story).where(Story.code == code)).one()
        story.title, story.summary = EVIL, "Lead </script> & co"
    response = _get(client, f"/stories/{code}")
    html = response.get_data(as_text=True)
    assert html.count("<script") == 1, "only the JSON-LD script; the title cannot open another"
    assert "<script>alert(1)" not in html
    doc = lxml.html.document_fromstring(response.data)
    canonical = f"{BASE}/stories/{code}"
    assert doc.xpath("//head/link[@rel='canonical']/@href") == [canonical]
    assert doc.xpath("//head/title")[0].text.startswith(EVIL)

    meta = _meta(doc)
    assert meta["og:type"] == ["article"]
    assert meta["og:title"] == [EVIL]
    assert meta["og:description"] == ["Lead </script> & co"]
    assert meta["og:url"] == [canonical]
    assert meta["og:image"] == ["https://images.example.org/x.png"]
    assert meta["og:site_name"] == ["Syndication"]  # no site_name set: the default name
    assert meta["og:locale"] == ["en_GB"]
    assert meta["article:published_time"] == ["2025-02-14T09:10:00Z"]
    assert meta["article:modified_time"][0] >= "2025-02-14T09:10:00Z"

    scripts = doc.xpath("//script[@type='application/ld+json']")
    assert len(scripts) == 1
    ld = json.loads(scripts[0].text)
    assert ld["@context"] == "https://schema.org"
    assert ld["@type"] == "NewsArticle"
    assert ld["headline"] == EVIL
    assert ld["description"] == "Lead </script> & co"
    assert ld["identifier"] == code
    assert ld["url"] == canonical
    assert ld["mainEntityOfPage"] == {"@type": "WebPage", "@id": canonical}
    assert ld["inLanguage"] == "en-GB"
    assert ld["datePublished"] == "2025-02-14T09:10:00Z"
    assert "dateModified" in ld
    assert ld["author"] == [{"@type": "Person", "name": "Ann Writer"}]
    assert ld["publisher"] == {
        "@type": "Organization",
        "name": "Syndication",
        "url": f"{BASE}/",
    }
    assert ld["sourceOrganization"] == {"@type": "Organization", "name": "The Gazette"}
    assert ld["image"][0]["url"] == "https://images.example.org/x.png"
    assert "<" not in scripts[0].text and ">" not in scripts[0].text and "&" not in scripts[0].text


def test_script_json_escapes_every_closing_sequence() -> None:
    out = str(script_json({"a": "</script><!-- & \u2028"}))
    assert "<" not in out and ">" not in out and "&" not in out and "\u2028" not in out
    assert json.loads(out) == {"a": "</script><!-- & \u2028"}


def test_canonical_url_of_a_story_with_its_own_url(rt, client) -> None:
    code = add_story(rt, {"title": "Elsewhere", "url": "https://publisher.example/news/1"})
    doc = _page(client, f"/stories/{code}")
    assert doc.xpath("//head/link[@rel='canonical']/@href") == ["https://publisher.example/news/1"]
    meta = _meta(doc)
    assert meta["og:url"] == ["https://publisher.example/news/1"]
    assert "og:image" not in meta
    ld = json.loads(doc.xpath("//script[@type='application/ld+json']")[0].text)
    assert ld["url"] == "https://publisher.example/news/1"
    assert ld["publisher"]["name"] == "Syndication"
    assert "sourceOrganization" not in ld
    assert "image" not in ld and "author" not in ld


def test_alternate_links_only_for_channels_that_show_the_story(rt, client) -> None:
    add_channel(rt, {"slug": "local", "title": "Local", "filter": {"sections": ["Local"]}})
    add_channel(rt, {"slug": "sport", "title": "Sport", "filter": {"sections": ["sport"]}})
    add_channel(rt, {"slug": "all", "title": "Everything", "formats": ["atom"]})
    add_channel(
        rt,
        {
            "slug": "local-fr",
            "title": "Local FR",
            "filter": {"sections": ["local"], "languages": ["fr"]},
        },
    )
    add_channel(rt, {"slug": "en", "title": "English", "filter": {"languages": ["en"]}})
    code = add_story(rt, {"title": "Fair", "section": "local", "language": "en-GB"})
    doc = _page(client, f"/stories/{code}")
    assert sorted(_alternates(doc)) == sorted(
        [
            (f"{BASE}/feeds/all.atom", "application/atom+xml", "Everything (Atom)"),
            (f"{BASE}/feeds/en.rss", "application/rss+xml", "English (RSS)"),
            (f"{BASE}/feeds/en.atom", "application/atom+xml", "English (Atom)"),
            (f"{BASE}/feeds/en.json", "application/feed+json", "English (JSON Feed)"),
            (f"{BASE}/feeds/local.rss", "application/rss+xml", "Local (RSS)"),
            (f"{BASE}/feeds/local.atom", "application/atom+xml", "Local (Atom)"),
            (f"{BASE}/feeds/local.json", "application/feed+json", "Local (JSON Feed)"),
        ]
    )
    # Every advertised feed is real and lists the story.
    for href, _, _ in _alternates(doc):
        response = _get(client, href)
        assert response.status_code == 200, href
        assert f"{BASE}/stories/{code}".encode() in response.data, href


def test_story_without_channels_has_no_alternates(rt, client) -> None:
    add_channel(rt, {"slug": "sport", "title": "Sport", "filter": {"sections": ["sport"]}})
    code = add_story(rt, {"title": "Alone", "section": "local"})
    assert _alternates(_page(client, f"/stories/{code}")) == []


def test_story_without_a_short_link_still_renders(rt, client, story) -> None:
    with rt.db.write() as s:
        s.execute(delete(Link))
    doc = _page(client, f"/stories/{story}")
    assert f"Story Code: {story}" in _text(doc.xpath("//article")[0])
    assert doc.xpath("//img[@alt='QR Code']") == []
    assert not [a for a in doc.xpath("//a/@href") if "/s/" in a]


def test_hidden_stories_are_404_pages(rt, client) -> None:
    draft = add_story(rt, {"title": "Secret draft"}, status="draft")
    scheduled = add_story(
        rt, {"title": "Secret future", "status": "scheduled", "publish_at": "2099-01-01T00:00:00Z"}
    )
    for code in (draft, scheduled, "no-such-story"):
        response = _get(client, f"/stories/{code}")
        assert response.status_code == 404, code
        assert response.mimetype == "text/html"
        doc = lxml.html.document_fromstring(response.data)
        assert "not found" in _text(doc.xpath("//h1")[0]).lower()
        assert "Secret" not in response.get_data(as_text=True)


def test_retracted_story_is_a_410_page(rt, client, story) -> None:
    with rt.db.write() as s:
        retract_story(s, rt.settings, story, now=NOW + timedelta(hours=1))
    response = _get(client, f"/stories/{story}")
    assert response.status_code == 410
    assert response.mimetype == "text/html"
    doc = lxml.html.document_fromstring(response.data)
    assert doc.xpath("//head/title")[0].text.startswith("Story retracted")
    assert _text(doc.xpath("//h1")[0]) == "Story retracted"
    assert "retracted" in _text(doc.xpath("//main")[0])
    html = response.get_data(as_text=True)
    assert "Harbour bridge" not in html and "Traffic flows" not in html
    assert "QR Code" not in html


def test_feed_errors_stay_plain_text(client) -> None:
    response = client.get("/feeds/nope.rss")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"


# -- channel pages and the home page ----------------------------------------------------------


@pytest.fixture
def channel_stories(rt) -> list[str]:
    """Seven stories in 'world' (pairs share their time), as codes, newest first."""
    add_channel(
        rt,
        {
            "slug": "world",
            "title": "World news",
            "description": "All over",
            "limit": 3,
            "filter": {"sections": ["world"]},
            "formats": ["rss", "json"],
        },
    )
    add_story(rt, {"code": "other", "title": "Not world", "section": "sport"})
    add_story(rt, {"code": "draft", "title": "Draft", "section": "world"}, status="draft")
    codes = []
    for i in range(7):
        when = NOW - timedelta(hours=10) + timedelta(hours=(i // 2) * 2)  # pairs share a time
        codes.append(
            add_story(
                rt,
                {
                    "code": f"w{i}",
                    "title": f"World {i}",
                    "summary": f"Summary {i}",
                    "section": "world",
                    "published_at": when.isoformat(),
                },
            )
        )
    # Newest first; within one instant the higher id first (the feeds' order).
    return sorted(codes, key=lambda c: (-(int(c[1:]) // 2), -int(c[1:])))


def test_channel_page_lists_newest_first_and_pages(rt, client, channel_stories) -> None:
    url = "/channels/world"
    doc = _page(client, url)
    assert doc.getroottree().getroot().get("lang") == rt.settings.default_language
    assert _text(doc.xpath("//h1")[0]) == "World news"
    assert sorted(_alternates(doc)) == [
        (f"{BASE}/feeds/world.json", "application/feed+json", "World news (JSON Feed)"),
        (f"{BASE}/feeds/world.rss", "application/rss+xml", "World news (RSS)"),
    ]
    main = doc.xpath("//main")[0]
    assert {a.get("href") for a in main.xpath(".//a[contains(@href, '/feeds/')]")} == {
        f"{BASE}/feeds/world.rss",
        f"{BASE}/feeds/world.json",
    }
    item = main.xpath(".//li[contains(@class, 'story-item')]")[0]
    assert item.xpath(".//time/@datetime")
    assert "Summary" in _text(item)

    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        items = main.xpath(".//li[contains(@class, 'story-item')]//h2/a")
        assert 0 < len(items) <= 3
        for a in items:
            assert a.get("href").startswith(f"{BASE}/stories/")
            seen.append(a.get("href").rsplit("/", 1)[1])
        older = main.xpath(".//a[@rel='next']")
        if not older:
            break
        assert pages < 5
        next_href = older[0].get("href")
        assert doc.xpath("//head/link[@rel='next']/@href") == [next_href]
        doc = _page(client, next_href)
        main = doc.xpath("//main")[0]
        assert main.xpath(".//a[normalize-space()='Newest stories']/@href") == [f"{BASE}{url}"]
    assert pages == 3
    assert seen == channel_stories


def test_channel_page_errors(client, channel_stories) -> None:
    doc = _page(client, "/channels/world?before=not-a-cursor", 400)
    assert "cursor" in _text(doc.xpath("//main")[0])
    _page(client, "/channels/world?before=", 400)
    doc = _page(client, "/channels/nowhere", 404)
    assert "nowhere" in _text(doc.xpath("//main")[0])


def test_channel_page_language_and_direction(rt, client) -> None:
    add_channel(rt, {"slug": "arabic", "title": "عربي", "filter": {"languages": ["ar"]}})
    add_story(rt, {"title": "خبر", "language": "ar"})
    root = _page(client, "/channels/arabic").getroottree().getroot()
    assert root.get("lang") == "ar" and root.get("dir") == "rtl"


def test_home_lists_channels(rt, client) -> None:
    add_channel(rt, {"slug": "world", "title": "World news", "description": "All over"})
    add_channel(rt, {"slug": "sport", "title": "Sport", "formats": ["atom"]})
    doc = _page(client, "/")
    main = doc.xpath("//main")[0]
    titles = main.xpath(".//h2/a")
    assert [(_text(a), a.get("href")) for a in titles] == [
        ("Sport", f"{BASE}/channels/sport"),
        ("World news", f"{BASE}/channels/world"),
    ]
    assert "All over" in _text(main)
    hrefs = set(main.xpath(".//a/@href"))
    assert {f"{BASE}/feeds/world.{f}" for f in ("rss", "atom", "json")} <= hrefs
    assert f"{BASE}/feeds/sport.atom" in hrefs and f"{BASE}/feeds/sport.rss" not in hrefs
    assert f"{BASE}/feeds.opml" in hrefs
    assert _get(client, f"{BASE}/feeds.opml").status_code == 200


def test_home_marks_each_channel_language(rt, client) -> None:
    add_channel(rt, {"slug": "arabic", "title": "عربي", "filter": {"languages": ["ar"]}})
    item = _page(client, "/").xpath("//li[contains(@class, 'channel')]")[0]
    assert item.get("lang") == "ar" and item.get("dir") == "rtl"


def test_home_without_channels(client) -> None:
    doc = _page(client, "/")
    assert "No channels yet" in _text(doc.xpath("//main")[0])


# -- offline: nothing fetched from elsewhere ---------------------------------------------------


def test_pages_fetch_nothing_from_other_sites(rt, client, story) -> None:
    add_channel(rt, {"slug": "local", "title": "Local", "filter": {"sections": ["local"]}})
    own = add_story(
        rt,
        {
            "title": "Own URL",
            "section": "local",
            "url": "https://publisher.example/a",
            "image": "https://cdn.publisher.example/a.jpg",
        },
    )
    allowed_by_story = {
        story: {"https://images.example.org/bridge.jpg"},
        own: {"https://publisher.example/a", "https://cdn.publisher.example/a.jpg"},
    }
    pages = {
        "/": set(),
        "/channels/local": set(),
        f"/stories/{story}": allowed_by_story[story],
        f"/stories/{own}": allowed_by_story[own],
        "/stories/missing": set(),
    }
    stylesheets = set()
    for path, allowed in pages.items():
        response = _get(client, path)
        doc = lxml.html.document_fromstring(response.data)
        assert not doc.xpath("//script[@src]"), path
        assert not doc.xpath("//iframe | //object | //embed"), path
        assert not doc.xpath("//*[@style[contains(., 'url(')]]"), path
        for el in doc.xpath("//link[@href] | //img[@src] | //script[@src] | //source[@src]"):
            url = el.get("href") or el.get("src")
            assert url.startswith(f"{BASE}/") or url in allowed, (path, el.tag, url)
            if el.tag == "link" and el.get("rel") == "stylesheet":
                stylesheets.add(url)
        for style in doc.xpath("//style"):
            assert "@import" not in style.text and "url(" not in style.text, path
    assert stylesheets
    for url in stylesheets:
        css = _get(client, url)
        assert css.status_code == 200 and css.mimetype == "text/css"
        text = css.get_data(as_text=True)
        assert "@import" not in text and "url(" not in text and "@font-face" not in text


def test_print_stylesheet_keeps_code_link_and_qr(rt, client, story) -> None:
    doc = _page(client, f"/stories/{story}")
    href = doc.xpath("//head/link[@rel='stylesheet']/@href")[0]
    css = _get(client, href).get_data(as_text=True)
    assert "@media print" in css
    printed = css.split("@media print", 1)[1]
    hidden = printed.split("display: none", 1)[0]
    assert ".site-header" in hidden  # navigation goes
    assert ".story-code" not in hidden and ".qr" not in hidden  # code, link and QR stay
    assert ".story-code" in printed
    # Those three are inside the element the print rules keep.
    box = doc.xpath("//*[contains(@class, 'story-code')]")[0]
    assert box.xpath(".//img[@alt='QR Code']") and box.xpath(".//a[contains(@href, '/s/')]")
