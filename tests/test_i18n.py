"""Pages in the story's language, on SQLite and PostgreSQL: labels from the gettext catalogs
(en, ar, fa), `lang`/`dir` on <html>, dates by Babel in the configured zone, bidi isolation of
mixed-direction text on public and admin pages, error pages in the language of what they are
about, the one human time format in the admin, and catalogs compiled as committed."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from syndication.auth.users import create_user
from syndication.i18n import TRANSLATIONS, UI_LANGUAGES, local_time, parse_locale, ui_locale
from syndication.models import Delivery, DeliveryAttempt
from syndication.push import subscribers as subscriber_service
from syndication.stories.service import retract_story, update_story
from tests.conftest import make_settings
from tests.storyfactory import add_channel, add_story

ROOT = Path(__file__).resolve().parent.parent
# Stories are made "now" at NOW and published a day before it; Paris is on CET in December.
NOW = datetime(2026, 12, 3, 9, 0, 0, 123456, tzinfo=UTC)
PUBLISHED = "2026-12-02T13:05:00Z"  # 14:05 in Paris
PASSWORD = "correct horse battery"
ISO_WITH_MICROSECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+")


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, timezone="Europe/Paris", outbound_allow="127.0.0.1")


def _page(client, path: str, status: int = 200) -> lxml.html.HtmlElement:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return lxml.html.document_fromstring(response.data)


def _text(el) -> str:
    return " ".join(el.text_content().split())


def _root(doc) -> lxml.html.HtmlElement:
    return doc.getroottree().getroot()


@pytest.fixture
def channels(rt) -> None:
    # The case: an Arabic channel and an English-named one show the same story.
    add_channel(
        rt,
        {"slug": "arabic", "title": "الأخبار بالعربية", "filter": {"languages": ["ar"]}},
        now=NOW,
    )
    add_channel(rt, {"slug": "all", "title": "All stories"}, now=NOW)


def _story(rt, lang: str, title: str, **more) -> str:
    data = {"title": title, "language": lang, "body_html": "<p>…</p>", "published_at": PUBLISHED}
    return add_story(rt, {**data, **more}, now=NOW)


# -- the story page in Arabic, Persian and English ---------------------------------------------


def test_arabic_story_page(rt, client, channels) -> None:
    code = _story(
        rt, "ar", "افتتاح الجسر", source="وكالة الأنباء", authors=["سمير الحسن", "John Smith"]
    )
    doc = _page(client, f"/stories/{code}")
    root = _root(doc)
    assert (root.get("lang"), root.get("dir")) == ("ar", "rtl")

    box = doc.xpath("//section[contains(@class, 'story-code')]")[0]
    assert (box.get("lang"), box.get("dir")) == ("ar", "rtl")
    assert f"رمز الخبر: {code}" in _text(box)
    assert "رابط الخبر:" in _text(box) and "Story Code" not in _text(box)
    assert box.xpath(".//bdi[@class='code']")[0].text == code  # the code set apart
    assert box.xpath(".//a[@class='news-link']")[0].get("dir") == "ltr"
    assert box.xpath(".//img[@class='qr']")[0].get("alt") == "رمز QR"

    # Babel's Arabic long date and short time in Paris time, the zone named in Arabic.
    time = doc.xpath("//article//time")[0]
    assert time.get("datetime") == "2026-12-02T14:05:00+01:00"
    assert _text(time) == "2 ديسمبر 2026، 2:05 م توقيت وسط أوروبا الرسمي"

    # "In الأخبار بالعربية، All stories": each channel name isolated, so the list reads in order.
    nav = doc.xpath("//nav[contains(@class, 'story-channels')]")[0]
    assert (nav.get("lang"), nav.get("dir")) == ("ar", "rtl")
    assert nav.get("aria-label") == "القنوات"
    assert _text(nav).startswith("في ")
    assert [b.text for b in nav.xpath(".//a/bdi")] == ["All stories", "الأخبار بالعربية"]
    assert "All stories</bdi></a>، <a" in lxml.html.tostring(nav, encoding="unicode")

    # Source and authors (one of them Latin) each isolated, joined by the Arabic comma.
    meta = doc.xpath("//article/header/p[contains(@class, 'meta')]")[0]
    assert [b.text for b in meta.xpath(".//bdi")] == ["وكالة الأنباء", "سمير الحسن", "John Smith"]
    assert "سمير الحسن، John Smith" in _text(meta)

    # Header and footer speak Arabic too; the document's title is the story's.
    assert _text(doc.xpath("//footer")[0]).startswith("كل القنوات")
    assert doc.xpath("//a[contains(@class, 'skip-link')]")[0].text == "انتقل إلى المحتوى"
    assert doc.xpath("//head/title")[0].text.startswith("افتتاح الجسر")


def test_persian_story_page(rt, client, channels) -> None:
    code = _story(rt, "fa-IR", "بازگشایی پل", source="خبرگزاری")
    doc = _page(client, f"/stories/{code}")
    root = _root(doc)
    assert (root.get("lang"), root.get("dir")) == ("fa-IR", "rtl")
    box = doc.xpath("//section[contains(@class, 'story-code')]")[0]
    assert (box.get("lang"), box.get("dir")) == ("fa-IR", "rtl")
    assert f"کد خبر: {code}" in _text(box) and "پیوند خبر:" in _text(box)
    # Persian digits, Babel's Persian month and the zone named in Persian.
    time = doc.xpath("//article//time")[0]
    assert time.get("datetime") == "2026-12-02T14:05:00+01:00"
    assert _text(time) == "۲ دسامبر ۲۰۲۶،\u200f ۱۴:۰۵ وقت عادی مرکز اروپا"
    nav = doc.xpath("//nav[contains(@class, 'story-channels')]")[0]
    assert _text(nav) == "در All stories"  # the Arabic channel does not show a Persian story
    assert nav.xpath(".//a/bdi")[0].text == "All stories"


def test_updated_story_says_so_in_its_language(rt, client) -> None:
    code = _story(rt, "ar", "خبر")
    with rt.db.write() as s:
        update_story(s, rt.settings, code, {"summary": "ملخص"}, now=NOW)
    doc = _page(client, f"/stories/{code}")
    updated = doc.xpath("//span[@class='updated']")[0]
    assert _text(updated) == "(حُدِّث في 3 ديسمبر 2026، 10:00 ص توقيت وسط أوروبا الرسمي)"
    assert updated.xpath(".//time")[0].get("datetime") == "2026-12-03T10:00:00+01:00"


def test_english_story_page_keeps_its_labels(rt, client, channels) -> None:
    code = _story(rt, "en", "Bridge reopens", authors=["Ann Writer", "Bo Reporter"])
    doc = _page(client, f"/stories/{code}")
    root = _root(doc)
    assert (root.get("lang"), root.get("dir")) == ("en", "ltr")
    box = doc.xpath("//section[contains(@class, 'story-code')]")[0]
    assert (box.get("lang"), box.get("dir")) == ("en", "ltr")
    assert f"Story Code: {code}" in _text(box) and "News Link:" in _text(box)
    assert box.xpath(".//img[@class='qr']")[0].get("alt") == "QR Code"
    assert _text(doc.xpath("//article//time")[0]) == "2 Dec 2026, 14:05 CET"
    assert _text(doc.xpath("//nav[contains(@class, 'story-channels')]")[0]) == "In All stories"
    assert "Ann Writer, Bo Reporter" in _text(doc.xpath("//article/header")[0])


def test_a_language_without_a_catalog_gets_the_site_default_labels(rt, client) -> None:
    code = _story(rt, "de", "Brücke wieder offen")
    doc = _page(client, f"/stories/{code}")
    assert _root(doc).get("lang") == "de"  # the content's language
    box = doc.xpath("//section[contains(@class, 'story-code')]")[0]
    assert box.get("lang") == "en" and f"Story Code: {code}" in _text(box)  # labels marked


def test_site_default_language_chooses_the_labels_elsewhere(db_url, tmp_path) -> None:
    from syndication.app import create_app

    app = create_app(make_settings(db_url, tmp_path, default_language="fa"))
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        doc = _page(client, "/")
        assert (_root(doc).get("lang"), _root(doc).get("dir")) == ("fa", "rtl")
        assert _text(doc.xpath("//main/h1")[0]) == "کانال‌ها"
        assert "هنوز کانالی وجود ندارد." in _text(doc.xpath("//main")[0])
        # An unknown story: its language is not known, so the site's is used.
        doc = _page(client, "/stories/nope", 404)
        assert _root(doc).get("lang") == "fa" and _text(doc.xpath("//h1")[0]) == "خبر پیدا نشد"
        doc = _page(client, "/no/such/page", 404)
        assert _text(doc.xpath("//h1")[0]) == "صفحه پیدا نشد"
        doc = _page(client, "/channels/%3Cb%3Enope", 404)  # a hostile slug, escaped and isolated
        message = _text(doc.xpath("//div[@class='error']/p")[1])
        assert message == "کانالی به نام «\u2068<b>nope\u2069» وجود ندارد."
        # A short link's errors, said by the link service, in the site's language too.
        doc = _page(client, "/s/nope99", 404)
        assert _text(doc.xpath("//h1")[0]) == "صفحه پیدا نشد"
        assert "پیوند کوتاهی با این کد وجود ندارد." in _text(doc.xpath("//main")[0])
        # The admin stays English whatever the site's language.
        response = client.get("/admin/no-such-page")
        if response.mimetype == "text/html" and response.status_code == 404:
            assert _root(lxml.html.document_fromstring(response.data)).get("lang") == "en"
        login = _page(client, "/admin/login")
        assert _root(login).get("lang") == "en"
        assert login.xpath("//a[contains(@class, 'skip-link')]")[0].text == "Skip to content"
    finally:
        app.extensions["syndication"].close()


# -- channel pages, home, errors ----------------------------------------------------------------


def test_channel_page_in_the_channel_language(rt, client, channels) -> None:
    _story(rt, "ar", "خبر", source="Reuters")
    doc = _page(client, "/channels/arabic")
    assert (_root(doc).get("lang"), _root(doc).get("dir")) == ("ar", "rtl")
    feeds = doc.xpath("//p[contains(@class, 'feeds')]")[0]
    assert _text(feeds).startswith("اشترك:") and feeds.get("dir") == "rtl"
    item = doc.xpath("//li[contains(@class, 'story-item')]")[0]
    assert _text(item.xpath(".//time")[0]) == "2 ديسمبر 2026، 2:05 م توقيت وسط أوروبا الرسمي"
    assert item.xpath(".//bdi")[0].text == "Reuters"  # Latin source isolated in Arabic text
    # The English-named channel speaks the site's default language, and marks the Arabic item.
    doc = _page(client, "/channels/all")
    assert _root(doc).get("lang") == "en"
    assert _text(doc.xpath("//p[contains(@class, 'feeds')]")[0]).startswith("Subscribe:")
    item = doc.xpath("//li[contains(@class, 'story-item')]")[0]
    assert (item.get("lang"), item.get("dir")) == ("ar", "rtl")
    assert _text(item.xpath(".//time")[0]) == "2 Dec 2026, 14:05 CET"


def test_retracted_story_page_in_the_story_language(rt, client) -> None:
    code = _story(rt, "ar", "خبر سُحب")
    with rt.db.write() as s:
        retract_story(s, rt.settings, code, now=NOW)
    doc = _page(client, f"/stories/{code}", 410)
    assert (_root(doc).get("lang"), _root(doc).get("dir")) == ("ar", "rtl")
    assert _text(doc.xpath("//h1")[0]) == "سُحب الخبر"
    # The code is isolated inside the Arabic sentence (FSI … PDI).
    assert f"أزال الناشر هذا الخبر (\u2068{code}\u2069)." in _text(doc.xpath("//main")[0])
    assert "خبر سُحب" not in doc.xpath("//head/title")[0].text
    english = _story(rt, "en", "Gone")
    with rt.db.write() as s:
        retract_story(s, rt.settings, english, now=NOW)
    doc = _page(client, f"/stories/{english}", 410)
    assert _root(doc).get("lang") == "en" and _text(doc.xpath("//h1")[0]) == "Story retracted"


def test_error_pages_default_to_english(client) -> None:
    doc = _page(client, "/no/such/page", 404)
    assert _root(doc).get("lang") == "en" and _text(doc.xpath("//h1")[0]) == "Not found"
    doc = _page(client, "/channels/nope", 404)
    assert _text(doc.xpath("//h1")[0]) == "Channel not found"


def test_home_marks_channel_names(rt, client, channels) -> None:
    doc = _page(client, "/")
    assert _text(doc.xpath("//main/h1")[0]) == "Channels"
    arabic = [li for li in doc.xpath("//li[contains(@class, 'channel')]") if li.get("lang")]
    assert [(li.get("lang"), li.get("dir")) for li in arabic] == [("ar", "rtl")]


# -- the admin: English, isolated, one human time format ---------------------------------------


def _login(client, rt) -> str:
    with rt.db.write() as s:
        create_user(s, "root", PASSWORD, "admin", NOW)
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post(
        "/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": csrf}
    )
    assert r.status_code == 303
    page = client.get("/admin/").get_data(as_text=True)  # a signed-in session's token
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_admin_dashboard_isolates_titles_and_shows_human_times(rt, client) -> None:
    code = _story(rt, "ar", "المحلية", code="2204296")
    _login(client, rt)
    doc = _page(client, "/admin/")
    assert _root(doc).get("lang") == "en"
    (item,) = [li for li in doc.xpath("//li") if code in _text(li)]
    # "المحلية 2204296 · 2 Dec 2026, 14:05 CET": title and code isolated, time in one form.
    assert item.xpath("./a/bdi")[0].text == "المحلية"
    assert item.xpath(".//span[@class='meta']/bdi")[0].text == code
    time = item.xpath(".//time")[0]
    assert _text(time) == "2 Dec 2026, 14:05 CET"
    assert time.get("datetime") == "2026-12-02T14:05:00+01:00"
    # Story list: title, tags and section isolated; text inputs of the form take dir=auto.
    _story(rt, "ar", "عنوان", tags=["سياسة", "economy"], section="المحلية")
    listing = _page(client, "/admin/stories")
    bdis = {b.text for b in listing.xpath("//table//bdi")}
    assert {"عنوان", "سياسة", "economy", "المحلية", code} <= bdis
    form = _page(client, f"/admin/stories/{code}")
    assert form.xpath("//input[@id='title']")[0].get("dir") == "auto"
    assert form.xpath("//h1/bdi")[0].text == "المحلية"


def test_admin_subscriber_page_shows_human_times(rt, client) -> None:
    csrf = _login(client, rt)
    with rt.db.write() as s:
        sub, _secret = subscriber_service.create_subscriber(
            s, None, {"name": "شريك", "url": "http://127.0.0.1:9/hook"}, NOW
        )
        sub_id = sub.id
    r = client.post(f"/admin/subscribers/{sub_id}/test", data={"csrf_token": csrf})
    assert r.status_code == 303
    with rt.db.write() as s:
        (d,) = s.query(Delivery).all()
        d.created_at = NOW
        d.next_attempt_at = NOW
        s.add(DeliveryAttempt(delivery_id=d.id, at=NOW, status_code=502, latency_ms=3))
    page = client.get(f"/admin/subscribers/{sub_id}").get_data(as_text=True)
    doc = lxml.html.document_fromstring(page)
    text = _text(doc.xpath("//main")[0])
    assert not ISO_WITH_MICROSECONDS.search(text), text
    assert "created 3 Dec 2026, 10:00 CET" in text and "next 3 Dec 2026, 10:00 CET" in text
    times = doc.xpath("//article[contains(@class, 'delivery')]//time")
    assert {t.get("datetime") for t in times} == {"2026-12-03T10:00:00+01:00"}
    assert doc.xpath("//h1/bdi")[0].text == "شريك"


# -- the one time helper -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "locale", "text"),
    [
        ("Europe/Paris", "en", "2 Dec 2026, 14:05 CET"),
        ("Europe/Paris", "en-US", "2 Dec 2026, 14:05 CET"),
        ("UTC", "en", "2 Dec 2026, 13:05 UTC"),
        ("Asia/Tehran", "en", "2 Dec 2026, 16:35 +0330"),
        ("Asia/Tehran", "fa", "۲ دسامبر ۲۰۲۶،\u200f ۱۶:۳۵ وقت عادی ایران"),
        ("Africa/Cairo", "ar-EG", "٢ ديسمبر ٢٠٢٦، ٣:٠٥ م توقيت شرق أوروبا الرسمي"),
        ("Africa/Casablanca", "ar-MA", "2 دجنبر 2026، 14:05 توقيت غرب أوروبا الرسمي"),
    ],
)
def test_local_time(zone: str, locale: str, text: str) -> None:
    from zoneinfo import ZoneInfo

    when = datetime(2026, 12, 2, 13, 5, 59, 999999, tzinfo=UTC)
    assert local_time(when, ZoneInfo(zone), ui_locale(locale, "en")).text == text


@pytest.mark.parametrize(
    ("lang", "default", "expected"),
    [
        ("ar", "en", "ar"), ("ar-EG", "en", "ar_EG"), ("fa_IR", "en", "fa_IR"),
        ("de", "en", "en"), ("de", "fa", "fa"), (None, "ar", "ar"), ("", "de", "en"),
        ("x-klingon", "en", "en"), ("../../etc/passwd", "ar", "ar"), ("ar\x00", "en", "en"),
        ("a" * 5000, "en", "en"), ("zz-Qaaa-ZZ", "en", "en"),
    ],
)  # fmt: skip
def test_ui_locale_falls_back_safely(lang, default, expected) -> None:
    assert str(ui_locale(lang, default)) == expected


def test_parse_locale_refuses_what_babel_does_not_know() -> None:
    assert parse_locale(None) is None and parse_locale("  ") is None
    assert parse_locale("ar-EG").territory == "EG"


# -- the catalogs ------------------------------------------------------------------------------


def _catalogs() -> list[Path]:
    found = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert {p.parent.parent.name for p in found} >= set(UI_LANGUAGES)
    return found


@pytest.mark.parametrize("po", _catalogs(), ids=lambda p: p.parent.parent.name)
def test_compiled_catalog_matches_its_source(po: Path) -> None:
    """The .mo files are committed so `pip install -e .` needs no compile step; this fails when
    a .po was edited without `pybabel compile -d syndication/translations` (README)."""
    with po.open("rb") as f:
        catalog = read_po(f)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # what pybabel compile writes (fuzzy entries left out)
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run pybabel compile -d syndication/translations"
    assert mo.read_bytes() == compiled.getvalue(), (
        f"{mo} is older than {po.name}: run pybabel compile -d syndication/translations"
    )


def test_catalogs_hold_every_label_and_translate_it() -> None:
    """Every string marked in the code and templates is in the template catalog and translated
    in each catalog but English (the source language)."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    marked = {
        (context, message if isinstance(message, str) else message[0])
        for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map
        )
    }
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        template = {(m.context, m.id) for m in read_po(f) if m.id}
    assert marked == template, "run pybabel extract and update (README: Translations)"
    for po in _catalogs():
        with po.open("rb") as f:
            catalog = read_po(f)
        assert {(m.context, m.id) for m in catalog if m.id} == template, po
        if po.parent.parent.name != "en":
            missing = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
            assert not missing, f"{po}: untranslated {missing}"
            # Placeholders survive translation.
            for m in catalog:
                if m.id:
                    assert re.findall(r"%\(\w+\)s", m.id) == re.findall(r"%\(\w+\)s", m.string)
