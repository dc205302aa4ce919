"""The story body's rich-text editor without a browser, on SQLite and PostgreSQL: the form is
still the plain textarea that works without JavaScript, what comes in through that field is
sanitised exactly as the API's bodies are, and the vendored Trix files are served by the service
with their content types. (In a browser: tests/test_admin_editor_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syndication.stories.service import create_story, get_story
from tests.test_admin import _login, _user, admin  # noqa: F401

STATIC = Path(__file__).parent.parent / "syndication" / "static"
ASSETS = {
    "/static/vendor/trix/trix.umd.min.js": "text/javascript",
    "/static/vendor/trix/trix.css": "text/css",
    "/static/admin-editor.js": "text/javascript",
    "/static/admin-editor.css": "text/css",
}

# What anyone can post through the editor's field, the editor or not: Trix's own markup
# (attachments as figures with JSON in data attributes) around the usual attacks.
HOSTILE = (
    '<div onclick="steal()">High water <strong>06:12</strong>'
    "<script>alert(1)</script><style>body{display:none}</style></div>"
    '<a href="javascript:alert(2)">js</a> <a href=" java\tscript:alert(3)">tab</a>'
    '<figure data-trix-attachment=\'{"url":"javascript:alert(4)"}\' data-trix-content-type="x">'
    '<img src="/x.png" onerror="alert(5)"><figcaption>cap</figcaption></figure>'
    '<iframe src="https://evil.example/"></iframe><form action="/x"><input name="a"></form>'
    "<trix-editor contenteditable>inner</trix-editor><svg><script>alert(6)</script></svg>"
    '<a href="/about">about</a>'
)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_story_form_without_javascript_is_the_plain_textarea(client, rt, admin):
    page = client.get("/admin/stories/new").get_data(as_text=True)
    field = re.search(r'<div class="field[^"]*rich-text[^"]*">.*?</div>', page, re.S)[0]
    assert '<textarea id="body_html" name="body_html"' in field
    assert "Body (HTML)" in field  # the label says what the textarea takes
    # The editor's files: from the service, deferred, none inline.
    for path in ASSETS:
        assert f'"http://news.example.test{path}"' in page, path
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<trix-editor" not in page  # made by the script, never sent

    body = "<h2>Tides</h2><p>High water at <strong>06:12</strong>, see <em>tables</em>.</p>"
    response = client.post(
        "/admin/stories/new",
        data={"csrf_token": admin, "title": "Tides", "body_html": body},
    )
    assert response.status_code == 303
    code = response.headers["Location"].rsplit("/", 1)[1]
    with rt.db.read() as s:
        assert get_story(s, code).body_html == body

    # Edited again through the same field; then the same post again changes nothing.
    edited = body + "<blockquote><p>Quoted</p></blockquote><ul><li>one</li></ul>"
    for expected_flash in ("Story saved.", "Nothing changed."):
        response = client.post(
            f"/admin/stories/{code}",
            data={"csrf_token": admin, "title": "Tides", "body_html": edited},
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert expected_flash in response.get_data(as_text=True)
    with rt.db.read() as s:
        assert get_story(s, code).body_html == edited
    page = client.get(f"/admin/stories/{code}").get_data(as_text=True)
    assert "&lt;blockquote&gt;&lt;p&gt;Quoted" in page  # the textarea holds the HTML, escaped


def test_hostile_html_through_the_editor_field_is_sanitised_as_before(client, rt, admin):
    response = client.post(
        "/admin/stories/new",
        data={"csrf_token": admin, "title": "Hostile", "body_html": HOSTILE},
    )
    assert response.status_code == 303
    code = response.headers["Location"].rsplit("/", 1)[1]
    with rt.db.write() as s:
        stored = get_story(s, code).body_html
        # The same cleaning as a body that never went near the admin (the service, as the API).
        reference = create_story(
            s, rt.settings, {"code": "ref", "title": "Ref", "body_html": HOSTILE}, now=rt.clock()
        ).body_html
    assert stored == reference
    lowered = stored.lower()
    for gone in (
        "<script", "alert(", "<style", "onclick", "onerror", "javascript", "<iframe", "<form",
        "<input", "data-trix", "<trix-editor", "contenteditable",
    ):  # fmt: skip
        assert gone not in lowered, gone
    assert "<strong>06:12</strong>" in stored
    assert '<a href="http://news.example.test/about" rel="noopener noreferrer">about</a>' in stored
    assert '<img src="http://news.example.test/x.png">' in stored  # made absolute, handler gone

    # The public page shows the cleaned body, nothing more.
    client.post(f"/admin/stories/{code}/publish", data={"csrf_token": admin})
    public = client.get(f"/stories/{code}").get_data(as_text=True)
    assert "<strong>06:12</strong>" in public and "alert(" not in public


def test_oversized_or_too_deep_body_is_refused_by_its_field_and_nothing_saved(client, rt, admin):
    too_long = "<p>" + "x" * rt.settings.body_max + "</p>"
    too_deep = "<div>" * (rt.settings.html_max_depth + 1) + "x"
    for body in (too_long, too_deep):
        response = client.post(
            "/admin/stories/new",
            data={"csrf_token": admin, "title": "Big", "body_html": body},
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert 'id="body_html-error"' in page and 'value="Big"' in page
    with rt.db.read() as s:
        from syndication.stories.service import list_stories

        assert list_stories(s, {})[0] == []


def test_a_reader_gets_the_html_read_only_and_no_editor(client, rt):
    _user(rt, "rita", "reader")
    _login(client, "rita")
    with rt.db.write() as s:
        create_story(s, rt.settings, {"code": "r1", "title": "R", "body_html": "<p>x</p>"},
                     now=rt.clock())  # fmt: skip
    page = client.get("/admin/stories/r1").get_data(as_text=True)
    assert "<fieldset disabled" in page and '<textarea id="body_html"' in page
    assert "trix" not in page and "admin-editor" not in page


@pytest.mark.parametrize(("path", "content_type"), ASSETS.items())
def test_editor_assets_are_served_by_the_service_with_their_types(client, path, content_type):
    response = client.get(path)  # public, like every static file: the login page needs none
    assert response.status_code == 200
    assert response.mimetype == content_type
    assert response.get_data() == (STATIC / path.removeprefix("/static/")).read_bytes()


def test_vendored_trix_is_the_version_its_readme_names():
    readme = (STATIC / "vendor" / "trix" / "README").read_text()
    version = re.search(r"npm pack trix@(\S+)", readme)[1]
    banner = (STATIC / "vendor" / "trix" / "trix.umd.min.js").read_text()[:200]
    assert f"Trix {version}" in banner
    license_text = (STATIC / "vendor" / "trix" / "LICENSE").read_text()
    assert "Permission is hereby granted, free of charge" in license_text  # MIT
