"""The sign of life of the processes that run the jobs: each writes its row of `heartbeats`
every poll_interval (a scheduler job), with the time of the runtime's clock; GET /ready reads
the newest row. Rows of processes gone are deleted by the hourly prune."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from syndication.clock import Clock
from syndication.db import Database
from syndication.models import Heartbeat

KEEP = timedelta(days=1)
_T = Heartbeat.__table__


def process_name() -> str:
    """This process, as its heartbeat row names it: "<host>:<pid>"."""
    return f"{socket.gethostname()[:180]}:{os.getpid()}"


def beat(db: Database, clock: Clock, role: str, process: str | None = None) -> None:
    """Write this process's heartbeat (one upsert)."""
    now = clock()
    with db.write() as session:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_T).values(process=process or process_name(), role=role, at=now)
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[_T.c.process],
                set_={"role": insert.excluded.role, "at": insert.excluded.at},
            )
        )


def newest(db: Database) -> datetime | None:
    """When the most recent heartbeat of any process was written (ix_heartbeats_at)."""
    with db.read() as session:
        return session.scalar(select(func.max(Heartbeat.at)))


def prune(db: Database, clock: Clock) -> int:
    """Delete the rows of processes silent for a day; returns how many."""
    with db.write() as session:
        result = session.execute(delete(Heartbeat).where(Heartbeat.at < clock() - KEEP))
        return result.rowcount or 0
