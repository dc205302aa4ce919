"""Change stamps: named rows of the sequences table holding the instant of the last change of
a kind, in microseconds since the epoch, for what has no row of its own to date it (a sitemap
lists stories; the OPML lists channels, and a deleted channel leaves no row behind).

A bump sets max(previous + 1, now), so a stamp grows on every bump whatever the clock does,
and two bumps within one microsecond still differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndication.models import Sequence

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def bump(session: Session, name: str, now: datetime) -> None:
    """Stamp `name` changed as of `now` (called in the transaction of the change)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(Sequence).values(name=name, value=0).on_conflict_do_nothing())
    micros = (now - _EPOCH) // _MICROSECOND
    session.execute(
        update(Sequence)
        .where(Sequence.name == name)
        .values(value=case((Sequence.value + 1 > micros, Sequence.value + 1), else_=micros))
    )


def current(session: Session, name: str) -> int:
    """The stamp as this transaction sees it (0 before the first bump)."""
    value = session.scalar(select(Sequence.value).where(Sequence.name == name))
    return int(value or 0)


def as_time(stamp: int) -> datetime:
    """The instant a stamp stands for."""
    return _EPOCH + stamp * _MICROSECOND
