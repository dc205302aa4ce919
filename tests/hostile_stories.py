"""The hostile-story fixture: the text and URLs newsrooms really send, loaded into a real app.

One set of channels and stories for every test (and the by-hand W3C validator run) that checks
what readers get: markup in titles, IRIs in links, images and body HTML, C1 controls and other
controls, e-mail addresses in bylines, captions with markup, RTL text (Arabic, Persian, mixed
with Latin), astral-plane emoji, stories updated twice within one second and two sharing one
instant, a story without authors, tags with odd characters, UTF-8 read as Latin-1. Small page
limits make every channel span several pages.

Each story carries what a reader must see of it (`Expected`): written by hand, not computed with
the service's own cleaning, so the fixture checks that cleaning instead of repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syndication.channels.service import create_channel
from syndication.stories.service import create_story, update_story

BASE = "http://news.example.test"
# The clock of a test app using this fixture: every story is within the news sitemap's 48 hours.
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
C1 = "\x80\x9f\x9d"
# What XML allows but HTML parsers call invalid code points: DEL, the non-characters.
NONCHARS = "\x7f\ufdd0\U0001fffe"
IRI = "https://example.com/café/ünïcödé?a=1&b=2"
URI = "https://example.com/caf%C3%A9/%C3%BCn%C3%AFc%C3%B6d%C3%A9?a=1&b=2"
IMAGE_IRI = "https://bücher.example/bild-ä.jpg"
IMAGE_URI = "https://xn--bcher-kva.example/bild-%C3%A4.jpg"
BODY_IRI = "https://例え.テスト/記事?q=ü#frag"
BODY_URI = "https://xn--r8jz45g.xn--zckzah/%E8%A8%98%E4%BA%8B?q=%C3%BC#frag"


def _ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


@dataclass(frozen=True)
class Channel:
    slug: str
    data: dict[str, Any]
    title: str  # as readers must see it
    codes: tuple[str, ...]  # the stories it shows, newest first
    full: bool = True


@dataclass(frozen=True)
class Expected:
    """What every format must show of a story."""

    code: str
    title: str
    summary: str | None
    authors: tuple[str, ...]  # empty: credited to the channel
    link: str  # as a URI
    categories: tuple[str, ...] = ()
    caption: str | None = None
    image: str | None = None  # as a URI
    body_has: tuple[str, ...] = ()  # fragments of the body HTML as printed
    body_lacks: tuple[str, ...] = ()

    @property
    def page(self) -> str:
        return f"{BASE}/stories/{self.code}"


@dataclass(frozen=True)
class Story:
    data: dict[str, Any]
    expected: Expected
    # Later edits: (when, partial record), applied in order.
    edits: tuple[tuple[datetime, dict[str, Any]], ...] = field(default=())


def _story(code: str, minutes: float, data: dict[str, Any], expected: dict[str, Any], **kw):
    published = _ago(minutes)
    return Story(
        {"code": code, "published_at": published, **data},
        Expected(code=code, link=expected.pop("link", f"{BASE}/stories/{code}"), **expected),
        **kw,
    )


# The two stories of the same second: one edited twice within it, the other saved at the very
# instant of its last edit (as a bulk import does), so their Atom `updated` would collide.
TWICE_AT = _ago(5)
FIRST_EDIT = TWICE_AT + timedelta(milliseconds=300)
SECOND_EDIT = TWICE_AT + timedelta(milliseconds=700)

STORIES: tuple[Story, ...] = (
    _story(
        "markup-1",
        100,
        {
            "title": "Profits & Losses: <b>Q3</b> <script>alert(1)</script>&amp; more",
            "summary": "<p>First &lt;para&gt;</p><p>Second &amp; last</p>",
            "body_html": '<p onclick="x()">Read <a href="/about?a=1&amp;b=2">more</a></p>'
            "<script>alert(1)</script>",
            "section": "World <i>news</i>",
            "authors": ["Ann Author"],
        },
        {
            "title": "Profits & Losses: Q3 & more",
            "summary": "First <para>\n\nSecond & last",
            "authors": ("Ann Author",),
            "categories": ("World news",),
            "body_has": (f'href="{BASE}/about?a=1&amp;b=2"',),
            "body_lacks": ("<script", "onclick"),
        },
    ),
    _story(
        "iri-2",
        90,
        {
            "title": "Café & ünïcödé links",
            "summary": "An IRI everywhere.",
            "url": IRI,
            "body_html": f'<p><a href="{BODY_IRI}">ア</a> <img src="{IMAGE_IRI}" alt="x"></p>',
            "image": {"url": IMAGE_IRI, "type": "image/jpeg", "caption": "Bücher <b>shop</b>"},
            "section": "World news",
            "authors": ["Zoë Ünal"],
        },
        {
            "title": "Café & ünïcödé links",
            "summary": "An IRI everywhere.",
            "authors": ("Zoë Ünal",),
            "link": URI,
            "categories": ("World news",),
            "caption": "Bücher shop",
            "image": IMAGE_URI,
            "body_has": (f'href="{BODY_URI}"', f'src="{IMAGE_URI}"'),
            "body_lacks": (BODY_IRI, IMAGE_IRI),
        },
    ),
    _story(
        "c1-3",
        80,
        {
            "title": f"Control\x85 chars{C1} and a\ufeff BOM\x01\x0b{NONCHARS}",
            "summary": f"Line one\x85line two{C1}\ufffd{NONCHARS}",
            "body_html": f"<p>Body{C1} with\ufeff controls\x0c{NONCHARS} and\x85NEL\ufffd</p>",
            "authors": [f"Ctrl{C1} Person"],
        },
        {
            "title": "Control chars and a BOM",
            "summary": "Line one\nline two",
            "authors": ("Ctrl Person",),
            "body_has": ("Body with",),
            "body_lacks": tuple(C1) + ("\ufeff", "\x0c"),
        },
    ),
    _story(
        "email-4",
        70,
        {
            "title": "Bylines with addresses",
            "summary": "Who wrote it.",
            "authors": [
                "O'Brien & Sons <ob@example.com>",
                "Zo\u00eb &lt;i&gt;Ng&lt;/i&gt;",
                "<b>Bold</b> Writer <bw@example.org>",
                "<only@example.com>",
                "jane@example.com (Jane Doe)",
                "plain@example.net",
                "Lee Park (lee@example.com)",
            ],
            "section": "World news",
        },
        {
            "title": "Bylines with addresses",
            "summary": "Who wrote it.",
            "authors": ("O'Brien & Sons", "Zo\u00eb Ng", "Bold Writer", "Jane Doe", "Lee Park"),
            "categories": ("World news",),
        },
    ),
    _story(
        "caption-5",
        60,
        {
            "title": "A captioned map",
            "summary": "See the map.",
            "image": {
                "url": "https://cdn.example.test/map.png",
                "type": "image/png",
                "length": 2048,
                "caption": f"A <b>map</b>{C1} &amp; key <script>x</script>",
            },
            "authors": ["Cartographer"],
        },
        {
            "title": "A captioned map",
            "summary": "See the map.",
            "authors": ("Cartographer",),
            "caption": "A map & key",
            "image": "https://cdn.example.test/map.png",
        },
    ),
    _story(
        "rtl-6",
        50,
        {
            "title": "مرحبا بالعالم: Hello World 2025 & <b>أخبار</b>",
            "summary": "نص قصير with Latin inside.",
            "body_html": '<p dir="rtl">نص <b>عربي</b> and English</p>',
            "language": "ar",
            "authors": ["سارة الأحمد"],
            "tags": ["عربي"],
        },
        {
            "title": "مرحبا بالعالم: Hello World 2025 & أخبار",
            "summary": "نص قصير with Latin inside.",
            "authors": ("سارة الأحمد",),
            "categories": ("عربي",),
            "body_has": ("عربي",),
        },
    ),
    _story(
        "fa-7",
        40,
        {
            "title": "سلام دنیا \u200f— Tehran & Shiraz",
            "summary": "خلاصهٔ خبر (summary) ۱۴۰۳",
            "language": "fa",
            "authors": ["مریم"],
        },
        {
            "title": "سلام دنیا \u200f— Tehran & Shiraz",
            "summary": "خلاصهٔ خبر (summary) ۱۴۰۳",
            "authors": ("مریم",),
        },
    ),
    _story(
        "emoji-8",
        30,
        {
            "title": "Launch 🚀 day 👩‍👩‍👧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "summary": "Astral 😀 plane.",
            "body_html": "<p>🚀 𝔘𝔫𝔦</p>",
            "tags": ["🚀"],
            "authors": ["Emo 😀 Ji"],
        },
        {
            "title": "Launch 🚀 day 👩‍👩‍👧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "summary": "Astral 😀 plane.",
            "authors": ("Emo 😀 Ji",),
            "categories": ("🚀",),
            "body_has": ("🚀 𝔘𝔫𝔦",),
        },
    ),
    _story(
        "nobody-9",
        20,
        {"title": "No byline", "summary": "Nobody signed this."},
        {"title": "No byline", "summary": "Nobody signed this.", "authors": ()},
    ),
    _story(
        "tags-10",
        10,
        {
            "title": "Odd tags",
            "summary": "Tagged.",
            "tags": [
                "R&amp;D",
                "C++",
                "\ufeffTech",
                "<i>italic</i>",
                "a,b;c",
                "  spaced   out  ",
                f"x{C1}y",
                "briefing",
            ],
            "authors": ["Tagger"],
        },
        {
            "title": "Odd tags",
            "summary": "Tagged.",
            "authors": ("Tagger",),
            "categories": ("R&D", "C++", "Tech", "italic", "a,b;c", "spaced out", "xy", "briefing"),
        },
    ),
    _story(
        "twice-11",
        5,
        {"title": "Edited twice in a second, first", "summary": "v1", "tags": ["briefing"]},
        {
            "title": "Edited twice in a second, third",
            "summary": "v3",
            "authors": (),
            "categories": ("briefing",),
        },
        edits=(
            (FIRST_EDIT, {"title": "Edited twice in a second, second", "summary": "v2"}),
            (SECOND_EDIT, {"title": "Edited twice in a second, third", "summary": "v3"}),
        ),
    ),
    _story(
        "same-12",
        5,  # the same published_at as twice-11: the page cursor's tie, broken by id
        {"title": "Saved at the same instant", "summary": "Bulk.", "tags": ["briefing"]},
        {
            "title": "Saved at the same instant",
            "summary": "Bulk, edited.",
            "authors": (),
            "categories": ("briefing",),
        },
        edits=((SECOND_EDIT, {"summary": "Bulk, edited."}),),
    ),
    _story(
        "mojibake-13",
        3,  # UTF-8 read as Latin-1 by the system it came through
        {
            "title": "CafÃ© crÃ¨me: Ã\x89tÃ© â\x80\x99s best",
            "summary": "NaÃ¯ve rÃ©sumÃ©.",
            "authors": ["JosÃ© MarÃ\xada"],
        },
        {
            "title": "Café crème: Été \u2019s best",
            "summary": "Naïve résumé.",
            "authors": ("José María",),
        },
    ),
)
BY_CODE = {s.expected.code: s.expected for s in STORIES}
# Newest first, as feeds list them: published_at descending, id descending on a tie.
NEWEST_FIRST = tuple(
    s.expected.code
    for s in sorted(
        enumerate(STORIES), key=lambda p: (p[1].data["published_at"], p[0]), reverse=True
    )
    for s in [s[1]]
)


def _shown(pred) -> tuple[str, ...]:
    return tuple(c for c in NEWEST_FIRST if pred(BY_CODE[c]))


CHANNELS: tuple[Channel, ...] = (
    Channel(
        "all",
        {"slug": "all", "title": "All &amp; <Everything>", "limit": 4},
        "All & <Everything>",
        NEWEST_FIRST,
    ),
    Channel(
        "world",
        {
            "slug": "world",
            "title": f"Hostile &amp; <Tests>{C1}",
            "description": "News &amp; <b>views</b> from «everywhere» 🌍",
            "link": "https://exämple.test/wörld?a=1&b=<2>",
            "logo": "https://bücher.example/logo-ä.png",
            "copyright": "© 2025 <b>Ünïcode</b> & Co\x9f",
            "filter": {"sections": ["World news"]},
            "limit": 2,
        },
        "Hostile & <Tests>",
        _shown(lambda e: "World news" in e.categories),
    ),
    Channel(
        "arabic",
        {
            "slug": "arabic",
            "title": "الأخبار & <عربي>",
            "language": "ar",
            "filter": {"languages": ["ar", "fa"]},
            "content": "summary",
        },
        "الأخبار & <عربي>",
        ("fa-7", "rtl-6"),
        full=False,
    ),
    Channel(
        "brief",
        {
            "slug": "brief",
            "title": "Brief 🚀 <i>summaries</i>",
            "filter": {"tags": ["briefing"]},
            "content": "summary",
            "limit": 2,
        },
        "Brief 🚀 summaries",
        _shown(lambda e: "briefing" in e.categories),
        full=False,
    ),
)


def load(rt) -> None:
    """The channels and stories, through the services (validated and cleaned as any input)."""
    with rt.db.write() as s:
        for channel in CHANNELS:
            create_channel(s, channel.data, now=NOW - timedelta(days=1))
    for story in STORIES:
        with rt.db.write() as s:
            create_story(
                s,
                rt.settings,
                story.data,
                now=story.data["published_at"],
                default_status="published",
            )
    for story in STORIES:
        for when, edit in story.edits:
            with rt.db.write() as s:
                update_story(s, rt.settings, story.expected.code, edit, now=when)
