"""syndication/bulk.py: rows written in one JSON-carried statement read back exactly as the ORM
would have written them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from syndication import bulk
from syndication.models import Delivery, DeliveryAttempt, Event, Subscriber, Visit

NOW = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _events_and_subscriber(rt) -> tuple[list[int], int]:
    with rt.db.write() as s:
        events = [
            Event(type="ping", story_id=None, story_code="", snapshot={}, terms=[], created_at=NOW)
            for _ in range(3)
        ]
        sub = Subscriber(name="p", url="https://p.example/h", secret="whsec_x", created_at=NOW)
        s.add_all([*events, sub])
        s.flush()
        return [e.id for e in events], sub.id


def test_insert_and_update_read_back_exactly(rt):
    event_ids, sub_id = _events_and_subscriber(rt)
    paris = timezone(timedelta(hours=1))
    rows = [
        {
            "event_id": event_ids[n],
            "subscriber_id": sub_id,
            "message_id": f"msg_{n}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": NOW + timedelta(microseconds=n),
            "last_error": None if n else 'ünïcødé "quoted" \\ and \' too',
            "created_at": NOW.astimezone(paris),  # any offset: stored as UTC
        }
        for n in range(3)
    ]
    with rt.db.write() as s:
        bulk.insert_rows(s, Delivery.__table__, rows)
    with rt.db.read() as s:
        got = list(s.scalars(select(Delivery).order_by(Delivery.message_id)))
    assert [d.next_attempt_at for d in got] == [r["next_attempt_at"] for r in rows]
    assert all(d.created_at == NOW and d.created_at.tzinfo is not None for d in got)
    assert got[0].last_error == rows[0]["last_error"] and got[1].last_error is None
    big = 2**40 if rt.db.is_sqlite else 2**31 - 1  # SQLite holds any integer
    with rt.db.write() as s:
        bulk.update_rows(
            s,
            Delivery.__table__,
            [
                {"id": got[0].id, "status": "delivered", "attempts": 1, "delivered_at": NOW},
                {"id": got[2].id, "status": "dead", "attempts": 8, "delivered_at": None},
            ],
        )
        bulk.update_rows(s, Subscriber.__table__, [{"id": sub_id, "active": False}])
        bulk.insert_rows(
            s,
            DeliveryAttempt.__table__,
            [{"delivery_id": got[0].id, "at": NOW, "status_code": 204, "latency_ms": big}],
        )
    with rt.db.read() as s:
        after = {d.message_id: d for d in s.scalars(select(Delivery))}
        assert (after["msg_0"].status, after["msg_0"].attempts) == ("delivered", 1)
        assert after["msg_0"].delivered_at == NOW
        assert (after["msg_1"].status, after["msg_2"].status) == ("pending", "dead")
        assert s.get(Subscriber, sub_id).active is False
        # Ordered comparisons still work on what bulk wrote (SQLite compares the text).
        due = s.scalars(select(Delivery.message_id).where(Delivery.next_attempt_at <= NOW)).all()
        assert due == ["msg_0"]
        (attempt,) = s.scalars(select(DeliveryAttempt))
        assert attempt.latency_ms == big and attempt.at == NOW


def test_what_it_cannot_carry_is_refused(rt):
    with rt.db.write() as s, pytest.raises(TypeError, match="snapshot"):
        bulk.insert_rows(s, Event.__table__, [{"snapshot": {}}])
    with rt.db.write() as s, pytest.raises(ValueError, match="naive"):
        bulk.insert_rows(
            s, Visit.__table__, [{"link_id": 1, "at": datetime(2026, 1, 1), "medium": "qr"}]
        )


def test_json_memo_decodes_each_text_once():
    memo = bulk.JsonMemo(size=2)
    first = memo('{"a": 1}')
    assert memo('{"a": 1}') is first and memo(None) is None
    memo("[1]")
    memo("[2]")  # over the bound: starts afresh, still right
    assert memo('{"a": 1}') == {"a": 1}
