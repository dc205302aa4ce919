"""A partner host that does not resolve *yet* is accepted with a warning — from the CLI, the API
and the admin — and one that resolves to a private address is refused, on SQLite and
PostgreSQL. (The service-level rules, and the send-time check, are in test_subscribers.py.)"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

import pytest

from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.auth.users import create_user
from syndication.outbound import OutboundClient, OutboundPolicy
from syndication.push import subscribers as svc
from syndication.runtime import Runtime

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


class StubDNS:
    """The outside world's DNS, stubbed: `private.example` points into 10/8, nothing else
    resolves (yet)."""

    async def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address]:
        if host == "private.example":
            return [ipaddress.IPv4Address("10.1.2.3")]
        return []


@pytest.fixture
def app(settings):
    rt = Runtime.create(
        settings,
        outbound=OutboundClient(OutboundPolicy.from_settings(settings), resolver=StubDNS()),
    )
    app = create_app(runtime=rt)
    app.config["TESTING"] = True
    yield app
    rt.close()


def test_api_accepts_a_host_not_in_the_dns_yet_with_a_warning(client, rt):
    with rt.db.write() as s:
        auth = {"Authorization": f"Bearer {create_token(s, 'admin', 'admin', now=NOW)[1]}"}
    created = client.post(
        "/api/v1/subscribers",
        json={"name": "City Paper", "url": "https://city.example/hooks/news"},
        headers=auth,
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["url"] == "https://city.example/hooks/news" and body["secret"].startswith("whsec_")
    (warning,) = body["warnings"]
    assert "'city.example' does not resolve" in warning and "checked again" in warning
    # A plain read carries no warnings; a change of URL to another such host warns again.
    read = client.get(f"/api/v1/subscribers/{body['id']}", headers=auth).get_json()
    assert "warnings" not in read
    patched = client.patch(
        f"/api/v1/subscribers/{body['id']}",
        json={"url": "https://later.example/in"},
        headers=auth,
    )
    assert patched.status_code == 200 and len(patched.get_json()["warnings"]) == 1
    assert (
        "warnings"
        not in client.patch(
            f"/api/v1/subscribers/{body['id']}", json={"name": "City"}, headers=auth
        ).get_json()
    )
    # Private stays refused, by name or by address.
    for url in ("https://private.example/hook", "https://10.0.0.1/hook"):
        refused = client.post("/api/v1/subscribers", json={"name": "X", "url": url}, headers=auth)
        assert refused.status_code == 422, url
        assert "private" in refused.get_json()["error"]["fields"]["url"]


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_admin_accepts_a_host_not_in_the_dns_yet_with_a_warning(client, rt):
    with rt.db.write() as s:
        create_user(s, "root", PASSWORD, "admin", NOW)
    csrf = _csrf_of(client.get("/admin/login").get_data(as_text=True))
    client.post("/admin/login", data={"username": "root", "password": PASSWORD, "csrf_token": csrf})
    csrf = _csrf_of(client.get("/admin/").get_data(as_text=True))
    created = client.post(
        "/admin/subscribers/new",
        data={"csrf_token": csrf, "name": "City Paper", "url": "https://city.example/hooks/news"},
    )
    page = created.get_data(as_text=True)
    assert created.status_code == 200 and "shown only once" in page
    assert 'class="flash flash-warning"' in page
    assert "does not resolve" in page and "checked again before every delivery" in page
    with rt.db.read() as s:
        (sub,) = svc.list_subscribers(s)
    refused = client.post(
        f"/admin/subscribers/{sub.id}/edit",
        data={"csrf_token": csrf, "name": "City Paper", "url": "https://private.example/x"},
    )
    assert refused.status_code == 422 and "private" in refused.get_data(as_text=True)


def test_cli_accepts_a_host_not_in_the_dns_yet_with_a_warning(invoke):
    # .invalid never resolves (RFC 6761), so the machine's own resolver answers no without
    # reaching the outside world; a short timeout bounds a resolver that does not answer.
    invoke.env["SYNDICATION_OUTBOUND_TIMEOUT"] = "3"
    added = invoke(
        "subscribers", "add", "--name", "City Paper", "--url", "https://hooks.city.invalid/news"
    )
    assert added.exit_code == 0, added.output
    assert re.search(r"^warning: url: .*'hooks\.city\.invalid'", added.output, re.M)
    assert re.search(r"^secret: whsec_", added.output, re.M)
    refused = invoke("subscribers", "add", "--name", "X", "--url", "https://192.168.1.9/")
    assert refused.exit_code == 1 and "private" in refused.output
