"""Partners, on SQLite and PostgreSQL: the organisations, the subscribers assigned to them, and
the partner role of users and tokens, which reaches nothing of the newsroom's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from syndication.auth import tokens, users
from syndication.auth.roles import PARTNER, allows
from syndication.errors import Conflict, NotFound, ValidationError
from syndication.models import ApiToken, Subscriber, User
from syndication.partners import service
from tests.pushkit import add_subscriber

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _partner(rt, name: str = "Wire Partner") -> int:
    with rt.db.write() as s:
        return service.create_partner(s, name, now=NOW).id


def test_partner_role_is_outside_the_ranks():
    assert allows(PARTNER, PARTNER)
    for role in ("reader", "editor", "admin"):
        assert not allows(PARTNER, role)  # a partner reads nothing of the newsroom's
        assert not allows(role, PARTNER)  # and the newsroom's roles are no partner


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\x00name", "line\nbreak", "\x7f"])
def test_partner_names_are_checked(rt, name):
    with pytest.raises(ValidationError) as caught, rt.db.write() as s:
        service.create_partner(s, name, now=NOW)
    assert "name" in caught.value.fields


def test_duplicate_partner_is_a_conflict_and_names_are_trimmed(rt):
    _partner(rt, "  Agence  ")
    with pytest.raises(Conflict), rt.db.write() as s:
        service.create_partner(s, "Agence", now=NOW)
    with rt.db.read() as s:
        assert [p.name for p in service.list_partners(s)] == ["Agence"]


def test_assigned_subscribers_are_the_partners_alone(rt):
    a, b = _partner(rt, "A"), _partner(rt, "B")
    mine = add_subscriber(rt, "https://a.example/hook").id
    theirs = add_subscriber(rt, "https://b.example/hook").id
    newsroom = add_subscriber(rt, "https://n.example/hook").id
    with rt.db.write() as s:
        service.assign(s, mine, a)
        service.assign(s, theirs, b)
    with rt.db.read() as s:
        assert [x.id for x in service.subscribers_of(s, a)] == [mine]
        assert service.owned_subscriber(s, a, mine).id == mine
        for other in (theirs, newsroom, 987654):
            with pytest.raises(NotFound) as caught:
                service.owned_subscriber(s, a, other)
            # The same words whether it exists or not: nothing to enumerate.
            assert caught.value.message == f"no subscriber with id {other}"
    with rt.db.write() as s:
        service.assign(s, mine, None)
    with rt.db.read() as s:
        assert service.subscribers_of(s, a) == []


def test_assigning_to_unknown_partner_or_subscriber_is_not_found(rt):
    a = _partner(rt)
    sub = add_subscriber(rt, "https://a.example/hook").id
    with pytest.raises(NotFound), rt.db.write() as s:
        service.assign(s, sub, 987654)
    with pytest.raises(NotFound), rt.db.write() as s:
        service.assign(s, 987654, a)
    with rt.db.read() as s:
        assert s.get(Subscriber, sub).partner_id is None


def test_partner_role_needs_a_partner_and_only_it_has_one(rt):
    a = _partner(rt)
    with pytest.raises(ValidationError) as caught, rt.db.write() as s:
        users.create_user(s, "p1", "long enough pw", PARTNER, now=NOW)
    assert caught.value.fields == {"partner": "required with the partner role"}
    with pytest.raises(ValidationError) as caught, rt.db.write() as s:
        tokens.create_token(s, "t", "editor", now=NOW, partner_id=a)
    assert "partner" in caught.value.fields
    with pytest.raises(ValidationError), rt.db.write() as s:
        tokens.create_token(s, "t", PARTNER, now=NOW, partner_id=987654)
    with rt.db.write() as s:
        users.create_user(s, "p1", "long enough pw", PARTNER, now=NOW, partner_id=a)
        tokens.create_token(s, "t", PARTNER, now=NOW, partner_id=a)
    with rt.db.read() as s:
        assert s.scalar(select(User.partner_id).where(User.username == "p1")) == a
        assert s.scalar(select(ApiToken.partner_id)) == a


def test_partner_token_reaches_nothing_of_the_newsroom(rt, client):
    a = _partner(rt)
    with rt.db.write() as s:
        plaintext = tokens.create_token(s, "t", PARTNER, now=NOW, partner_id=a)[1]
    headers = {"Authorization": f"Bearer {plaintext}"}
    for path in ("/api/v1/stories", "/api/v1/subscribers", "/api/v1/channels"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/admin/", headers=headers).status_code == 403


def test_partner_cli(invoke, rt):
    first = add_subscriber(rt, "https://a.example/hook").id
    second = add_subscriber(rt, "https://b.example/hook").id
    result = invoke("partner", "create", "Agence Wire")
    assert result.exit_code == 0 and "Created partner" in result.output
    assert invoke("partner", "create", "Agence Wire").exit_code != 0  # duplicate
    result = invoke("partner", "assign", "Agence Wire", str(first), "987654")
    assert result.exit_code != 0 and "no subscriber with id 987654" in result.output
    with rt.db.read() as s:
        assert s.get(Subscriber, first).partner_id is None  # all or none
    result = invoke("partner", "assign", "Agence Wire", str(first), str(second))
    assert result.exit_code == 0, result.output
    assert f"\tAgence Wire\t{first},{second}" in invoke("partner", "list").output
    assert invoke("partner", "unassign", str(second)).exit_code == 0
    assert f"\tAgence Wire\t{first}\n" in invoke("partner", "list").output
    assert invoke("partner", "assign", "Nobody", str(first)).exit_code != 0

    result = invoke("token", "create", "--name", "feed", "--role", "partner")
    assert result.exit_code != 0 and "partner: required with the partner role" in result.output
    result = invoke(
        "token", "create", "--name", "feed", "--role", "partner", "--partner", "Agence Wire"
    )
    assert result.exit_code == 0, result.output
    with rt.db.read() as s:
        assert s.scalar(select(ApiToken.partner_id).where(ApiToken.name == "feed")) is not None
