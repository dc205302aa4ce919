"""Schemathesis with every check (`--checks all`) against /api/v1/openapi.json with an admin
token, through the WSGI app, on SQLite and PostgreSQL: the document is the truth. No answer may
be a 5xx or an undocumented status; every answer matches its schema (headers and content type
too); a request the document accepts is not refused (positive data), one it refuses is
(negative data); a missing required header is refused.

Bounded and deterministic: each operation gets MAX_EXAMPLES positive and MAX_EXAMPLES negative
requests, drawn with `derandomize=True` (the same requests on every run). Deeper by hand:
SYNDICATION_SCHEMATHESIS_EXAMPLES=200, or the CLI run of the README (section API)."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation import GenerationMode
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from syndication.app import create_app
from syndication.auth.tokens import create_token
from syndication.channels.service import create_channel
from syndication.links.service import create_link
from syndication.outbound.client import OutboundClient
from syndication.outbound.policy import OutboundPolicy
from syndication.partners.service import create_partner
from syndication.push.subscribers import create_subscriber, send_test
from syndication.runtime import Runtime
from syndication.stories.service import create_story
from syndication.validation import DATE_RANGE
from tests.conftest import make_settings
from tests.schemathesis_hooks import fresh_idempotency_key

MAX_EXAMPLES = int(os.environ.get("SYNDICATION_SCHEMATHESIS_EXAMPLES", "6"))
# Identifiers that exist, so that generated requests reach past the 404s half of the time.
# Token 2 is a spare one that DELETE may revoke (token 1 is the test's own admin token).
KNOWN = {
    "code": ["st-1", "st-2", "promo"],
    "slug": ["news"],
    "token_id": [2],
    "subscriber_id": [1],
    "delivery_id": [1],
    "partner_id": [1],
}


# Rules no JSON Schema can state, so a request the document accepts may still be refused (422)
# on these fields: a language tag must be registered (the IANA registry, not a grammar); a
# subscriber's channels must exist; a subscriber's extra headers must not be ones the service
# sets itself; an uploaded file must be an image (its bytes decoded, not a grammar); a token's
# partner must exist, and goes with the partner role alone.
BEYOND_THE_DOCUMENT = ("language", "filter.languages", "channels", "headers.", "file", "partner")
# Rules of the input layer that hold for every value, which no JSON Schema of ours can say:
# the date range (validation.DATE_RANGE) after the offset is applied (described on every
# date-time), and I-JSON (RFC 7493: no NUL, no lone surrogate, integers within +-2^53) in any
# key or value (field names too), read-only and unknown fields included. A 422 of these rules
# alone is allowed.
LAYER_REFUSALS = (
    f"must be from {DATE_RANGE}",
    "must be between -2^53 and 2^53",
    "must not contain NUL characters (U+0000)",
    "must not contain a lone surrogate",
)


def positive_data_accepted(ctx, response, case):
    """positive_data_acceptance, except for a 422 whose every field is BEYOND_THE_DOCUMENT."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        fields = (response.json().get("error") or {}).get("fields") or {}
        if (
            response.status_code == 422
            and fields
            and all(
                any(refusal in message for refusal in LAYER_REFUSALS)
                or any(
                    name == rule or (rule.endswith(".") and name.startswith(rule))
                    for rule in BEYOND_THE_DOCUMENT
                )
                for name, message in fields.items()
            )
        ):
            return None
        raise


class PublicDNS:
    """The outside world's DNS, stubbed: every name is one public address (subscriber URLs are
    resolved and checked when saved; no request is sent in this test)."""

    async def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("93.184.215.14")]


@pytest.fixture
def st_app(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path, log_level="WARNING")
    rt = Runtime.create(
        settings,
        outbound=OutboundClient(OutboundPolicy.from_settings(settings), resolver=PublicDNS()),
    )
    app = create_app(runtime=rt)
    now = datetime.now(UTC)
    with rt.db.write() as s:
        app.config["ADMIN_TOKEN"] = create_token(s, "schemathesis", "admin", now=now)[1]
        create_token(s, "spare", "reader", now=now)
        # something to find, publish, retract and link to
        create_story(s, rt.settings, {"title": "A story", "code": "st-1"}, now=now)
        create_story(
            s, rt.settings, {"title": "Out", "code": "st-2"}, now=now, default_status="published"
        )
        create_channel(s, {"slug": "news", "title": "News"}, now=now)
        create_link(s, {"url": "https://example.org/", "slug": "promo"}, now=now)
        subscriber, _ = create_subscriber(
            s, None, {"name": "Partner", "url": "https://partner.example/hook"}, now
        )
        send_test(s, subscriber.id, now)
        create_partner(s, "Partner org", now)
    yield app
    rt.close()


def examples(operation, mode: GenerationMode, headers: dict[str, str], checks: list):
    """The Hypothesis test of one operation in one mode: MAX_EXAMPLES requests, the same on
    every run."""

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case, data) -> None:
        for name in list(case.path_parameters or {}):
            # (a negative case's path parameters are its point: left as drawn)
            if mode is GenerationMode.POSITIVE and name in KNOWN and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(KNOWN[name]))
        fresh_idempotency_key(case)
        case.call_and_validate(headers=headers, checks=checks)

    return check


def test_api_conforms_to_its_document(st_app):
    """Every operation of the document, MAX_EXAMPLES positive and negative requests each."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", st_app)
    # The token is the test's (below); requests without one are ignored_auth's to send.
    schema.config.generation.update(with_security_parameters=False)
    headers = {"Authorization": f"Bearer {st_app.config['ADMIN_TOKEN']}"}
    load_all_checks()
    checks = [
        positive_data_accepted if check is positive_data_acceptance else check
        for check in CHECKS.get_all()
    ]
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                examples(operation, mode, headers, checks)()
            except Unsatisfiable:
                pass  # nothing in the operation to break (no parameters, no body): no negatives
            # Schemathesis raises its FailureGroup, a BaseExceptionGroup: collect it too.
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation's
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_document_and_the_service_agree_on_the_edges(st_app):
    """The shapes the issue found accepted by the document and refused by the service: now the
    document refuses them too (and the service with the same 422), or the service accepts."""
    client = st_app.test_client()
    auth = {"Authorization": f"Bearer {st_app.config['ADMIN_TOKEN']}"}
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]

    for path in ("/api/v1/stories", "/api/v1/links", "/api/v1/deliveries"):
        r = client.get(f"{path}?cursor=", headers=auth)
        assert r.status_code == 422 and "query.cursor" in r.get_json()["error"]["fields"], path
        assert client.get(f"{path}?cursor=1", headers=auth).status_code == 200, path
    for body, path, field in (
        ({"title": " \t"}, "/api/v1/stories", "title"),
        ({"slug": "blank", "title": "\u3000"}, "/api/v1/channels", "title"),
        ({"name": "", "role": "reader"}, "/api/v1/tokens", "name"),
        ({"name": " ", "url": "https://partner.example/"}, "/api/v1/subscribers", "name"),
        ({"url": "og:image"}, "/api/v1/links", "url"),
    ):
        r = client.post(path, json=body, headers=auth)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (path, r.json)
    assert schemas["StoryIn"]["properties"]["title"]["maxLength"] == 500
    assert "pattern" in schemas["TokenIn"]["properties"]["name"]

    # A PATCH may leave fields out, but a nested object it sends is checked whole.
    r = client.patch("/api/v1/stories/st-1", json={"image": {}}, headers=auth)
    assert r.status_code == 422 and "image.url" in r.get_json()["error"]["fields"], r.json
    image = {"url": "https://example.org/a.jpg"}
    r = client.patch("/api/v1/stories/st-1", json={"image": image}, headers=auth)
    assert r.status_code == 200 and r.get_json()["image"]["url"] == image["url"]

    # An empty window recovers nothing; not an error.
    window = {"since": "2000-01-01T00:00:00Z", "until": "2000-01-01T00:00:00Z"}
    r = client.post("/api/v1/subscribers/1/recover", json=window, headers=auth)
    assert r.status_code == 200 and r.get_json() == {"requeued": 0}

    # An empty Idempotency-Key: documented as refused (minLength, no blanks), refused with 400.
    post = doc["paths"]["/api/v1/stories"]["post"]
    key = next(p for p in post["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["minLength"] == 1 and key["schema"]["pattern"].startswith("^")
    assert "400" in post["responses"]
    r = client.post("/api/v1/stories", json={"title": "K"}, headers={**auth, "Idempotency-Key": ""})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
