"""The demo is self-contained: in Debian's chromium, every request the public pages (home, a
channel, story pages with their pictures, a 404) and the admin pages make goes to the service
itself. Each page's requests are recorded from Chrome's DevTools performance log (every
Network.requestWillBeSent, failed ones included) and from the page's own Resource Timing
entries; one request to another origin fails the test. Then an image is uploaded through the
story form in the browser, and the story page shows it, from the service.

Needs /usr/bin/chromium and /usr/bin/chromedriver, like tests/test_admin_browser.py.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select
from werkzeug.serving import make_server

from syndication.app import create_app
from syndication.auth.users import create_user
from syndication.config import load_settings
from syndication.db import Database
from syndication.demo.archive import load_demo
from syndication.models import Channel, Story
from tests.servers import free_port

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.test_admin_browser import chromium_options  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "a long browser password"
ARTIFACTS = Path(__file__).parent / "artifacts"
NOW = datetime(2025, 2, 14, 9, 10, tzinfo=UTC)
# Schemes that never leave the page.
LOCAL_SCHEMES = ("data:", "blob:", "about:", "chrome:", "chrome-extension:", "devtools:")

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """The demo archive on a real threaded HTTP server (SQLite); yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db_path = tmp_path / "instance" / "syndication.db"
    db_path.parent.mkdir(parents=True)
    settings = load_settings(
        {
            "database_url": f"sqlite:///{db_path}",
            "base_url": base,
            "instance_path": str(tmp_path / "instance"),
        },
        environ={},
    )
    db = Database(settings.db_url)
    db.migrate()
    db.dispose()
    app = create_app(settings)
    rt = app.extensions["syndication"]
    assert load_demo(rt.db, settings, now=NOW) is not None
    with rt.db.write() as s:
        create_user(s, "admin", PASSWORD, "admin", NOW)
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base, rt.db
    httpd.shutdown()
    thread.join(5)
    rt.close()


@pytest.fixture
def browser(tmp_path: Path):
    options = chromium_options(tmp_path)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Recorder:
    """Opens pages and records every URL each one requests."""

    def __init__(self, driver, base: str) -> None:
        self.driver, self.base = driver, base
        self.wait = WebDriverWait(driver, 15)

    def _network_log(self) -> list[str]:
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def _settle(self) -> None:
        """Wait for the page and its images (lazy ones included) to finish loading."""
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        self.driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        self.wait.until(
            lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)")
        )

    def visit(self, path: str) -> list[str]:
        """Open `path`; return every URL the page requested (navigation included)."""
        self._network_log()  # drop what earlier pages left
        self.driver.get(self.base + path)
        return self.requests()

    def requests(self) -> list[str]:
        self._settle()
        timed = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        return self._network_log() + list(timed)

    def foreign(self, urls: list[str]) -> list[str]:
        return [
            url
            for url in urls
            if not url.startswith(LOCAL_SCHEMES)
            and not (url == self.base or url.startswith(self.base + "/"))
        ]

    def broken_images(self) -> list[str]:
        return self.driver.execute_script(
            "return Array.from(document.images)"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )


def test_no_page_loads_anything_from_another_origin(demo_server, browser, tmp_path) -> None:
    base, db = demo_server
    with db.read() as s:
        slugs = list(s.scalars(select(Channel.slug).order_by(Channel.slug)))
        published = [
            story
            for story in s.scalars(select(Story).order_by(Story.code))
            if story.status == "published" and story.image  # (a JSON null is not SQL NULL)
        ]
        pictured = [story.code for story in published]
        arabic = next(story.code for story in published if story.language == "ar")
    assert pictured and arabic
    b = Recorder(browser, base)
    found: dict[str, list[str]] = {}
    seen: set[str] = set()

    def check(path: str, *, images: int = 0) -> None:
        urls = b.visit(path)
        seen.update(urls)
        if b.foreign(urls):
            found[path] = b.foreign(urls)
        assert not b.broken_images(), (path, b.broken_images())
        shown = b.driver.find_elements(By.CSS_SELECTOR, "img")
        assert len(shown) >= images, path

    # Public pages: home, every channel, story pages with pictures (English, Arabic), a 404.
    check("/", images=0)
    for slug in slugs:
        check(f"/channels/{slug}")
    for code in (*pictured[:3], arabic):
        check(f"/stories/{code}", images=2)  # its picture and its QR code
    check("/stories/no-such-story")
    check("/api/docs")
    pictures = [u for u in seen if "/media/" in u]
    assert len(pictures) >= 4, "the story pictures were requested, from the service"

    # Admin pages, signed in.
    b.visit("/admin/login")
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    b.wait.until(ec.title_contains("Dashboard"))
    signing_in = b.foreign(b.requests())
    if signing_in:
        found["/admin/login (signing in)"] = signing_in
    for path in (
        "/admin/",
        "/admin/stories",
        "/admin/stories/new",
        f"/admin/stories/{pictured[0]}",
        f"/admin/stories/{arabic}",
        "/admin/channels",
        f"/admin/channels/{slugs[0]}",
        "/admin/links",
        "/admin/tokens",
        "/admin/users",
    ):
        check(path)
    assert not found, f"requests to other origins: {found}"

    # The recorder sees what it must: a story with a picture elsewhere is caught.
    with db.write() as s:
        elsewhere = "http://images.example.invalid/harbour.jpg"
        story = s.scalar(select(Story).where(Story.code == pictured[-1]))
        story.image = {"url": elsewhere}
    # (Seen before: public pages may be cached for feed_max_age. From here on, never.)
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    assert elsewhere in b.foreign(b.visit(f"/stories/{pictured[-1]}"))

    # An image uploaded through the story form in the browser, shown on the story page.
    picture = tmp_path / "upload.png"
    image = Image.new("RGB", (320, 200), (20, 120, 200))
    ImageDraw.Draw(image).ellipse((60, 30, 260, 170), fill=(250, 200, 40))
    image.save(picture)
    b.visit(f"/admin/stories/{pictured[0]}")
    browser.find_element(By.ID, "image_file").send_keys(str(picture))
    browser.find_element(By.CSS_SELECTOR, "form.form button.button-primary").click()
    b.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "img.image-preview")))
    assert browser.find_element(By.ID, "image_width").get_attribute("value") == "320"
    assert browser.find_element(By.ID, "image_type").get_attribute("value") == "image/png"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.find_element(By.CSS_SELECTOR, "fieldset fieldset:nth-of-type(2)").screenshot(
        str(ARTIFACTS / "admin-story-image-uploaded.png")
    )
    urls = b.visit(f"/stories/{pictured[0]}")
    assert not b.foreign(urls) and not b.broken_images()
    figure = browser.find_element(By.CSS_SELECTOR, "figure.story-image img")
    assert figure.get_attribute("src").startswith(base + "/media/")
    assert browser.execute_script("return arguments[0].naturalWidth", figure) == 320
