"""The demo archive: loads once into an empty database, and every channel serves a valid feed."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import feedparser
from PIL import Image
from sqlalchemy import func, select

from syndication.channels.service import create_channel
from syndication.demo.archive import SCHEDULED_IN, demo_stories, load_demo
from syndication.demo.illustrations import illustration
from syndication.models import Channel, Story
from syndication.stories.service import release_due

NOW = datetime(2025, 2, 14, 9, 10, tzinfo=UTC)


def _counts(rt) -> tuple[int, int, int]:
    with rt.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Channel)),
            s.scalar(select(func.count()).select_from(Story)),
            s.scalar(select(func.sum(Channel.version))),
        )


def test_loads_once_into_an_empty_database(rt):
    loaded = load_demo(rt.db, rt.settings, now=NOW)
    assert loaded is not None
    channels, stories = loaded
    assert channels >= 7
    assert 150 <= stories <= 250
    counts = _counts(rt)
    assert counts[:2] == (channels, stories)

    assert load_demo(rt.db, rt.settings, now=NOW + timedelta(hours=1)) is None
    assert _counts(rt) == counts


def test_does_nothing_when_a_channel_exists(rt):
    with rt.db.write() as s:
        create_channel(s, {"slug": "mine", "title": "Mine"}, now=NOW)
    assert load_demo(rt.db, rt.settings, now=NOW) is None
    assert _counts(rt)[:2] == (1, 0)


def test_archive_shape(rt):
    load_demo(rt.db, rt.settings, now=NOW)
    with rt.db.read() as s:
        stories = list(s.scalars(select(Story)))
        rtl = s.scalar(select(Channel).where(Channel.language == "ar"))
    by_status = {
        st: [x for x in stories if x.status == st] for st in ("published", "draft", "scheduled")
    }
    assert len(by_status["draft"]) >= 2
    [scheduled] = by_status["scheduled"]
    assert scheduled.publish_at == NOW + SCHEDULED_IN
    published = by_status["published"]
    assert all(NOW - timedelta(days=61) <= x.published_at < NOW for x in published)
    assert {x.section for x in published} >= {"world", "business", "science", "sport"}
    arabic = [x for x in published if x.language == "ar"]
    assert arabic and all("\u0600" <= x.title[0] <= "\u06ff" for x in arabic)
    assert rtl is not None and rtl.filter == {"languages": ["ar"]}
    # Every picture is the service's own: drawn, stored as an upload, served from /media/.
    images = [x.image for x in stories if x.image]
    assert 0.4 < len(images) / len(stories) < 0.8
    assert scheduled.image is not None
    media = f"{rt.settings.base_url}/media/"
    for image in images:
        assert image["url"].startswith(media), image["url"]
        assert image["type"] == "image/jpeg" and (image["width"], image["height"]) == (800, 450)
        path = rt.settings.media_dir / image["url"].removeprefix(media)
        assert path.stat().st_size == image["length"]
        assert image["caption"]
    assert len({image["url"] for image in images}) == len(images)  # one picture per story
    # Relative links in bodies were made absolute against the story page.
    linked = [x for x in published if "<a " in x.body_html]
    assert linked
    assert all('href="http://news.example.test/' in x.body_html for x in linked)


def test_same_now_same_archive():
    assert demo_stories(NOW) == demo_stories(NOW)
    later = demo_stories(NOW + timedelta(days=1))
    assert [r["title"] for r in later] == [r["title"] for r in demo_stories(NOW)]
    # Pictures are asked for the same stories, and drawn the same, every time.
    asked: list[tuple[str, str]] = []
    demo_stories(NOW, lambda code, section: asked.append((code, section)) or {"url": code})
    assert asked and len(set(asked)) == len(asked)
    code, section = asked[0]
    assert illustration(code, section) == illustration(code, section)
    assert illustration(code, section) != illustration(asked[1][0], section)
    picture = Image.open(io.BytesIO(illustration(code, section)))
    assert (picture.format, picture.size) == ("JPEG", (800, 450))


def test_demo_pages_show_the_services_own_pictures(rt, client):
    """Every demo page's images come from the service itself, and load."""
    load_demo(rt.db, rt.settings, now=NOW)
    with rt.db.read() as s:
        story = next(
            x
            for x in s.scalars(select(Story).order_by(Story.code))
            if x.status == "published" and x.image
        )
    page = client.get(f"/stories/{story.code}").get_data(as_text=True)
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    assert story.image["url"] in sources
    for src in sources:
        assert src.startswith(rt.settings.base_url + "/"), src
    served = client.get(story.image["url"].removeprefix(rt.settings.base_url))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert len(served.data) == story.image["length"]


def test_every_channel_feed_parses_with_items(rt, client):
    load_demo(rt.db, rt.settings, now=NOW)
    with rt.db.read() as s:
        slugs = list(s.scalars(select(Channel.slug)))
    assert "arabic" in slugs
    for slug in slugs:
        response = client.get(f"/feeds/{slug}.rss")
        assert response.status_code == 200, slug
        parsed = feedparser.parse(response.data)
        assert not parsed.bozo, (slug, parsed.get("bozo_exception"))
        assert parsed.entries, slug
        if slug == "arabic":
            assert parsed.feed.language == "ar"
            assert all(e.title and "\u0600" <= e.title[0] <= "\u06ff" for e in parsed.entries)


def test_scheduled_story_is_released_on_time(rt):
    load_demo(rt.db, rt.settings, now=NOW)
    with rt.db.write() as s:
        assert release_due(s, rt.settings, now=NOW + SCHEDULED_IN - timedelta(seconds=1)) == []
    with rt.db.write() as s:
        released = release_due(s, rt.settings, now=NOW + SCHEDULED_IN)
    assert len(released) == 1
    with rt.db.read() as s:
        story = s.scalar(select(Story).where(Story.code == released[0]))
    assert story.status == "published" and story.published_at == NOW + SCHEDULED_IN
