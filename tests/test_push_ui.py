"""Partner webhooks from the command line (`syndication subscribers …`, `deliveries …`) and in
the web admin (list with health, form, detail with the delivery log, test ping, replay,
rotation, enable/disable), on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from syndication.auth.users import create_user
from syndication.models import Delivery, DeliveryAttempt
from syndication.push import subscribers as svc
from tests.conftest import make_settings
from tests.test_subscribers import BAD_HEADER_VALUES, GOOD_HEADER_VALUE

PASSWORD = "correct horse battery"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, outbound_allow="127.0.0.1")


@pytest.fixture
def invoke(invoke):
    invoke.env["SYNDICATION_OUTBOUND_ALLOW"] = "127.0.0.1"
    return invoke


def test_cli_subscribers_and_deliveries(invoke, rt):
    added = invoke(
        "subscribers", "add", "--name", "City Paper", "--url", HOOK,
        "--event", "story.published", "--event", "story.retracted", "--format", "ninjs",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    sub_id = int(re.search(r"^id: (\d+)$", added.output, re.M)[1])
    secret = re.search(r"^secret: (whsec_\S+)$", added.output, re.M)[1]
    with rt.db.read() as s:
        sub = svc.get_subscriber(s, sub_id)
        assert sub.secret == secret and sub.format == "ninjs"
        assert sub.event_types == ["story.published", "story.retracted"]

    refused = invoke("subscribers", "add", "--name", "X", "--url", "https://10.0.0.1/")
    assert refused.exit_code != 0 and "url:" in refused.output
    unknown = invoke("subscribers", "add", "--name", "X", "--url", HOOK, "--channel", "nope")
    assert unknown.exit_code != 0 and "no channel 'nope'" in unknown.output

    listed = invoke("subscribers", "list")
    assert f"{sub_id}\tactive\tninjs" in listed.output and "City Paper" in listed.output
    assert "disabled" in invoke("subscribers", "disable", str(sub_id), "--reason", "x").output
    assert "disabled (x)" in invoke("subscribers", "list").output
    assert "enabled" in invoke("subscribers", "enable", str(sub_id)).output
    rotated = invoke("subscribers", "rotate-secret", str(sub_id))
    new = re.search(r"^secret: (whsec_\S+)$", rotated.output, re.M)[1]
    assert new != secret and "old secret valid until" in rotated.output
    assert invoke("subscribers", "enable", "999").exit_code != 0

    with rt.db.write() as s:
        d_id = svc.send_test(s, sub_id, NOW).id
        s.flush()
        s.get(Delivery, d_id).status = "dead"
    out = invoke("deliveries", "list", "--subscriber", str(sub_id), "--status", "dead").output
    assert out.startswith(f"{d_id}\tdead\t0\tsubscriber={sub_id}\tping")
    assert invoke("deliveries", "list", "--status", "delivered").output.strip() == "no deliveries"
    replayed = invoke("deliveries", "replay", str(d_id))
    assert replayed.exit_code == 0 and "queued again (msg_" in replayed.output
    assert invoke("deliveries", "replay", "999").exit_code != 0

    with rt.db.write() as s:
        s.get(Delivery, d_id).status = "skipped"  # came while the subscriber was disabled
    since = (NOW - timedelta(hours=1)).isoformat()
    recovered = invoke("subscribers", "recover", str(sub_id), "--since", since)
    assert recovered.exit_code == 0, recovered.output
    assert f"1 deliveries of subscriber {sub_id} queued again" in recovered.output
    with rt.db.read() as s:
        assert s.get(Delivery, d_id).status == "pending"
    bad = invoke("subscribers", "recover", str(sub_id), "--since", "last tuesday")
    assert bad.exit_code != 0 and "since:" in bad.output
    assert invoke("subscribers", "recover", "999", "--since", since).exit_code != 0


# --- web admin --------------------------------------------------------------------------------


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _login(client, rt, username: str, role: str) -> str:
    with rt.db.write() as s:
        create_user(s, username, PASSWORD, role, NOW)
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    r = client.post(
        "/admin/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf}
    )
    assert r.status_code == 303
    return _csrf_of(client.get("/admin/").get_data(as_text=True))


def test_admin_subscriber_pages(client, rt):
    csrf = _login(client, rt, "root", "admin")
    home = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/subscribers"' in home and ">Subscribers<" in home
    assert "No subscribers yet" in client.get("/admin/subscribers").get_data(as_text=True)

    bad = client.post(
        "/admin/subscribers/new",
        data={"csrf_token": csrf, "name": "", "url": "https://10.0.0.1/", "headers": "nocolon"},
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="error-summary"' in page
    assert "private" in page and "Name: value" in page and 'value="https://10.0.0.1/"' in page

    created = client.post(
        "/admin/subscribers/new",
        data={
            "csrf_token": csrf, "name": "City Paper", "url": HOOK, "format": "ninjs",
            "event_types": ["story.published"], "filter_tags": "tide, harbour",
            "headers": "X-Partner: city", "throttle": "2",
        },
    )  # fmt: skip
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and "shown only once" in page
    secret = re.search(r'value="(whsec_[^"]+)"', page)[1]
    with rt.db.read() as s:
        (sub,) = svc.list_subscribers(s)
        assert sub.secret == secret and sub.filter == {"tags": ["tide", "harbour"]}
        assert sub.headers == {"X-Partner": "city"} and sub.throttle == 2
    detail_url = f"/admin/subscribers/{sub.id}"

    r = client.post(f"{detail_url}/test", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith(detail_url)
    with rt.db.write() as s:
        (d,) = s.query(Delivery).all()
        d.status = "dead"
        s.add(
            DeliveryAttempt(
                delivery_id=d.id, at=NOW, status_code=502, latency_ms=31,
                error="HTTP 502", response_excerpt="<h1>bad gateway</h1>",
            )
        )  # fmt: skip
        d_id = d.id
    page = client.get(detail_url).get_data(as_text=True)
    assert f"Delivery {d_id}: ping" in page and "31 ms" in page and "HTTP 502" in page
    assert "&lt;h1&gt;bad gateway&lt;/h1&gt;" in page  # escaped
    assert "Send test ping" in page and "Replay" in page
    listing = client.get("/admin/subscribers").get_data(as_text=True)
    assert "City Paper" in listing and "0% <span" in listing and "HTTP 502" in listing

    r = client.post(f"/admin/deliveries/{d_id}/replay", data={"csrf_token": csrf})
    assert r.status_code == 303
    with rt.db.read() as s:
        assert s.get(Delivery, d_id).status == "pending"

    edit = client.get(f"{detail_url}/edit").get_data(as_text=True)
    assert 'value="tide, harbour"' in edit and "X-Partner: city" in edit
    saved = client.post(
        f"{detail_url}/edit",
        data={"csrf_token": csrf, "name": "City Paper 2", "url": HOOK, "format": "json"},
    )
    assert saved.status_code == 303
    with rt.db.read() as s:
        sub2 = svc.get_subscriber(s, sub.id)
        assert sub2.name == "City Paper 2" and sub2.filter == {} and sub2.headers == {}

    assert "Rotate secret" in client.get(f"{detail_url}/rotate-secret").get_data(as_text=True)
    rotated = client.post(f"{detail_url}/rotate-secret", data={"csrf_token": csrf})
    new = re.search(r'value="(whsec_[^"]+)"', rotated.get_data(as_text=True))[1]
    assert new != secret and "keeps signing too until" in rotated.get_data(as_text=True)

    client.post(f"{detail_url}/state", data={"csrf_token": csrf, "disable": "1", "reason": "r"})
    assert "disabled" in client.get(detail_url).get_data(as_text=True)
    with rt.db.write() as s:  # an event that came while it was disabled
        s.get(Delivery, d_id).status = "skipped"
    page = client.get(detail_url).get_data(as_text=True)
    assert re.search(r"Skipped while disabled</dt><dd>1<", page) and 'name="since"' in page
    client.post(f"{detail_url}/state", data={"csrf_token": csrf, "disable": "0"})
    with rt.db.read() as s:
        assert svc.get_subscriber(s, sub.id).active
    bad_time = client.post(f"{detail_url}/recover", data={"csrf_token": csrf, "since": "soon"})
    assert bad_time.status_code == 303
    assert "Nothing recovered" in client.get(detail_url).get_data(as_text=True)
    since = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(f"{detail_url}/recover", data={"csrf_token": csrf, "since": since})
    assert r.status_code == 303
    assert "1 deliveries queued again" in client.get(detail_url).get_data(as_text=True)
    with rt.db.read() as s:
        assert s.get(Delivery, d_id).status == "pending"

    # CSRF is required; deletion goes through a confirmation
    assert client.post(f"{detail_url}/test", data={}).status_code == 400
    r = client.post(f"{detail_url}/delete", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert client.get(detail_url).status_code == 404


def _headers_error(page: str) -> str | None:
    """The error shown beside the custom headers field, as text."""
    found = re.search(r'<p class="field-error" id="headers-error">(.*?)</p>', page, re.S)
    if found is None:
        return None
    return html.unescape(re.sub(r"<[^>]+>", "", found[1])).strip().removeprefix("Error: ")


@pytest.mark.parametrize("case", sorted(BAD_HEADER_VALUES))
def test_admin_form_refuses_bad_header_values_beside_the_field(client, rt, case):
    csrf = _login(client, rt, "root", "admin")
    value, message = BAD_HEADER_VALUES[case]
    if "\n" in value:  # a line break ends the line in the form: the rest is a line of its own
        message = f"each line must be 'Name: value', got {value.split(chr(10))[1]!r}"
    else:
        message = f"X-Partner: {message}"
    form = {"csrf_token": csrf, "name": "City Paper", "url": HOOK, "format": "json"}

    bad = client.post("/admin/subscribers/new", data={**form, "headers": f"X-Partner: {value}"})
    page = bad.get_data(as_text=True)
    if "\x00" in value:
        # The input layer refuses a NUL in any form field (400) before the form is read.
        assert bad.status_code == 400
        with rt.db.read() as s:
            assert svc.list_subscribers(s) == []
        return
    assert bad.status_code == 422 and 'id="error-summary"' in page
    assert _headers_error(page) == message
    assert re.search(r'<textarea id="headers"[^>]*aria-invalid="true"', page)
    with rt.db.read() as s:
        assert svc.list_subscribers(s) == []

    good = f"Authorization: {GOOD_HEADER_VALUE}"
    created = client.post("/admin/subscribers/new", data={**form, "headers": good})
    assert created.status_code == 200 and "shown only once" in created.get_data(as_text=True)
    with rt.db.read() as s:
        (sub,) = svc.list_subscribers(s)
        assert sub.headers == {"Authorization": GOOD_HEADER_VALUE}

    edit_url = f"/admin/subscribers/{sub.id}/edit"
    both = f"{good}\nX-Partner: {value}"
    edited = client.post(edit_url, data={**form, "headers": both})
    assert edited.status_code == 422
    assert _headers_error(edited.get_data(as_text=True)) == message
    with rt.db.read() as s:
        assert svc.get_subscriber(s, sub.id).headers == {"Authorization": GOOD_HEADER_VALUE}


def test_admin_subscribers_are_admin_only(client, rt):
    _login(client, rt, "ed", "editor")
    assert client.get("/admin/subscribers").status_code == 403
    assert "/admin/subscribers" not in client.get("/admin/").get_data(as_text=True)
