"""Every public and admin page at 1280 px and at 390 px (a phone) in Debian's chromium: no page
is wider than the screen, both base templates declare the viewport, chart text is at least 11 px
as drawn, tables that stack into cards do so; a full-page screenshot of each page at each width
is kept under tests/artifacts/screenshots/<width>/<page>.png (gitignored; CI keeps the folder).

One browser session signs in once and walks the pages at both widths (the window is resized, with
the phone width emulated as a mobile screen so that the meta viewport matters). SQLite only: the
layout is the same whatever the database engine, since the pages render the same content; the
PostgreSQL runs of tests/test_admin.py already render every admin page on both engines.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from syndication.auth.tokens import create_token
from syndication.channels.service import create_channel
from syndication.links.service import create_link, ensure_story_link
from syndication.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    ReachClient,
    ReachReport,
    Subscriber,
    Visit,
)
from syndication.partners.service import assign, create_partner
from syndication.push.subscribers import create_subscriber, send_test
from syndication.runtime import Runtime
from syndication.stories.service import create_story, retract_story
from tests.test_admin_browser import ARTIFACTS, PASSWORD, Session, browser, served  # noqa: F401

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

SHOTS = ARTIFACTS / "screenshots"
WIDTHS = (1280, 390)
LONG_URL = (
    "https://partner.example/hooks/newsroom/syndication/incoming/"
    "a-very-long-path-segment-without-any-break-in-it-at-all?utm_source=syndication&x=1"
)


def _stock(rt: Runtime) -> dict[str, str]:
    """Content that stresses a narrow layout: long words and URLs, tags, an Arabic story, a
    link with human and bot visits, a subscriber with a failed delivery, a WebSub callback."""
    now = rt.clock()
    with rt.db.write() as s:
        create_channel(
            s,
            {"slug": "harbour", "title": "Harbour and coastal news", "filter": {"tags": ["tide"]},
             "description": "Tides, boats, ferries and the harbour authority's notices"},
            now=now,
        )  # fmt: skip
        story = create_story(
            s, rt.settings,
            {"title": "Spring tide tables published for the Kilkerran–Portnahaven ferry crossing",
             "summary": "High water times for every harbour on the coast, with a long word: "
                        "Donaudampfschifffahrtsgesellschaftskapitän.",
             "body_html": "<p>High water at <strong>06:12</strong>.</p>"
                          f'<p><a href="{LONG_URL}">{LONG_URL}</a></p>',
             "tags": ["tide", "harbour", "ferries", "timetables"], "section": "Local",
             "authors": ["Harbour desk"]},
            now=now, default_status="published",
        )  # fmt: skip
        arabic = create_story(
            s, rt.settings,
            {"title": "جداول المد والجزر لفصل الربيع", "summary": "أوقات المد العالي في الميناء.",
             "language": "ar", "tags": ["tide"], "section": "المحلية"},
            now=now, default_status="published",
        )  # fmt: skip
        draft = create_story(s, rt.settings, {"title": "Draft about the harbour wall"}, now=now)
        gone = create_story(
            s, rt.settings, {"title": "A story taken back"}, now=now, default_status="published"
        )
        retract_story(s, rt.settings, gone.code, now=now)
        link = ensure_story_link(s, story, now)
        create_link(
            s, {"url": LONG_URL, "slug": "partner-offer", "title": "Partner offer page"}, now=now
        )
        for i, (medium, bot) in enumerate(
            [("link", False), ("qr", False), ("qr", False), ("link", True), ("qr", True)]
        ):
            s.add(
                Visit(
                    link_id=link.id, at=now - timedelta(days=i), medium=medium, is_bot=bot,
                    referrer_host="the-regional-partner-newsroom-with-a-long-host-name." * 3
                    + "example" if i == 0 else None,
                )
            )  # fmt: skip
        link.human_visits = 3
        create_token(s, "partner import job", "editor", now)
        sub, _secret = create_subscriber(
            s, None, {"name": "City Paper", "url": LONG_URL, "format": "ninjs"}, now
        )
        delivery = send_test(s, sub.id, now)
        delivery.status = "dead"
        s.add(
            DeliveryAttempt(
                delivery_id=delivery.id, at=now, status_code=502, latency_ms=31,
                error="HTTP 502 from the partner's gateway",
                response_excerpt="<html><body><h1>502 Bad Gateway</h1>" + "x" * 300,
            )
        )  # fmt: skip
        s.add(
            Subscriber(
                kind="websub", name="websub", url=LONG_URL, secret="", channels=["harbour"],
                topic=f"{rt.settings.base_url}/feeds/harbour.rss", topic_format="rss",
                lease_seconds=86400, lease_expires_at=now + timedelta(days=1), active=True,
                created_at=now, verified_at=now,
            )
        )  # fmt: skip
        partner = create_partner(s, "City Paper syndication partnership", now)
        assign(s, sub.id, partner.id)
        s.flush()
        # Reach: a stated count, and clients of a long-named reader, over a few days.
        harbour = s.scalar(select(Channel.id).where(Channel.slug == "harbour"))
        long_name = "A-self-hosted-reader-with-a-very-long-product-name-x"
        for day in range(3):
            at = now - timedelta(days=day)
            s.add(ReachReport(channel_id=harbour, day=at.date(), reader="Feedly", feed_key="",
                              subscribers=1200 + day, seen_at=at))  # fmt: skip
            for n in range(day + 1):
                s.add(ReachClient(channel_id=harbour, day=at.date(), client=f"{day}{n:015x}",
                                  reader=long_name))  # fmt: skip
        return {
            "partner": str(partner.id),
            "story": story.code, "arabic": arabic.code, "draft": draft.code, "gone": gone.code,
            "link": link.code, "subscriber": str(sub.id), "delivery": str(delivery.id),
        }  # fmt: skip


def _pages(c: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name: (path, text the page must show) of every page, public ones first."""
    sub = f"/admin/subscribers/{c['subscriber']}"
    return {
        "home": ("/", "Harbour and coastal news"),
        "channel": ("/channels/harbour", "Spring tide tables"),
        "story": (f"/stories/{c['story']}", "Story Code"),
        "story-arabic": (f"/stories/{c['arabic']}", c["arabic"]),
        "error-404": ("/stories/no-such-story", "404"),
        "error-410": (f"/stories/{c['gone']}", "410"),
        "api-docs": ("/api/docs", "stories"),
        "admin-dashboard": ("/admin/", "Busiest links"),
        "admin-stories": ("/admin/stories", "Draft about the harbour wall"),
        "admin-story-new": ("/admin/stories/new", "New story"),
        "admin-story-edit": (f"/admin/stories/{c['story']}", "Story Code"),
        "admin-story-publish": (f"/admin/stories/{c['draft']}/publish", "Publish story"),
        "admin-channels": ("/admin/channels", "Harbour and coastal news"),
        "admin-channel-new": ("/admin/channels/new", "New channel"),
        "admin-channel-edit": ("/admin/channels/harbour", "WebSub subscriptions"),
        "admin-channel-reach": ("/admin/channels/harbour/reach", "By reader"),
        "admin-channel-preview": ("/admin/channels/harbour?format=rss", "Findings"),
        "admin-links": ("/admin/links", "partner-offer"),
        "admin-link-new": ("/admin/links/new", "New link"),
        "admin-link-edit": ("/admin/links/partner-offer", "partner-offer"),
        "admin-link-stats": (f"/admin/links/{c['link']}/stats", "Top referrers"),
        "admin-subscribers": ("/admin/subscribers", "City Paper"),
        "admin-subscriber-new": ("/admin/subscribers/new", "New subscriber"),
        "admin-subscriber-detail": (sub, f"Delivery {c['delivery']}"),
        "admin-subscriber-edit": (f"{sub}/edit", "City Paper"),
        "admin-tokens": ("/admin/tokens", "partner import job"),
        "admin-users": ("/admin/users", "New user"),
        "admin-partners": ("/admin/partners", "New partner"),
        "admin-partner-detail": (f"/admin/partners/{c['partner']}", "City Paper"),
    }


class Sweep(Session):
    """A Session that sizes the viewport exactly (the phone emulated as a mobile screen) and
    keeps full-page screenshots by width."""

    def size(self, width: int) -> None:
        self.width = width
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 844 if width < 600 else 900,
             "deviceScaleFactor": 1, "mobile": width < 600},
        )  # fmt: skip

    def shot(self, name: str) -> None:
        folder = SHOTS / str(self.width)
        folder.mkdir(parents=True, exist_ok=True)
        png = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        (folder / f"{name}.png").write_bytes(base64.b64decode(png["data"]))

    def past_edge(self, width: int) -> list[str]:
        """The innermost elements that reach past `width`: what to fix when a page is too wide."""
        return self.driver.execute_script(
            "const w = arguments[0], out = [];"
            "for (const e of document.body.querySelectorAll('*')) {"
            "  if (e.getBoundingClientRect().right <= w + 1) continue;"
            "  if ([...e.children].some(c => c.getBoundingClientRect().right > w + 1)) continue;"
            "  out.push(e.localName + (e.className && e.className.baseVal === undefined"
            "    ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));"
            "}"
            "return [...new Set(out)].slice(0, 5);",
            width,
        )

    def fits(self) -> tuple[int, int]:
        return self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )


def test_every_page_fits_a_phone_and_a_desktop(served: tuple[str, Runtime], browser) -> None:
    base, rt = served
    codes = _stock(rt)
    b = Sweep(browser, base)
    b.size(390)
    b.go("/admin/")  # before signing in, at the phone width: the sign-in form
    b.wait.until(ec.url_contains("/admin/login?next="))
    b.shot("admin-login")
    assert b.fits() == [390, 390], "the sign-in page is wider than a phone"
    b.fill("username", "admin")
    b.fill("password", PASSWORD)
    b.click("form.form button[type=submit]")
    b.wait.until(ec.title_contains("Dashboard"))

    too_wide: list[str] = []
    for width in WIDTHS:
        b.size(width)
        for name, (path, expected) in _pages(codes).items():
            b.go(path)
            assert expected in b.text(), (width, path)
            assert b.driver.execute_script(
                "return !!document.querySelector('meta[name=viewport][content*=device-width]')"
            ), f"{path}: no meta viewport"
            # A mobile browser zooms out to show a page wider than the screen, which widens
            # innerWidth with it: so the screen's width bounds both.
            scroll, inner = b.fits()
            if not scroll <= inner <= width:
                too_wide.append(
                    f"{width} px: {path} is {scroll} px wide ({inner} shown), "
                    f"past the edge: {b.past_edge(width)}"
                )
            b.shot(name)
    assert not too_wide, too_wide

    # The statistics charts at the phone width: the narrow drawing, full width, text >= 11 px.
    b.size(390)
    b.go(f"/admin/links/{codes['link']}/stats")
    charts = [c for c in b.driver.find_elements(By.CSS_SELECTOR, "svg.chart") if c.is_displayed()]
    assert len(charts) == 2
    for chart in charts:
        assert "chart-narrow" in chart.get_attribute("class")
        box_width = b.driver.execute_script(
            "return arguments[0].getBoundingClientRect().width", chart
        )
        assert box_width >= 390 - 32 - 1, "the chart uses the screen's width"
        smallest = b.driver.execute_script(
            "const svg = arguments[0], scale = svg.getScreenCTM().a;"
            "return Math.min(...[...svg.querySelectorAll('text')].map("
            "  t => parseFloat(getComputedStyle(t).fontSize) * scale))",
            chart,
        )
        assert smallest >= 11, f"chart text is {smallest:.1f} px on a phone"

    # The numbers behind the charts, opened: a plain table that fits a phone as it is.
    b.click("details.data-table summary")
    assert b.fits() == [390, 390], b.past_edge(390)
    b.shot("admin-link-stats-table")

    # Tables chosen to stack into cards do so on a phone: every cell shows its column's name.
    b.go("/admin/links")
    cell = b.driver.find_element(By.CSS_SELECTOR, "table.table-cards tbody td")
    label = b.driver.execute_script(
        "return getComputedStyle(arguments[0], '::before').content", cell
    )
    assert label.strip('"') == cell.get_attribute("data-label") != ""
    # Tables that scroll in their own box say so.
    b.go(f"/admin/subscribers/{codes['subscriber']}")
    box = b.driver.find_element(By.CSS_SELECTOR, ".scroll-hint + .table-scroll")
    hint = b.driver.find_element(By.CSS_SELECTOR, ".scroll-hint")
    assert hint.is_displayed() and "scroll" in hint.text
    assert b.driver.execute_script(
        "return arguments[0].scrollWidth > arguments[0].clientWidth", box
    ), "the attempts table scrolls in its box on a phone (else the hint would be wrong)"
    b.size(1280)
    assert not hint.is_displayed()

    with rt.db.read() as s:  # the sweep changed nothing
        assert s.get(Delivery, int(codes["delivery"])).status == "dead"


def test_screenshots_folder_is_ignored_by_git() -> None:
    ignore = (Path(__file__).parent.parent / ".gitignore").read_text().splitlines()
    assert "tests/artifacts/" in ignore
    assert SHOTS.is_relative_to(Path(__file__).parent / "artifacts")
