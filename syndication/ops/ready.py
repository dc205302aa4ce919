"""Readiness (GET /ready): may this node take traffic? Three checks, each cheap:

- database: `SELECT 1` answers;
- migrations: the schema is at the revision this code expects (alembic's head): a node whose
  code is newer than its database (or older) is not ready;
- scheduler: a job process wrote its heartbeat within 3 poll_interval of now (the runtime's
  clock), unless `ready_requires_scheduler` is false.

The answer names each check's state and nothing else: no error text, no URL, no revision ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text

from syndication.clock import Clock
from syndication.config import Settings
from syndication.db import MIGRATIONS, Database
from syndication.ops import heartbeat

OK = "ok"
NOT_REQUIRED = "not required"
PASSING = (OK, NOT_REQUIRED)
STALE_AFTER_POLLS = 3


def head_revisions() -> frozenset[str]:
    """The revisions this code's migrations end at (read from the migration scripts)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


@dataclass
class Readiness:
    db: Database
    settings: Settings
    clock: Clock
    # Read from the scripts on the first check; they do not change while the process runs.
    _heads: frozenset[str] | None = field(default=None, repr=False)

    def check(self) -> tuple[bool, dict[str, str]]:
        """(ready, {check: state}); a state other than "ok" or "not required" failed."""
        checks: dict[str, str] = {}
        try:
            with self.db.read() as session:
                session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - whatever the driver raises, the database is away
            # Without the database neither of the others can be told.
            return False, dict(database="unreachable", migrations="unknown", scheduler="unknown")
        checks["database"] = OK
        try:
            with self.db.read() as session:
                current = frozenset(
                    session.scalars(text("SELECT version_num FROM alembic_version"))
                )
        except Exception:  # noqa: BLE001 - no alembic_version table: never migrated
            current = frozenset()
        if self._heads is None:
            self._heads = head_revisions()
        checks["migrations"] = OK if current == self._heads else "not current"
        checks["scheduler"] = self._scheduler()
        return all(v in PASSING for v in checks.values()), checks

    def _scheduler(self) -> str:
        if not self.settings.ready_requires_scheduler:
            return NOT_REQUIRED
        try:
            last = heartbeat.newest(self.db)
        except Exception:  # noqa: BLE001 - no heartbeats table yet: migrations say why
            return "unknown"
        if last is None:
            return "no heartbeat"
        age = (self.clock() - last).total_seconds()
        return OK if age <= STALE_AFTER_POLLS * self.settings.poll_interval else "stale"
