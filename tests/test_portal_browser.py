"""The partner portal in a real browser (Debian's chromium, the app on a real HTTP server, SQLite):
a partner signs in, sees only its own endpoints, replays a delivery, rotates its secret and sees
it once, pauses and resumes, edits its event types and headers; at 1280 px and at 390 px (a phone,
emulated as a mobile screen), where no portal page is wider than the screen. Screenshots under
tests/artifacts/screenshots/<width>/portal-*.png.

SQLite only, as the other browser tests: the pages are the same on either engine, and
tests/test_portal.py runs every action on both."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndication.auth.users import create_user
from syndication.models import Delivery, DeliveryAttempt, Subscriber
from syndication.partners import service as partners
from syndication.push.subscribers import create_subscriber, send_test
from syndication.runtime import Runtime
from tests.test_admin_browser import PASSWORD, browser, served  # noqa: F401
from tests.test_layout_browser import LONG_URL, Sweep

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"


def _partners(rt: Runtime) -> dict[str, int]:
    """Partner A with an endpoint (a long URL) whose delivery failed; partner B with its own;
    user "city" of partner A."""
    now = rt.clock()
    with rt.db.write() as s:
        a = partners.create_partner(s, "City Paper", now).id
        b = partners.create_partner(s, "Harbour Weekly", now).id
        mine, _ = create_subscriber(s, None, {"name": "City Paper newsroom", "url": LONG_URL}, now)
        theirs, _ = create_subscriber(
            s, None, {"name": "Harbour Weekly feed", "url": "https://harbour.example/h"}, now
        )
        pulled, _ = create_subscriber(s, None, {"kind": "pull", "name": "City Paper pull"}, now)
        partners.assign(s, mine.id, a)
        partners.assign(s, theirs.id, b)
        partners.assign(s, pulled.id, a)
        waiting = send_test(s, pulled.id, now)
        delivery = send_test(s, mine.id, now)
        delivery.status = "dead"
        s.add(
            DeliveryAttempt(
                delivery_id=delivery.id, at=now, status_code=502, latency_ms=31,
                error="HTTP 502 from the partner's gateway",
                response_excerpt="<html><body><h1>502 Bad Gateway</h1>" + "x" * 300,
            )
        )  # fmt: skip
        other = send_test(s, theirs.id, now)
        create_user(s, "city", PASSWORD, "partner", now, partner_id=a)
        s.flush()
        return {
            "sub": mine.id,
            "delivery": delivery.id,
            "other": other.id,
            "pull": pulled.id,
            "waiting": waiting.id,
        }


def _no_sideways_scroll(b: Sweep, width: int, where: str) -> None:
    scroll, inner = b.fits()
    assert scroll <= inner <= width, (
        f"{width} px: {where} is {scroll} px wide: {b.past_edge(width)}"
    )


def test_partner_portal_in_a_real_browser(served: tuple[str, Runtime], browser) -> None:  # noqa: F811
    base, rt = served
    ids = _partners(rt)
    b = Sweep(browser, base)
    detail = f"/portal/subscribers/{ids['sub']}"

    for width in (1280, 390):
        b.size(width)
        # Not signed in: the admin's sign-in form, which brings a partner back to the portal.
        b.go(detail)
        b.wait.until(ec.url_contains("/admin/login?next="))
        _no_sideways_scroll(b, width, "the sign-in form")
        b.fill("username", "city")
        b.fill("password", PASSWORD)
        b.click("form.form button[type=submit]")
        b.wait.until(ec.url_contains(detail))
        b.go("/portal/")
        b.wait.until(ec.title_contains("Your endpoints"))
        page = b.text()
        assert "City Paper newsroom" in page and "Harbour Weekly" not in page
        assert "City Paper pull" in page
        _no_sideways_scroll(b, width, "/portal/")
        b.shot("portal-home")

        # The pull subscriber: its log, no URL, no secret to rotate.
        b.go(f"/portal/subscribers/{ids['pull']}")
        page = b.text()
        assert f"Delivery {ids['waiting']}: ping" in page
        assert "Waiting for your next request" in page and "Rotate secret" not in page
        _no_sideways_scroll(b, width, "the pull subscriber's page")
        b.shot("portal-pull")

        # The delivery log: the failed attempt, then Replay.
        b.go(detail)
        assert f"Delivery {ids['delivery']}: ping" in b.text() and "31 ms" in b.text()
        assert f"Delivery {ids['other']}" not in b.text()
        _no_sideways_scroll(b, width, detail)
        b.shot("portal-endpoint")
        b.click(f"#delivery-{ids['delivery']} form button[type=submit]")
        b.wait.until(lambda d: f"Delivery {ids['delivery']} queued again." in b.text())
        with rt.db.write() as s:
            delivery = s.get(Delivery, ids["delivery"])
            assert delivery.status == "pending"
            delivery.status = "dead"  # as it was, for the next width

        # Rotate: a confirmation, then the secret, once.
        b.driver.find_element(By.PARTIAL_LINK_TEXT, "Rotate secret").click()
        b.wait.until(ec.title_contains("Rotate the secret"))
        _no_sideways_scroll(b, width, "the rotate confirmation")
        b.click("form.actions button[type=submit]")
        field = b.wait.until(ec.presence_of_element_located((By.ID, "secret")))
        secret = field.get_attribute("value")
        with rt.db.read() as s:
            assert s.get(Subscriber, ids["sub"]).secret == secret and secret.startswith("whsec_")
        assert "shown only once" in b.text()
        _no_sideways_scroll(b, width, "the new secret")
        b.shot("portal-secret")
        b.driver.find_element(By.PARTIAL_LINK_TEXT, "Back to the endpoint").click()
        b.wait.until(ec.url_contains(detail))
        assert secret not in b.driver.page_source

        # Pause, then resume.
        b.click("form[action$='/state'] button[type=submit]")
        b.wait.until(lambda d: "Endpoint paused." in b.text())
        with rt.db.read() as s:
            assert not s.get(Subscriber, ids["sub"]).active
        b.click("form[action$='/state'] button[type=submit]")
        b.wait.until(lambda d: "Endpoint resumed." in b.text())
        with rt.db.read() as s:
            assert s.get(Subscriber, ids["sub"]).active

        # Events and headers.
        b.driver.find_element(By.PARTIAL_LINK_TEXT, "Events and headers").click()
        b.wait.until(ec.presence_of_element_located((By.ID, "headers")))
        _no_sideways_scroll(b, width, "the settings form")
        for box in b.driver.find_elements(By.CSS_SELECTOR, "input[name=event_types]"):
            if box.is_selected() != (box.get_attribute("value") == "story.published"):
                box.click()
        b.fill("headers", "Host: evil.example")
        b.click("form.form button.button-primary")
        b.wait.until(ec.presence_of_element_located((By.ID, "error-summary")))
        assert "is set by the service" in b.text()
        b.shot("portal-settings-error")
        b.fill("headers", f"Authorization: Bearer {width}")
        b.click("form.form button.button-primary")
        b.wait.until(lambda d: "Settings saved." in b.text())
        with rt.db.read() as s:
            row = s.get(Subscriber, ids["sub"])
            assert row.event_types == ["story.published"]
            assert row.headers == {"Authorization": f"Bearer {width}"}

        # The newsroom's admin is not a partner's: a 403 page that leads back.
        b.go("/admin/")
        assert "403" in b.text()
        _no_sideways_scroll(b, width, "the 403 page")
        b.driver.find_element(By.PARTIAL_LINK_TEXT, "Go to your endpoints").click()
        b.wait.until(ec.title_contains("Your endpoints"))

        # Sign out (the next width signs in again).
        b.click("form.logout button[type=submit]")
        b.wait.until(ec.url_contains("/admin/login"))
