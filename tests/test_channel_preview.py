"""The admin's channel preview as a reader sees it, through Flask's test client on SQLite and
PostgreSQL: items rendered (title, date, image, summary or content), the document indented for
RSS, Atom and JSON Feed, every finding listed (each item's beside it); hostile story content
stays escaped or sanitised, whether it came through the service or straight into the database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import lxml.html
import pytest
from sqlalchemy import select

from feeds import Image, Item
from feeds.check import TITLE_MAX, Finding, check_items
from feeds.pretty import pretty
from syndication.auth.users import create_user
from syndication.channels.service import create_channel
from syndication.models import Story
from syndication.stories.service import create_story

PASSWORD = "correct horse battery"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LONG_TITLE = "A very long headline " + "that keeps going " * 8


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


@pytest.fixture
def admin(client, rt) -> str:
    with rt.db.write() as s:
        create_user(s, "root", PASSWORD, "admin", NOW)
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 303
    return _csrf_of(client.get("/admin/").get_data(as_text=True))


def _story(rt, data: dict, when: str) -> str:
    with rt.db.write() as s:
        data = {"tags": ["bay"], "published_at": when, **data}
        return create_story(s, rt.settings, data, now=NOW, default_status="published").code


@pytest.fixture
def bay(rt) -> dict[str, str]:
    """A channel of three stories: one complete, one with a long title and nothing else, one
    with an image lacking its caption and a body without a summary."""
    with rt.db.write() as s:
        create_channel(s, {"slug": "bay", "title": "The Bay", "filter": {"tags": ["bay"]}}, now=NOW)
    return {
        "full": _story(
            rt,
            {
                "code": "full",
                "title": "Ferry timetable changes",
                "summary": "New times from Monday.",
                "body_html": "<p>The first ferry now leaves at <strong>06:10</strong>.</p>",
                "image": {
                    "url": "https://news.example.test/media/ferry.jpg",
                    "caption": "The morning ferry",
                    "type": "image/jpeg",
                    "width": 1200,
                    "height": 800,
                },
            },
            "2025-02-28T09:00:00Z",
        ),
        "long": _story(
            rt, {"code": "long", "title": LONG_TITLE, "body_html": ""}, "2025-02-27T09:00:00Z"
        ),
        "bare": _story(
            rt,
            {
                "code": "bare",
                "title": "Harbour wall repaired",
                "body_html": "<p>Work ended on Friday.</p>",
                "image": {"url": "https://news.example.test/media/wall"},
            },
            "2025-02-26T09:00:00Z",
        ),
    }


def _preview(client, fmt: str) -> lxml.html.HtmlElement:
    response = client.get(f"/admin/channels/bay?format={fmt}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return lxml.html.document_fromstring(response.data)


def _text(el) -> str:
    return " ".join(el.text_content().split())


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_preview_shows_items_as_a_reader_sees_them(client, admin, bay, fmt) -> None:
    doc = _preview(client, fmt)
    items = doc.xpath("//ol[@class='preview-items']/li")
    assert [i.get("id") for i in items] == [f"preview-item-{n}" for n in (1, 2, 3)]
    full, long, bare = items

    assert _text(full.xpath(".//h4")[0]) == "Ferry timetable changes"
    assert full.xpath(".//h4/a/@href") == ["http://news.example.test/stories/full"]
    assert full.xpath(".//time/@datetime") == ["2025-02-28T09:00:00+00:00"]
    [img] = full.xpath(".//figure/img")
    assert img.get("src") == "https://news.example.test/media/ferry.jpg"
    assert img.get("alt") == "The morning ferry"
    assert (img.get("width"), img.get("height")) == ("1200", "800")
    assert _text(full.xpath(".//figcaption")[0]) == "The morning ferry"
    assert _text(full.xpath(".//p[@class='lead']")[0]) == "New times from Monday."
    body = full.xpath(".//div[@class='preview-content']")[0]
    assert body.xpath(".//strong")[0].text == "06:10"  # HTML rendered, not shown as markup
    assert not full.xpath(".//ul[@class='findings']"), "nothing to say about a complete item"

    # Each item's findings beside it.
    assert not long.xpath(".//figure")
    long_findings = [_text(li) for li in long.xpath(".//ul[@class='findings']/li")]
    assert any(f"cut it after about {TITLE_MAX}" in f for f in long_findings)
    assert any("no summary or content" in f for f in long_findings)
    assert any("no image" in f for f in long_findings)
    assert "No summary or content." in _text(long)
    bare_findings = [_text(li) for li in bare.xpath(".//ul[@class='findings']/li")]
    assert any("image has no caption" in f for f in bare_findings)
    assert any("image width and height unknown" in f for f in bare_findings)
    assert any("image type unknown" in f for f in bare_findings)
    assert any("no summary: readers show the start of the body" in f for f in bare_findings)
    assert bare.xpath(".//figure/img/@alt") == [""]

    # Every finding in the list beside the items, each item's linked to it; not one count.
    listed = doc.xpath("//section[@class='preview-findings']/ul[@class='findings']/li")
    texts = [_text(li) for li in listed]
    assert "note: 3 items" in texts
    assert len(listed) >= 1 + len(long_findings) + len(bare_findings)
    # The same findings, placed by "item n (id): " in the list, bare beside their item.
    for n, code, found in [(2, "long", long_findings), (3, "bare", bare_findings)]:
        for finding in found:
            level, message = finding.split(": ", 1)
            assert not message.startswith("item "), finding
            placed = f"{level}: item {n} (http://news.example.test/stories/{code}): {message}"
            assert placed in texts, (placed, texts)
    links = doc.xpath("//section[@class='preview-findings']//a/@href")
    assert {"#preview-item-2", "#preview-item-3"} <= set(links)
    counts = _text(doc.xpath("//p[@class='preview-counts']")[0])
    assert counts.startswith("3 items · 0 errors, ")


def test_preview_document_is_indented(client, admin, bay) -> None:
    for fmt, first, nested in [
        ("rss", '<?xml version="1.0" encoding="UTF-8"?>', "\n  <channel>\n    <title>The Bay"),
        ("atom", '<?xml version="1.0" encoding="UTF-8"?>', "\n  <id>"),
        ("json", "{", '\n  "version": "https://jsonfeed.org/version/1.1",\n'),
    ]:
        source = _preview(client, fmt).xpath("//pre[@class='feed-source']")[0].text_content()
        assert source.startswith(first), fmt
        assert nested in source, fmt
        assert "Ferry timetable changes" in source
        if fmt == "json":
            assert json.loads(source)["title"] == "The Bay"  # still the same document
    raw = client.get("/admin/channels/bay?format=rss").get_data(as_text=True)
    assert "\n  &lt;channel&gt;" in raw, "escaped in the page"


def test_draft_preview_shows_items_and_findings(client, admin, bay) -> None:
    response = client.post(
        "/admin/channels/new/preview?format=atom",
        data={"csrf_token": admin, "slug": "draft", "title": "Draft", "filter_tags": "bay"},
    )
    assert response.status_code == 200
    doc = lxml.html.document_fromstring(response.data)
    assert len(doc.xpath("//ol[@class='preview-items']/li")) == 3
    assert doc.xpath("//section[@class='preview-findings']//li")


HOSTILE_BODY = (
    '<p onclick="alert(1)">Hi<script>alert(2)</script>'
    '<img src="x" onerror="alert(3)"><a href="javascript:alert(4)">x</a>'
    '<iframe src="https://evil.example/"></iframe><style>body{display:none}</style></p>'
)


def _hostile_dom_checks(doc) -> None:
    reader = doc.xpath("//section[@class='preview-reader']")[0]
    assert not reader.xpath(".//script | .//iframe | .//style | .//object | .//embed")
    for el in reader.iter():
        for name, value in el.attrib.items():
            assert not name.startswith("on"), (el.tag, name)
            assert not value.strip().lower().startswith("javascript:"), (el.tag, name, value)


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_hostile_story_content_stays_escaped_in_the_preview(client, admin, rt, fmt) -> None:
    with rt.db.write() as s:
        create_channel(s, {"slug": "bay", "title": "The Bay", "filter": {"tags": ["bay"]}}, now=NOW)
    code = _story(
        rt,
        {
            "title": "Rates </script><script>alert(1)</script>",
            "summary": "<b>bold</b> & <i>it</i>",
            "body_html": HOSTILE_BODY,
            "image": {"url": "https://news.example.test/x.png", "caption": '"><script>x</script>'},
        },
        "2025-02-28T09:00:00Z",
    )
    # And behind the service's back: a title, body, link and image no write would have let in.
    raw = _story(rt, {"title": "raw"}, "2025-02-27T09:00:00Z")
    with rt.db.write() as s:
        story = s.scalars(select(Story).where(Story.code == raw)).one()
        story.title = "<img src=x onerror=alert(5)>"
        story.body_html = HOSTILE_BODY
        story.url = "javascript:alert(6)"
        story.image = {"url": "https://news.example.test/y.png", "caption": '"><script>x</script>'}
        first = s.scalars(select(Story).where(Story.code == code)).one()
        first.image = {"url": "javascript:alert(7)", "caption": "c"}
    page = client.get(f"/admin/channels/bay?format={fmt}").get_data(as_text=True)
    doc = lxml.html.document_fromstring(page)
    _hostile_dom_checks(doc)
    items = doc.xpath("//ol[@class='preview-items']/li")
    assert len(items) == 2
    titles = [_text(i.xpath(".//h4")[0]) for i in items]
    assert titles[0].startswith("Rates")  # the write took the tags out of the plain text
    assert titles[1] == "<img src=x onerror=alert(5)>"
    assert not items[1].xpath(".//h4//a"), "a javascript: URL is no link"
    assert not items[0].xpath(".//figure"), "a javascript: image is not shown"
    assert items[1].xpath(".//figure/img/@alt") == ['"><script>x</script>']
    body = items[1].xpath(".//div[@class='preview-content']")[0]
    assert _text(body).startswith("Hi")
    # The document beside it shows the hostile text as text.
    source = doc.xpath("//pre[@class='feed-source']")[0]
    assert not source.getchildren()
    assert "alert(5)" in source.text_content()


def test_check_items_lists_each_finding() -> None:
    when = NOW
    items = [
        Item("u1", "u1", "ok", when, when, summary="s", content_html="<p>b</p>",
             image=Image("https://e.test/a.jpg", caption="c", width=1, height=1)),
        Item("u2", "u2", "t" * (TITLE_MAX + 1), when, when, content_html="<p>b</p>"),
        Item("u3", "u3", "t", when, when, summary="s", image=Image("https://e.test/a")),
    ]  # fmt: skip
    findings = check_items(items)
    assert [f.item for f in findings] == [2, 2, 2, 3, 3, 3]
    assert findings[0] == Finding(
        "warning",
        f"item 2 (u2): title is {TITLE_MAX + 1} characters; readers and search results cut it "
        f"after about {TITLE_MAX}",
        2,
    )
    assert [f.level for f in findings] == [
        "warning",
        "warning",
        "info",
        "warning",
        "info",
        "warning",
    ]


def test_pretty_leaves_text_alone_and_broken_documents_as_they_are() -> None:
    xml = b"<rss><channel><title>a &#x26; b</title><item><description><![CDATA[<p>x <b>y</b></p>]]></description></item></channel></rss>"  # noqa: E501
    text = pretty(xml, "rss")
    assert "\n    <title>a &amp; b</title>" in text
    assert "<![CDATA[<p>x <b>y</b></p>]]>" in text
    assert pretty(b"<rss><channel>", "rss") == "<rss><channel>"
    assert pretty(b"not json \xff", "json") == "not json \ufffd"
    # An entity a document declares is not expanded (no billion laughs, no file reads).
    evil = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
    assert "root:" not in pretty(evil, "rss")
