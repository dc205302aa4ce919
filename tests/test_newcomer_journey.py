"""Issue 13's done-criterion, end to end: a newcomer who reads only the README reaches a
signed-in admin and a published story with an uploaded image, in English and in Arabic, without
an error.

Followed as README.md tells it ("The two commands", "Web admin"): `syndication run --demo` (the
venv's interpreter, a throwaway SYNDICATION_HOME, a free port on 127.0.0.1); the admin URL and
the one-time password are read from its start-up output; then, in Debian's chromium, the printed
admin URL, the sign-in, a story typed into the form (title, a body typed into the rich-text
editor, a JPEG chosen in *Upload an image*, caption, a section its channel selects), *Publish
now…* through the confirmation page, and the story's public page: its picture served by the
service, its News Link and QR code; the Arabic story's page in Arabic, right to left.

"Without an error": every page's requests are recorded from Chrome's DevTools performance log
(tests/test_demo_browser.py's Recorder) and the test fails on any 4xx/5xx response, any failed
request, any request to another origin, any SEVERE entry of the browser console and any error
shown in the admin (an error flash or an error summary). Screenshots of the final public pages
are kept under tests/artifacts/screenshots/journey/ (gitignored; CI keeps the folder).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.servers import free_port
from tests.test_admin_browser import ARTIFACTS
from tests.test_demo_browser import Recorder, browser, pytestmark  # noqa: F401  (fixture, skip)
from tests.test_first_run import _env, _start, _stop

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

SHOTS = ARTIFACTS / "screenshots" / "journey"
ROOT = Path(__file__).resolve().parent.parent


class Journey(Recorder):
    """The Recorder, also keeping each response's status, failed requests and console errors,
    and checking every page the newcomer sees for them and for errors shown in the admin."""

    def __init__(self, driver, base: str) -> None:
        super().__init__(driver, base)
        self.bad: list[str] = []  # status >= 400 and failed loads, with the URL
        self.sent: dict[str, str] = {}  # request id: URL, of the pages opened here
        # What the browser did before the first page (its start-up tab) is not the service's.
        driver.get("about:blank")
        driver.get_log("performance")
        driver.get_log("browser")

    def _network_log(self) -> list[str]:
        """Every URL requested since the last call (as the Recorder's), noting bad answers."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message["params"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(params["request"]["url"])
                self.sent[params["requestId"]] = params["request"]["url"]
            elif message["method"] == "Network.responseReceived":
                response = params["response"]
                if response["status"] >= 400:
                    self.bad.append(f"{response['status']} {response['url']}")
            elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
                url = self.sent.get(params["requestId"])
                if url is not None:  # (the start-up tab's own requests end after it)
                    self.bad.append(f"failed ({params.get('errorText')}) {url}")
        return urls

    def check(self, where: str, urls: list[str]) -> None:
        """Fail on anything the newcomer would see as, or the browser counts as, an error."""
        console = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE"
        ]
        shown = [
            element.text
            for element in self.driver.find_elements(
                By.CSS_SELECTOR, ".flash-error, .error-summary, .form-error, .field-error"
            )
        ]
        assert not self.bad, (where, self.bad)
        assert not self.foreign(urls), (where, self.foreign(urls))
        assert not console, (where, console)
        assert not shown, (where, shown)
        assert not self.broken_images(), (where, self.broken_images())

    def open(self, url: str) -> None:
        """Open `url` (absolute, as printed or linked) and check the page."""
        self._network_log()
        self.driver.get(url)
        self.check(url, self.requests())

    def submit(self, css: str, lands_on: str) -> None:
        """Click the submit button at `css`; wait for the page whose URL matches `lands_on`."""
        self._network_log()
        self.driver.find_element(By.CSS_SELECTOR, css).click()
        self.wait.until(ec.url_matches(lands_on))
        self.check(lands_on, self.requests())

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def shot(self, name: str) -> None:
        """A full-page screenshot: the window is stretched to the page's height first."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.execute_script("window.scrollTo(0, 0)")  # (the recorder scrolled down)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(max(height + 120, 600), 6000))
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))
        self.driver.set_window_size(1280, 1000)


def _picture(path: Path, colour: tuple[int, int, int]) -> Path:
    """A real JPEG, as a camera would leave one on disk."""
    image = Image.new("RGB", (640, 400), colour)
    ImageDraw.Draw(image).ellipse((160, 60, 480, 340), fill=(250, 200, 40))
    image.save(path, "JPEG", quality=85)
    return path


def _publish_a_story(j: Journey, admin: str, story: dict[str, str], picture: Path) -> str:
    """Create the story in the admin's form, publish it; returns its public page's URL."""
    driver = j.driver
    j.open(f"{admin}stories")
    driver.find_element(By.LINK_TEXT, "New story").click()
    j.wait.until(ec.title_contains("New story"))
    j.check("new story", j.requests())
    driver.find_element(By.ID, "title").send_keys(story["title"])
    editor = j.wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "trix-editor")))
    editor.click()
    editor.send_keys(story["body"])
    body = driver.find_element(By.ID, "body_html").get_attribute("value")
    assert story["body"] in body, body  # the editor writes into the form's field
    driver.find_element(By.ID, "image_file").send_keys(str(picture))
    driver.find_element(By.ID, "image_caption").send_keys(story["caption"])
    driver.find_element(By.ID, "section").send_keys(story["section"])
    language = driver.find_element(By.ID, "language")
    language.clear()
    language.send_keys(story["language"])
    j.submit("form.form button.button-primary", r"/admin/stories/(?!new$)[^/?#]+$")
    code = driver.current_url.rsplit("/", 1)[1]
    assert f"Story {code} created." in j.text()
    # The upload filled the image fields and shows the picture, from the service.
    assert driver.find_element(By.ID, "image_type").get_attribute("value") == "image/jpeg"
    assert driver.find_element(By.ID, "image_width").get_attribute("value") == "640"
    preview = driver.find_element(By.CSS_SELECTOR, "img.image-preview")
    assert preview.get_attribute("src").startswith(j.base + "/media/")

    driver.find_element(By.PARTIAL_LINK_TEXT, "Publish now").click()
    j.wait.until(ec.title_contains("Publish story"))
    j.check("publish confirmation", j.requests())
    j.submit("form.actions button[type=submit]", rf"/admin/stories/{code}$")
    assert f"Story {code} published." in j.text()
    facts = driver.find_element(By.CSS_SELECTOR, "section.story-facts")
    assert (
        facts.find_element(By.CSS_SELECTOR, "a.mono")
        .get_attribute("href")
        .startswith(j.base + "/s/")
    )
    return facts.find_element(By.CSS_SELECTOR, "dd a").get_attribute("href")


def _public_page(j: Journey, url: str, story: dict[str, str]) -> None:
    """The story's public page as a reader gets it."""
    driver = j.driver
    j.open(url)
    assert driver.find_element(By.TAG_NAME, "h1").text == story["title"]
    assert story["body"] in driver.find_element(By.CSS_SELECTOR, ".story-body").text
    picture = driver.find_element(By.CSS_SELECTOR, "figure.story-image img")
    assert picture.get_attribute("src").startswith(j.base + "/media/")
    assert driver.execute_script("return arguments[0].naturalWidth", picture) == 640
    caption = driver.find_element(By.CSS_SELECTOR, "figure.story-image figcaption")
    assert caption.text == story["caption"]
    link = driver.find_element(By.CSS_SELECTOR, "a.news-link").get_attribute("href")
    assert link.startswith(j.base + "/s/")
    qr = driver.find_element(By.CSS_SELECTOR, "section.story-code img.qr")
    assert qr.get_attribute("src").startswith(j.base + "/")
    assert driver.execute_script("return arguments[0].naturalWidth", qr) > 0
    # The channel its section (and language) selects lists it.
    channels = driver.find_element(By.CSS_SELECTOR, "nav.story-channels").text
    assert story["channel"] in channels, channels


def test_a_newcomer_publishes_a_story_with_an_image_in_english_and_in_arabic(
    tmp_path: Path,
    browser,  # noqa: F811
) -> None:
    # The two commands: the service with demo content, on a fresh instance of its own.
    env = _env(tmp_path / "home")
    env["PYTHONPATH"] = str(ROOT)
    log = tmp_path / "run.log"
    proc = _start(env, free_port(), tmp_path / "clone", log, "--demo")
    try:
        out = log.read_text()
        admin = re.search(r"^  admin:\s+(\S+)$", out, re.M)
        signin = re.search(r"sign in:\s+user '(\S+)', password (\S+) ", out)
        assert admin and signin, out
        admin_url, (username, password) = admin[1], signin.groups()
        base = admin_url.removesuffix("/admin/")
        j = Journey(browser, base)

        # The printed admin URL, and the sign-in with the printed password.
        j.open(admin_url)  # not signed in yet: the sign-in form, which comes back here after
        assert browser.current_url.startswith(f"{base}/admin/login"), browser.current_url
        browser.find_element(By.ID, "username").send_keys(username)
        browser.find_element(By.ID, "password").send_keys(password)
        j.submit("form.form button[type=submit]", rf"^{re.escape(admin_url)}$")
        assert "Dashboard" in browser.title

        english = {
            "title": "Harbour ferry returns to its winter timetable",
            "body": "The first crossing leaves at seven from the north quay.",
            "caption": "The ferry at the north quay",
            "section": "world",
            "language": "en",
            "channel": "World",
        }
        arabic = {
            "title": "العبارة تعود إلى جدولها الشتوي",
            "body": "تغادر الرحلة الأولى في السابعة من الرصيف الشمالي.",
            "caption": "العبارة عند الرصيف الشمالي",
            "section": "world",
            "language": "ar",
            "channel": "الأخبار بالعربية",
        }
        page = _publish_a_story(
            j, admin_url, english, _picture(tmp_path / "ferry.jpg", (20, 90, 160))
        )
        _public_page(j, page, english)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert "Story Code" in j.text() and "News Link" in j.text()
        j.shot("story-english")

        page = _publish_a_story(
            j, admin_url, arabic, _picture(tmp_path / "عبارة.jpg", (160, 60, 30))
        )
        _public_page(j, page, arabic)
        html = browser.find_element(By.TAG_NAME, "html")
        assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
        code = browser.find_element(By.CSS_SELECTOR, "section.story-code")
        assert "رمز الخبر" in code.text and "رابط الخبر" in code.text, code.text
        assert "Story Code" not in j.text() and "News Link" not in j.text()
        j.shot("story-arabic")

        # The checks see what they must: a page that is not there fails them.
        with pytest.raises(AssertionError, match="404"):
            j.open(f"{base}/stories/no-such-story")
    finally:
        _stop(proc)
