"""The story body's rich-text editor (Trix, vendored) in Debian's chromium, under a strict
Content-Security-Policy: type, bold, link, save; the stored body is the sanitised HTML and the
public story page shows it. A body the editor would spoil opens as HTML; files are refused.

The policy is added by the test's server, not by the service (which sends none today): it proves
the editor needs no inline script, no eval and no other origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syndication.runtime import Runtime
from syndication.stories.service import create_story, get_story
from tests.test_admin_browser import PASSWORD, Session, pytestmark, serve_admin  # noqa: F401

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

from tests.test_admin_browser import browser  # noqa: E402, F401 (the suite's chromium)

# Strict: scripts and styles only from the service's own files; the images data: for Trix's
# toolbar icons (SVGs inside trix.css).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class _WithCsp:
    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("Content-Security-Policy", CSP)], exc_info)

        return self.app(environ, start)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    """The app behind the strict policy on a real threaded HTTP server (SQLite file)."""
    with serve_admin(tmp_path, _WithCsp) as base_and_runtime:
        yield base_and_runtime


def _sign_in(b: Session) -> None:
    b.go("/admin/login")
    b.fill("username", "admin")
    b.fill("password", PASSWORD)
    b.click("form.form button[type=submit]")
    b.wait.until(ec.title_contains("Dashboard"))


# Runs in every page before its own scripts (DevTools injects it, outside the page's policy):
# keeps each refusal the policy reports.
_RECORD_REFUSALS = """
window.cspRefusals = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspRefusals.push(e.effectiveDirective + " " + (e.blockedURI || "") + " " + e.sample);
});
"""


def _record_refusals(driver) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_REFUSALS})


def _refusals(driver) -> list[str]:
    return driver.execute_script("return window.cspRefusals")


def test_rich_text_body_typed_bold_link_saved_sanitised_and_public(served, browser):
    base, rt = served
    b = Session(browser, base)
    _record_refusals(browser)
    _sign_in(b)

    b.go("/admin/stories/new")
    editor = b.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "trix-editor")))
    textarea = b.driver.find_element(By.ID, "body_html")
    assert not textarea.is_displayed(), "the textarea gives way to the editor"
    assert b.driver.find_element(By.CSS_SELECTOR, "label[for=body_html-editor]").text == "Body"
    toolbar = b.driver.find_element(By.CSS_SELECTOR, "trix-toolbar")
    titles = [x.get_attribute("title") for x in toolbar.find_elements(By.CSS_SELECTOR, "button")]
    assert {"Bold", "Italic", "Link", "Heading", "Quote", "Bullets", "Numbers"} <= set(titles)
    assert not toolbar.find_elements(By.CSS_SELECTOR, "[data-trix-action=attachFiles]")
    # The link dialog is hidden by a rule from a file, not from Trix's inline <style>.
    dialog = toolbar.find_element(By.CSS_SELECTOR, "[data-trix-dialog=href]")
    assert not dialog.is_displayed()

    b.fill("title", "Spring tide tables published")
    b.fill("tags", "tide")
    editor.click()
    editor.send_keys("High water at ")
    b.click("trix-toolbar button[data-trix-attribute=bold]")
    editor.send_keys("06:12")
    b.click("trix-toolbar button[data-trix-attribute=bold]")
    editor.send_keys(" on Monday; see the tide tables")
    editor.send_keys(Keys.SHIFT + Keys.ARROW_LEFT * len("tide tables"))
    b.click("trix-toolbar button[data-trix-attribute=href]")
    url_input = b.wait.until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-trix-dialog=href] input"))
    )
    url_input.send_keys("https://harbour.example.org/tides")
    url_input.send_keys(Keys.ENTER)
    b.wait.until(lambda d: "href" in d.find_element(By.ID, "body_html").get_attribute("value"))
    b.shot("story-editor")
    b.click("form.form button.button-primary")
    b.wait.until(ec.url_matches(r"/admin/stories/(?!new$)[^/]+$"))
    code = b.driver.current_url.rsplit("/", 1)[1]

    with rt.db.read() as s:
        body = get_story(s, code).body_html
    # Trix keeps a space before a change of format as &nbsp;; nh3 adds rel to the link.
    assert body == (
        "<div>High water at&nbsp;<strong>06:12</strong> on Monday; see the "
        '<a href="https://harbour.example.org/tides" rel="noopener noreferrer">tide tables</a>'
        "</div>"
    ), body

    # Published, the public page shows the same markup.
    b.driver.find_element(By.PARTIAL_LINK_TEXT, "Publish now").click()
    b.wait.until(ec.title_contains("Publish story"))
    b.click("form.actions button[type=submit]")
    b.wait.until(ec.url_matches(rf"/admin/stories/{code}$"))
    b.go(f"/stories/{code}")
    assert b.driver.find_element(By.CSS_SELECTOR, "strong").text == "06:12"
    link = b.driver.find_element(By.LINK_TEXT, "tide tables")
    assert link.get_attribute("href") == "https://harbour.example.org/tides"

    # Reopened, the editor shows the saved body; "Edit as HTML" shows its HTML.
    b.go(f"/admin/stories/{code}")
    editor = b.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "trix-editor")))
    b.wait.until(lambda d: "06:12" in editor.text)
    assert editor.find_element(By.CSS_SELECTOR, "strong").text == "06:12"
    b.click("button.editor-toggle")
    textarea = b.driver.find_element(By.ID, "body_html")
    assert textarea.is_displayed() and not editor.is_displayed()
    assert textarea.get_attribute("value") == body

    # The editor's page under the policy: no script refused and nothing evaluated from a string;
    # the one inline <style> Trix adds is refused, its rules come from admin-editor.css instead.
    b.go("/admin/stories/new")
    editor = b.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "trix-editor")))
    refusals = _refusals(b.driver)
    assert refusals and all(x.startswith("style-src") for x in refusals), refusals


def test_untouched_body_saved_as_it_was_and_unkept_markup_opens_as_html(served, browser):
    base, rt = served
    with rt.db.write() as s:
        plain = create_story(
            s,
            rt.settings,
            {"code": "kept", "title": "Kept", "body_html": "<p>One</p><p>Two</p>"},
            now=rt.clock(),
        )
        table = create_story(
            s, rt.settings,
            {"code": "table", "title": "Table", "body_html": "<table><tr><td>1</td></tr></table>"},
            now=rt.clock(),
        )  # fmt: skip
        plain_body, table_body = plain.body_html, table.body_html
    b = Session(browser, base)
    _sign_in(b)

    # Opened in the editor and saved untouched: the HTML is not rewritten (<p> stays <p>).
    b.go("/admin/stories/kept")
    editor = b.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "trix-editor")))
    b.wait.until(lambda d: "Two" in editor.text)
    b.click("form.form button.button-primary")
    b.wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Nothing changed."))
    with rt.db.read() as s:
        assert get_story(s, "kept").body_html == plain_body

    # A table would be lost in the editor: the page opens on the HTML, with a note.
    b.go("/admin/stories/table")
    note = b.wait.until(ec.visibility_of_element_located((By.ID, "body_html-editor-note")))
    assert "<table>" in note.text
    assert b.driver.find_element(By.ID, "body_html").is_displayed()
    assert not b.driver.find_element(By.CSS_SELECTOR, "trix-editor").is_displayed()
    b.click("button.editor-toggle")  # asks first; the HTML stays on screen
    assert "again" in note.text
    assert b.driver.find_element(By.ID, "body_html").is_displayed()
    b.click("form.form button.button-primary")
    b.wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Nothing changed."))
    with rt.db.read() as s:
        assert get_story(s, "table").body_html == table_body

    # A file dropped or pasted into the editor is refused (the body holds no uploads).
    b.go("/admin/stories/new")
    b.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "trix-editor")))
    accepted = b.driver.execute_script(
        "const editor = document.querySelector('trix-editor');"
        "editor.editor.insertFile(new File(['x'], 'x.png', {type: 'image/png'}));"
        "return editor.editor.getDocument().getAttachments().length;"
    )
    assert accepted == 0
    # Pasted HTML keeps its text; its image (an attachment to Trix) is taken out.
    html = b.driver.execute_script(
        "const editor = document.querySelector('trix-editor');"
        "editor.editor.insertHTML('<p>before<img src=\"/static/admin.css\">after</p>');"
        "return [editor.editor.getDocument().getAttachments().length, editor.innerHTML];"
    )
    assert html[0] == 0 and "<img" not in html[1] and "beforeafter" in html[1], html

    # Arabic typed in: Trix marks the block dir="rtl", which the sanitiser (unchanged) drops;
    # the story's language gives the page its direction.
    b.fill("title", "خبر")
    editor = b.driver.find_element(By.CSS_SELECTOR, "trix-editor")
    b.driver.execute_script("arguments[0].editor.loadHTML('')", editor)
    editor.click()
    editor.send_keys("نص عربي")
    b.wait.until(lambda d: "rtl" in d.find_element(By.ID, "body_html").get_attribute("value"))
    b.click("form.form button.button-primary")
    b.wait.until(ec.url_matches(r"/admin/stories/(?!new$)[^/]+$"))
    with rt.db.read() as s:
        assert (
            get_story(s, b.driver.current_url.rsplit("/", 1)[1]).body_html == "<div>نص عربي</div>"
        )
