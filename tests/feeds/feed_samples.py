"""Sample feeds for the renderer tests: one hostile, one plain (imported by the tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from feeds import Feed, Image, Item, Person
from feeds.html import sanitize_html

SITE = "https://news.example.com"
SELF_URL = f"{SITE}/feeds/world.rss?page=2"

# Characters XML 1.0 forbids: a C0 control, a non-character and a lone surrogate.
FORBIDDEN = "\x0b\ufffe\ud800"

RAW_HTML = (
    '<p onclick="steal()">Read <a href="/stories/42?a=1&amp;b=2">the story</a> &amp; '
    '<a href="javascript:alert(1)">this</a>, see <img src="img/map.png" alt="map" '
    'onerror="x()">.</p><script>alert("x")</script>'
    "<style>p{color:red}</style><p>Tom &amp; Jerry &lt;3 "
    f"\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \U0001f389{FORBIDDEN}</p>"
    '<blockquote cite="../source">quoted</blockquote><iframe src="https://evil.test/"></iframe>'
)

AR_WORLD = "\u0627\u0644\u0639\u0627\u0644\u0645"  # "the world"
AR_TITLE = f"\u0623\u062e\u0628\u0627\u0631 \u0639\u0627\u062c\u0644\u0629: {AR_WORLD}"
HE_NAME = "\u05d3\u05e0\u05d4"
TAGS = ("World & Politics", "<Tech>", AR_WORLD)  # as printed, forbidden characters gone

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))


def hostile_feed() -> Feed:
    base = f"{SITE}/stories/42/"
    items = (
        Item(
            id=f"{SITE}/stories/42",
            url=f"{SITE}/stories/42",
            title=f"Ben & Jerry <3 \"quotes\" 'apos' > 2 \U0001f366{FORBIDDEN}",
            published=T0,
            updated=T0 + timedelta(hours=1),
            summary=f"Tom & Jerry <script>alert(1)</script> a < b{FORBIDDEN}",
            content_html=sanitize_html(RAW_HTML, base),
            authors=(Person("Zoë O'Brien & Co", "zoe@example.com"), Person(HE_NAME)),
            categories=("World & Politics", f"<Tech>{FORBIDDEN}", AR_WORLD),
            image=Image(
                url=f"{SITE}/media/42.jpg",
                type="image/jpeg",
                length=12345,
                width=1200,
                height=675,
                caption="A map & a <caption>",
            ),
        ),
        Item(
            id=f"{SITE}/stories/43",
            url=f"{SITE}/stories/43",
            title=AR_TITLE,
            published=datetime(2024, 5, 5, 23, 30, tzinfo=CEST),
            updated=datetime(2024, 5, 5, 23, 45, tzinfo=CEST),
            summary="\u0645\u0644\u062e\u0635 \u0627\u0644\u062e\u0628\u0631",
            content_html=None,  # summary only
            authors=(),  # inherits the feed's author
            categories=(),
            image=Image(url=f"{SITE}/media/43.png"),  # neither type nor length
            language="ar",
        ),
        Item(
            id=f"{SITE}/stories/44",
            url=f"{SITE}/stories/44",
            title="\u05d7\u05d3\u05e9\u05d5\u05ea \U0001f4f0 no image, no summary",
            published=T0 - timedelta(days=1),
            updated=T0 - timedelta(days=1),
            summary=None,
            content_html="<p>Only <em>HTML</em> &amp; nothing else</p>",
            language="he",
        ),
    )
    return Feed(
        title=f"World & <News> \U0001f30d{FORBIDDEN}",
        link=f"{SITE}/channels/world",
        self_url=SELF_URL,
        updated=T0 + timedelta(hours=2),
        description=f"Everything & more <from> the world{FORBIDDEN}",
        language="en",
        hub_url=f"{SITE}/hub",
        first_url=f"{SITE}/feeds/world.rss",
        next_url=f"{SITE}/feeds/world.rss?page=3",
        author=Person("The World Desk", "desk@example.com", f"{SITE}/about"),
        copyright="\u00a9 2024 Example News & Partners",
        logo=f"{SITE}/static/logo.png",
        icon=f"{SITE}/static/icon.png",
        ttl=15,
        items=items,
    )


def plain_feed(self_url: str = f"{SITE}/feeds/plain.rss") -> Feed:
    return Feed(
        title="Plain news",
        link=f"{SITE}/",
        self_url=self_url,
        updated=T0,
        description="Plain items",
        language="en-GB",
        hub_url=f"{SITE}/hub",
        items=(
            Item(
                id=f"{SITE}/stories/1",
                url=f"{SITE}/stories/1",
                title="A plain story",
                published=T0,
                updated=T0,
                summary="A plain summary.",
                content_html="<p>A plain body.</p>",
                authors=(Person("Ann Writer"),),
                categories=("World",),
                image=Image(url=f"{SITE}/media/1.jpg", type="image/jpeg", length=100),
            ),
        ),
    )
