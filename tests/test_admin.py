"""The web admin through Flask's test client, on SQLite and PostgreSQL: sign-in, every page,
forms that keep what was typed and show errors by their fields, CSRF, roles, channel preview,
the visits chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from syndication.auth.tokens import create_token, list_tokens
from syndication.auth.users import create_user, get_user
from syndication.channels.service import create_channel, get_channel, list_channels
from syndication.links.service import create_link, get_link
from syndication.models import Visit
from syndication.stories.service import create_story, get_story, list_stories

PASSWORD = "correct horse battery"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _user(rt, username: str, role: str) -> None:
    with rt.db.write() as s:
        create_user(s, username, PASSWORD, role, NOW)


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _login(client, username: str) -> str:
    """Sign in; return the session's CSRF token."""
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return _csrf_of(client.get("/admin/").get_data(as_text=True))


@pytest.fixture
def admin(client, rt) -> str:
    _user(rt, "root", "admin")
    return _login(client, "root")


@pytest.fixture
def content(rt):
    """A channel, a published story with its News Link, a draft, a scheduled story, a link
    with visits by link and by QR scan, humans and bots."""
    now = rt.clock()
    with rt.db.write() as s:
        create_channel(
            s, {"slug": "harbour", "title": "Harbour", "filter": {"tags": ["tide"]}}, now=now
        )
        create_story(
            s, rt.settings, {"code": "p1", "title": "Tide tables out", "tags": ["tide"]},
            now=now, default_status="published",
        )  # fmt: skip
        create_story(s, rt.settings, {"code": "d1", "title": "Draft about tides"}, now=now)
        create_story(
            s, rt.settings,
            {"code": "s1", "title": "Later", "status": "scheduled",
             "publish_at": (now + timedelta(days=1)).isoformat()},
            now=now,
        )  # fmt: skip
        link = create_link(s, {"url": "https://example.org/x", "slug": "promo"}, now=now)
        link.human_visits = 3
        for i, (medium, bot) in enumerate(
            [("link", False), ("qr", False), ("qr", False), ("link", True)]
        ):
            s.add(Visit(link_id=link.id, at=now - timedelta(days=i), medium=medium, is_bot=bot))


def test_admin_pages_need_sign_in(client):
    # Opening a page (the admin URL `run` prints, a bookmark): the sign-in form, then back.
    response = client.get("/admin/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/login?next=/admin/"
    assert response.headers["Cache-Control"] == "private, no-store"
    response = client.get("/admin/stories?status=draft")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/login?next=/admin/stories?status%3Ddraft"
    # Anything else is refused, with a page that links to the sign-in form.
    response = client.post("/admin/stories/new", data={"title": "x"})
    assert response.status_code == 401
    assert "/admin/login" in response.get_data(as_text=True)


def test_every_page_renders_for_an_admin(client, rt, admin, content):
    with rt.db.write() as s:
        create_token(s, "import job", "editor", NOW)
    pages = {
        "/admin/": ["Dashboard", "Tide tables out", "Later", "promo"],
        "/admin/stories": ["Tide tables out", "Draft about tides"],
        "/admin/stories?q=tide&status=draft": ["Draft about tides"],
        "/admin/stories/new": ["New story", 'name="publish_at"'],
        "/admin/stories/p1": ["Story Code", "/s/", "/qr.svg"],
        "/admin/stories/p1/retract": ["Retract story p1?"],
        "/admin/stories/d1/publish": ["Publish story d1?"],
        "/admin/stories/d1/delete": ["Delete story d1?"],
        "/admin/channels": ["http://news.example.test/feeds/harbour.rss", "feeds.opml"],
        "/admin/channels/new": ["New channel"],
        "/admin/channels/harbour": ["Harbour", "feeds/harbour.atom"],
        "/admin/channels/harbour?format=json": ["Tide tables out", "Findings"],
        "/admin/channels/harbour/delete": ["Delete channel harbour?"],
        "/admin/links": ["promo", "https://example.org/x"],
        "/admin/links/new": ["New link"],
        "/admin/links/promo": ["/s/promo"],
        "/admin/links/promo/delete": ["Delete link promo?"],
        "/admin/links/promo/stats": ["<svg", "Statistics of"],
        "/admin/tokens": ["import job", "syn_"],
        "/admin/users": ["root"],
    }
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        text = response.get_data(as_text=True)
        for needle in expected:
            assert needle in text, (path, needle)
    stories_page = client.get("/admin/stories?q=tide&status=draft").get_data(as_text=True)
    assert "Tide tables out" not in stories_page


def test_story_create_keeps_input_and_shows_errors_by_field(client, rt, admin):
    response = client.post(
        "/admin/stories/new",
        data={
            "csrf_token": admin,
            "title": "",
            "summary": "A lead kept",
            "tags": "one, two",
            "language": "not a language!",
            "image_url": "ftp://nope",
            "status": "scheduled",
            "publish_at": "tomorrow",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("title", "language", "image_url", "publish_at"):
        assert f'id="{field}-error"' in page, field
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', page), field
    assert "A lead kept" in page and 'value="one, two"' in page
    assert 'value="tomorrow"' in page and 'value="ftp://nope"' in page
    assert 'href="#title"' in page  # the summary links to the field
    with rt.db.read() as s:
        assert list_stories(s, {})[0] == []


def test_story_life_cycle(client, rt, admin, content):
    response = client.post(
        "/admin/stories/new",
        data={
            "csrf_token": admin,
            "title": "Harbour reopens",
            "body_html": "<p>Boats <script>x()</script>back</p>",
            "tags": "tide, harbour",
            "section": "Local",
            "image_url": "https://img.example.org/a.jpg",
            "image_width": "640",
            "status": "scheduled",
            "publish_at": "2030-06-01T09:30",
        },
    )
    assert response.status_code == 303
    code = response.headers["Location"].rsplit("/", 1)[1]
    with rt.db.read() as s:
        story = get_story(s, code)
        assert story.status == "scheduled" and story.tags == ["tide", "harbour"]
        assert story.image == {"url": "https://img.example.org/a.jpg", "width": 640}
        # 09:30 in Europe/London in June is 08:30 UTC
        assert story.publish_at == datetime(2030, 6, 1, 8, 30, tzinfo=UTC)
        assert "<script>" not in story.body_html
    page = client.get(f"/admin/stories/{code}").get_data(as_text=True)
    assert 'value="2030-06-01T09:30"' in page
    assert (
        client.post(f"/admin/stories/{code}/publish", data={"csrf_token": admin}).status_code == 303
    )
    page = client.get(f"/admin/stories/{code}").get_data(as_text=True)
    assert "published" in page and "/qr.svg" in page and "News Link" in page
    assert client.get(f"/stories/{code}").status_code == 200
    client.post(f"/admin/stories/{code}/retract", data={"csrf_token": admin})
    with rt.db.read() as s:
        assert get_story(s, code).status == "retracted"
    # Only drafts can be deleted: the service's refusal comes back as a message.
    response = client.post("/admin/stories/p1/delete", data={"csrf_token": admin})
    assert response.status_code == 303
    assert "only drafts" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.post("/admin/stories/d1/delete", data={"csrf_token": admin}).status_code == 303
    with rt.db.read() as s:
        assert [x.code for x in list_stories(s, {"status": "draft"})[0]] == []


def test_csrf_is_required(client, rt, admin):
    response = client.post("/admin/stories/new", data={"title": "No token"})
    assert response.status_code == 400
    response = client.post("/admin/stories/new", data={"title": "Bad", "csrf_token": "x" * 43})
    assert response.status_code == 400
    with rt.db.read() as s:
        assert list_stories(s, {})[0] == []


def test_reader_can_view_but_not_change(client, rt, content):
    _user(rt, "rita", "reader")
    csrf = _login(client, "rita")
    page = client.get("/admin/stories/p1").get_data(as_text=True)
    assert "<fieldset disabled" in page and "Retract…" not in page and "Save story" not in page
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "New story" not in dashboard and "/admin/tokens" not in dashboard
    assert client.get("/admin/channels/harbour").status_code == 200
    for path, data in [
        ("/admin/stories/new", {"title": "x"}),
        ("/admin/stories/p1", {"title": "x"}),
        ("/admin/stories/p1/retract", {}),
        ("/admin/channels/harbour", {"title": "x"}),
        ("/admin/channels/new/preview", {"title": "x"}),
        ("/admin/links/promo/delete", {}),
        ("/admin/tokens", {"name": "x", "role": "admin"}),
        ("/admin/users", {"username": "x", "role": "admin"}),
    ]:
        assert client.post(path, data={**data, "csrf_token": csrf}).status_code == 403, path
    for path in ("/admin/tokens", "/admin/users", "/admin/stories/new", "/admin/channels/new"):
        assert client.get(path).status_code == 403, path
    with rt.db.read() as s:
        assert get_story(s, "p1").status == "published"


def test_editor_changes_stories_and_links_not_channels(client, rt, content):
    _user(rt, "eddie", "editor")
    csrf = _login(client, "eddie")
    page = client.get("/admin/channels/harbour").get_data(as_text=True)
    assert "Save channel" not in page
    assert (
        client.post(
            "/admin/links/promo", data={"csrf_token": csrf, "url": "https://example.org/y"}
        ).status_code
        == 303
    )
    assert (
        client.post("/admin/channels/harbour", data={"csrf_token": csrf, "title": "X"}).status_code
        == 403
    )
    assert client.get("/admin/users").status_code == 403


def test_channel_preview_does_not_save(client, rt, admin, content):
    form = {
        "csrf_token": admin,
        "slug": "tides",
        "title": "Tides",
        "filter_tags": "tide",
        "formats": ["rss", "atom", "json"],
        "content": "summary",
    }
    response = client.post("/admin/channels/new/preview?format=atom", data=form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Tide tables out" in page and "&lt;feed" in page and "Findings" in page
    assert 'value="tides"' in page and 'value="summary" checked' in page
    with rt.db.read() as s:
        assert [c.slug for c in list_channels(s)] == ["harbour"]
    # Editing: preview a changed filter, the stored one stays.
    response = client.post(
        "/admin/channels/harbour/preview?format=json",
        data={**form, "filter_tags": "nothing-matches"},
    )
    assert response.status_code == 200 and "Tide tables out" not in response.get_data(as_text=True)
    with rt.db.read() as s:
        assert get_channel(s, "harbour").filter == {"tags": ["tide"]}
    # A bad filter in a preview: errors by the fields, nothing saved.
    response = client.post(
        "/admin/channels/new/preview?format=rss", data={**form, "filter_languages": "!!"}
    )
    assert response.status_code == 422
    assert 'id="filter_languages-error"' in response.get_data(as_text=True)


def test_channel_create_and_edit(client, rt, admin):
    response = client.post(
        "/admin/channels/new",
        data={"csrf_token": admin, "slug": "Bad Slug", "title": "", "limit": "many"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("slug", "title", "limit"):
        assert f'id="{field}-error"' in page, field
    assert 'value="Bad Slug"' in page and 'value="many"' in page
    response = client.post(
        "/admin/channels/new",
        data={
            "csrf_token": admin, "slug": "world", "title": "World",
            "filter_sections": "World, Europe", "formats": ["rss", "json"], "limit": "20",
        },
    )  # fmt: skip
    assert response.status_code == 303
    client.post(
        "/admin/channels/world",
        data={"csrf_token": admin, "title": "World news", "formats": ["atom"], "content": "full"},
    )
    with rt.db.read() as s:
        channel = get_channel(s, "world")
        assert channel.title == "World news" and channel.formats == ["atom"]
        assert channel.filter == {}
        assert channel.limit is None


def test_links_create_edit_delete(client, rt, admin):
    response = client.post(
        "/admin/links/new",
        data={
            "csrf_token": admin,
            "url": "not a url",
            "slug": "x",
            "max_visits": "0",
            "tags": "a, b",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("url", "slug", "max_visits"):
        assert f'id="{field}-error"' in page, field
    assert 'value="a, b"' in page
    response = client.post(
        "/admin/links/new",
        data={
            "csrf_token": admin, "url": "https://example.org/sale", "slug": "sale",
            "valid_until": "2030-01-01T00:00", "max_visits": "100",
        },
    )  # fmt: skip
    assert response.status_code == 303
    with rt.db.read() as s:
        link = get_link(s, "sale")
        assert link.max_visits == 100 and link.valid_until == datetime(2030, 1, 1, tzinfo=UTC)
    response = client.post(
        "/admin/links/new", data={"csrf_token": admin, "url": "https://a.org", "slug": "SALE"}
    )
    assert response.status_code == 409 and "is taken" in response.get_data(as_text=True)
    assert client.post("/admin/links/sale/delete", data={"csrf_token": admin}).status_code == 303
    assert client.get("/admin/links/sale").status_code == 404


def test_link_stats_chart(client, admin, content):
    page = client.get("/admin/links/promo/stats?days=7").get_data(as_text=True)
    # Each chart in two drawings, wide and narrow (CSS shows one by the screen's width).
    assert page.count('<svg class="chart chart-wide"') == 2
    assert page.count('<svg class="chart chart-narrow"') == 2
    assert '<title id="chart-medium-title">' in page and "<desc" in page
    assert '<title id="chart-medium-narrow-title">' in page
    assert 'class="s-qr"' in page and 'class="s-bot"' in page
    assert "QR scans: 2" in page  # the description sums each series
    assert "<table" in page and "Visits per day" in page


def test_dashboard_says_what_visits_there_are(client, rt, admin):
    """The dashboard says "No visits counted yet" only when there are none, bots included."""
    now = rt.clock()
    with rt.db.write() as s:
        link = create_link(s, {"url": "https://example.org/y", "slug": "crawled"}, now=now)
        link_id = link.id
    assert "No visits counted yet." in client.get("/admin/").get_data(as_text=True)
    with rt.db.write() as s:
        for medium in ("link", "qr"):
            s.add(Visit(link_id=link_id, at=now, medium=medium, is_bot=True))
    page = client.get("/admin/").get_data(as_text=True)
    assert "No visits counted yet." not in page
    assert "No human visits yet; 2 bot visits counted" in page
    with rt.db.write() as s:
        s.add(Visit(link_id=link_id, at=now, medium="link", is_bot=False))
        get_link(s, "crawled").human_visits = 1
    page = client.get("/admin/").get_data(as_text=True)
    assert "bot visits counted" not in page and "/admin/links/crawled/stats" in page


def test_tokens_and_users(client, rt, admin):
    response = client.post(
        "/admin/tokens", data={"csrf_token": admin, "name": "feed bot", "role": "reader"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    plaintext = re.search(r'value="(syn_[A-Za-z0-9_-]{43})"', page)[1]
    assert response.headers["Cache-Control"] == "no-store"
    assert plaintext not in client.get("/admin/tokens").get_data(as_text=True)
    response = client.post(
        "/admin/tokens", data={"csrf_token": admin, "name": "", "role": "reader"}
    )
    assert response.status_code == 422 and 'id="name-error"' in response.get_data(as_text=True)
    with rt.db.read() as s:
        token_id = list_tokens(s)[0].id
    client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": admin})
    with rt.db.read() as s:
        assert list_tokens(s)[0].revoked_at is not None

    response = client.post(
        "/admin/users",
        data={"csrf_token": admin, "username": "newbie", "role": "editor",
              "password": "long enough pw", "password2": "different"},
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="password2-error"' in page and 'value="newbie"' in page
    assert "long enough pw" not in page  # passwords are never sent back
    response = client.post(
        "/admin/users",
        data={"csrf_token": admin, "username": "newbie", "role": "editor",
              "password": "long enough pw", "password2": "long enough pw"},
    )  # fmt: skip
    assert response.status_code == 303
    client.post("/admin/users/newbie/disable", data={"csrf_token": admin, "disable": "1"})
    with rt.db.read() as s:
        assert get_user(s, "newbie").disabled_at is not None
    client.post("/admin/users/root/disable", data={"csrf_token": admin, "disable": "1"})
    with rt.db.read() as s:
        assert get_user(s, "root").disabled_at is None  # not yourself
