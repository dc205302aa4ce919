"""The web admin in a real browser: Debian's chromium driven by Selenium, against the app served
by a real HTTP server in a thread (SQLite).

Signs in, creates a channel, creates and publishes a story, finds it in the channel preview and
in the channel's RSS feed, opens its story page and its QR image. Saves a screenshot of every
admin page under tests/artifacts/ (gitignored) for people to look at.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian: chromium, chromium-driver; .ci/run
installs them) and the selenium package (the test extra); skipped when they are missing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from syndication.app import create_app
from syndication.auth.users import create_user
from syndication.config import load_settings
from syndication.db import Database
from syndication.runtime import Runtime
from tests.servers import free_port

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "a long browser password"

# CI (.ci/run) installs the browser, so there a missing one fails instead of skipping.
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@contextmanager
def serve_admin(tmp_path: Path, wrap=lambda app: app) -> Iterator[tuple[str, Runtime]]:
    """The app (through `wrap`, a WSGI middleware) on a real threaded HTTP server with a
    migrated SQLite file and an admin user; yields its base URL and its runtime."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db_path = tmp_path / "instance" / "syndication.db"
    db_path.parent.mkdir(parents=True)
    db = Database(f"sqlite:///{db_path}")
    db.migrate()
    db.dispose()
    settings = load_settings(
        {
            "database_url": f"sqlite:///{db_path}",
            "base_url": base,
            "instance_path": str(tmp_path / "instance"),
            "timezone": "Europe/London",
        },
        environ={},
    )
    app = create_app(settings)
    rt = app.extensions["syndication"]
    with rt.db.write() as s:
        create_user(s, "admin", PASSWORD, "admin", datetime.now(UTC))
    httpd = make_server("127.0.0.1", port, wrap(app), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, rt
    finally:
        httpd.shutdown()
        thread.join(5)
        rt.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    """The app on a real threaded HTTP server (serve_admin); yields its base URL and its
    runtime (for tests that set up content through the services)."""
    with serve_admin(tmp_path) as base_and_runtime:
        yield base_and_runtime


@pytest.fixture
def server(served: tuple[str, Runtime]) -> str:
    return served[0]


def chromium_options(tmp_path: Path) -> webdriver.ChromeOptions:
    """Headless Debian chromium with a throwaway profile, as every browser test starts it."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    return options


@pytest.fixture
def browser(tmp_path: Path):
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chromium_options(tmp_path))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Session:
    """Small helpers over the driver: go, fill, click, screenshot."""

    def __init__(self, driver, base: str) -> None:
        self.driver, self.base = driver, base
        self.wait = WebDriverWait(driver, 10)
        ARTIFACTS.mkdir(exist_ok=True)

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def fill(self, field_id: str, value: str) -> None:
        element = self.driver.find_element(By.ID, field_id)
        element.clear()
        element.send_keys(value)

    def click(self, css: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def text(self) -> str:
        """The page's text, read again if a navigation replaced the body under us."""
        for _ in range(20):
            try:
                return self.driver.find_element(By.TAG_NAME, "body").text
            except StaleElementReferenceException:
                time.sleep(0.1)
        return self.driver.find_element(By.TAG_NAME, "body").text

    def shot(self, name: str) -> None:
        """A full-page screenshot: the window is stretched to the page's height first."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, min(max(height + 120, 600), 6000))
        self.driver.save_screenshot(str(ARTIFACTS / f"admin-{name}.png"))
        self.driver.set_window_size(width, 1000)

    def image_loaded(self, css: str) -> bool:
        image = self.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))
        self.wait.until(lambda d: d.execute_script("return arguments[0].complete", image))
        return self.driver.execute_script("return arguments[0].naturalWidth", image) > 0


def test_admin_in_a_real_browser(server: str, browser) -> None:
    b = Session(browser, server)

    # Not signed in: the sign-in form, which comes back to the page asked for.
    b.go("/admin/")
    b.wait.until(ec.url_contains("/admin/login?next="))
    b.wait.until(ec.presence_of_element_located((By.ID, "username")))
    b.shot("login")
    b.fill("username", "admin")
    b.fill("password", PASSWORD)
    b.click("form.form button[type=submit]")
    b.wait.until(ec.title_contains("Dashboard"))
    b.shot("dashboard")

    # A channel of stories tagged "tide".
    b.go("/admin/channels/new")
    b.fill("slug", "harbour")
    b.fill("title", "Harbour news")
    b.fill("filter_tags", "tide")
    b.click("form.form button.button-primary")
    b.wait.until(ec.url_contains("/admin/channels/harbour"))
    assert "Channel harbour created." in b.text()

    # A story: first a form error, the typed values kept; then a valid draft.
    b.go("/admin/stories/new")
    b.fill("summary", "Tide tables for the spring are out.")
    b.click("form.form button.button-primary")
    b.wait.until(ec.presence_of_element_located((By.ID, "title-error")))
    assert b.driver.find_element(By.ID, "summary").get_attribute("value").startswith("Tide tables")
    b.shot("story-form-errors")
    b.fill("title", "Spring tide tables published")
    b.click("button.editor-toggle")  # the rich-text editor's HTML view: the plain textarea
    b.fill("body_html", "<p>High water at <strong>06:12</strong> on Monday.</p>")
    b.fill("tags", "tide, harbour")
    b.fill("section", "Local")
    b.click("form.form button.button-primary")
    # Still on /admin/stories/new until the browser has followed the redirect.
    b.wait.until(ec.url_matches(r"/admin/stories/(?!new$)[^/]+$"))
    code = b.driver.current_url.rsplit("/", 1)[1]
    assert "created" in b.text()

    # Publish, through the confirmation page.
    b.driver.find_element(By.PARTIAL_LINK_TEXT, "Publish now").click()
    b.wait.until(ec.title_contains("Publish story"))
    b.shot("confirm-publish")
    b.click("form.actions button[type=submit]")
    b.wait.until(ec.url_matches(rf"/admin/stories/{code}$"))
    assert f"Story {code} published." in b.text()
    assert b.image_loaded("section.story-facts img.qr"), "the QR image on the edit page"
    b.shot("story-edit")

    # The story in the channel's preview (a draft filter; nothing saved) and in its RSS feed.
    b.go("/admin/channels/harbour")
    b.fill("description", "Tides, boats and the harbour")
    b.click("button[name=preview][value=rss]")
    pre = b.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "pre.feed-source")))
    assert "Spring tide tables published" in pre.text
    assert "Tides, boats and the harbour" in pre.text
    b.shot("channel-preview")
    b.go("/feeds/harbour.rss")
    assert "Spring tide tables published" in b.driver.page_source
    assert "Tides, boats and the harbour" not in b.driver.page_source  # the preview saved nothing

    # The public story page and its QR image; then a visit through the News Link.
    b.go(f"/stories/{code}")
    assert "Story Code" in b.text() and code in b.text()
    assert b.image_loaded("img.qr"), "the QR image on the story page"
    short = b.driver.find_element(By.CSS_SELECTOR, "a.news-link").get_attribute("href")
    b.driver.get(short)
    b.wait.until(ec.url_contains(f"/stories/{code}"))
    b.go(short.removeprefix(server) + "/qr.svg")  # the image on its own: an SVG document
    assert b.driver.execute_script("return document.documentElement.localName") == "svg"
    width = b.driver.execute_async_script(
        "const done = arguments[1], img = new Image();"
        "img.onload = () => done(img.naturalWidth); img.onerror = () => done(0);"
        "img.src = arguments[0];",
        short + "/qr.png",
    )
    assert width > 0, "the PNG QR image"

    # Every other admin page, for the screenshots (and to see each renders).
    b.go("/admin/links/new")
    b.fill("url", "https://example.org/spring-sale")
    b.fill("slug", "spring")
    b.click("form.form button.button-primary")
    b.wait.until(ec.url_contains("/admin/links/spring"))
    b.shot("link-edit")
    short_code = short.rsplit("/", 1)[1]
    pages = {
        "stories": ("/admin/stories", "Stories"),
        "story-new": ("/admin/stories/new", "New story"),
        "channels": ("/admin/channels", "Harbour news"),
        "channel-new": ("/admin/channels/new", "New channel"),
        "links": ("/admin/links", "spring"),
        "link-stats": (f"/admin/links/{short_code}/stats", "Visits per day"),
        "tokens": ("/admin/tokens", "New token"),
        "users": ("/admin/users", "New user"),
        "dashboard-after": ("/admin/", "Spring tide tables published"),
    }
    for name, (path, expected) in pages.items():
        b.go(path)
        assert expected in b.text(), path
        b.shot(name)
    b.go(f"/admin/links/{short_code}/stats")
    shown = [c for c in b.driver.find_elements(By.CSS_SELECTOR, "svg.chart") if c.is_displayed()]
    assert len(shown) == 2  # the wide drawings at 1280 px (the narrow ones are for phones)

    # A token: shown once.
    b.go("/admin/tokens")
    b.fill("name", "browser test")
    b.click("form.form button.button-primary")
    token = b.wait.until(ec.presence_of_element_located((By.ID, "token")))
    assert token.get_attribute("value").startswith("syn_")
    b.shot("token-created")

    # Narrow screen: the layout still fits.
    b.driver.set_window_size(390, 900)
    b.go(f"/admin/stories/{code}")
    overflow = b.driver.execute_script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    b.driver.save_screenshot(str(ARTIFACTS / "admin-story-edit-narrow.png"))
    assert not overflow, "the story page scrolls sideways on a narrow screen"
