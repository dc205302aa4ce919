"""Store parsed records, so that a bad record costs only itself and an import never holds the
write lock for long.

- Each record is stored in its own savepoint and any exception it raises (a rule it breaks, a
  date the driver cannot convert, text the database cannot encode, a unique index) is caught
  there: the record is reported with its location and skipped, the others carry on.
- Records commit in short transactions (at most `BATCH_RECORDS` records or `BATCH_SECONDS` of
  work each), so another writer waits for one short transaction, never for the import. If a
  transaction still fails as a whole (at commit, say), its records are stored again one per
  transaction, which isolates the culprit.
- On SQLite the import pauses between transactions: SQLite has no queue of waiting writers,
  a waiting writer polls the lock every 100 ms at most, and an importer that begins its next
  transaction within a millisecond of committing the last wins nearly every time (writers
  waited up to 18 s during a 5,000-story import). PostgreSQL queues lock waiters, so it needs
  no pause. bench/import_while_writing.py measures both.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import StatementError

from syndication.clock import Clock, utcnow
from syndication.config import Settings
from syndication.db import Database
from syndication.errors import ServiceError
from syndication.imports.records import Record, content_identity
from syndication.stories.schema import StoryInput, prepare_story
from syndication.stories.service import upsert_story

log = logging.getLogger(__name__)

BATCH_RECORDS = 100  # records read ahead (outside any transaction) and most per transaction
BATCH_SECONDS = 0.2  # a transaction commits once its work has taken this long
SQLITE_PAUSE = 0.12  # > SQLite's longest busy-handler sleep (100 ms): a waiting writer gets in

Outcome = str  # created / updated / unchanged / failed
# A record and its validated, sanitised story (None: the record failed before storing).
Item = tuple[Record, StoryInput | None]


@dataclass
class ImportSummary:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    transactions: int = 0  # committed write transactions (for tests and benchmarks)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def line(self) -> str:
        c = self.counts
        return (
            f"imported {c['created']}, updated {c['updated']}, unchanged {c['unchanged']}, "
            f"failed {self.failed}"
        )


def import_records(
    db: Database,
    settings: Settings,
    records: Iterable[Record],
    *,
    publish: bool = False,
    on_record: Callable[[Record, str], None] | None = None,
    clock: Clock = utcnow,
    batch_records: int = BATCH_RECORDS,
    batch_seconds: float | None = BATCH_SECONDS,
    pause: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportSummary:
    """Upsert every good record (by story code, else external id); report every bad one.

    `on_record(record, outcome)` is called after each record with created / updated /
    unchanged / failed, once the record's transaction has committed (what is reported is
    what is stored), for progress display. `batch_records`, `batch_seconds` (None: no time
    limit) and `pause` (between transactions; default SQLITE_PAUSE on SQLite, none on
    PostgreSQL) bound how long the import holds the write lock; the defaults are what the
    CLI uses, other values exist for the benchmark.
    """
    if pause is None:
        pause = SQLITE_PAUSE if db.is_sqlite else 0.0
    store = _Store(
        db,
        settings,
        default_status="published" if publish else "draft",
        clock=clock,
        batch_seconds=batch_seconds,
        pause=pause,
        sleep=sleep,
        on_record=on_record,
    )
    pending: deque[Item] = deque()
    for record in records:
        # Refused records queue with the others, so failures are listed in file order.
        if record.data is None:
            pending.append((record, None))
            continue
        if not record.data.get("code") and not record.data.get("external_id"):
            # Without either, a second import could not find the story again.
            record = replace(
                record, data={**record.data, "external_id": content_identity("record", record.data)}
            )
        pending.append(_prepare(record, settings))
        if len(pending) >= batch_records:
            store.drain(pending)
    store.drain(pending)
    return store.summary


class _Store:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        default_status: str,
        clock: Clock,
        batch_seconds: float | None,
        pause: float,
        sleep: Callable[[float], None],
        on_record: Callable[[Record, str], None] | None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.default_status = default_status
        self.clock = clock
        self.batch_seconds = batch_seconds
        self.pause = pause
        self.sleep = sleep
        self.on_record = on_record
        self.summary = ImportSummary()

    def report(self, record: Record, outcome: Outcome, reason: str | None = None) -> None:
        if outcome == "failed":
            self.summary.failures.append((record.location, reason or "unreadable record"))
        else:
            self.summary.counts[outcome] += 1
        if self.on_record:
            self.on_record(record, outcome)

    def drain(self, pending: deque[Item]) -> None:
        """Store every pending record, in as many short transactions as it takes."""
        while pending:
            while pending and pending[0][1] is None:  # no transaction for these
                record, _ = pending.popleft()
                self.report(record, "failed", record.error)
            if not pending:
                return
            if self.summary.transactions and self.pause:
                self.sleep(self.pause)
            taken, results = self._transaction(pending)
            if results is None:
                # The transaction failed as a whole: one record per transaction finds the
                # record that broke it without losing the others.
                results = [self._alone(item) for item in taken]
            for record, outcome, reason in results:
                self.report(record, outcome, reason)

    def _transaction(
        self, pending: deque[Item]
    ) -> tuple[list[Item], list[tuple[Record, Outcome, str | None]] | None]:
        """Take records off `pending` until the batch's time is up; commit them together.
        Returns the records taken and their results, or None for the results if the
        transaction itself failed (nothing of it is stored then)."""
        taken: list[Item] = []
        results: list[tuple[Record, Outcome, str | None]] = []
        started = time.monotonic()
        try:
            with self.db.write() as session:
                while pending:
                    item = pending.popleft()
                    taken.append(item)
                    results.append((item[0], *self._one(session, item)))
                    if (
                        self.batch_seconds is not None
                        and time.monotonic() - started >= self.batch_seconds
                    ):
                        break
        except Exception:  # noqa: BLE001 - any failure of the whole: retried record by record
            log.debug("import transaction failed; retrying its records one by one", exc_info=True)
            return taken, None
        self.summary.transactions += 1
        return taken, results

    def _alone(self, item: Item) -> tuple[Record, Outcome, str | None]:
        record = item[0]
        if self.summary.transactions and self.pause:
            self.sleep(self.pause)
        try:
            with self.db.write() as session:
                outcome, reason = self._one(session, item)
        except Exception as exc:  # noqa: BLE001 - reported against the record, never raised
            log.debug("import of %s failed at commit", record.location, exc_info=True)
            return record, "failed", _reason(exc, record.data)
        self.summary.transactions += 1
        return record, outcome, reason

    def _one(self, session: Any, item: Item) -> tuple[Outcome, str | None]:
        """Upsert one record in a savepoint: whatever it raises is its own failure."""
        record, story = item
        if story is None:
            return "failed", record.error
        try:
            with session.begin_nested():
                _, outcome = upsert_story(
                    session,
                    self.settings,
                    story,
                    now=self.clock(),
                    default_status=self.default_status,
                )
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the import
            if not isinstance(exc, ServiceError):
                log.debug("import of %s failed", record.location, exc_info=True)
            return "failed", _reason(exc, record.data)
        return outcome, None


def _prepare(record: Record, settings: Settings) -> Item:
    """Validate and sanitise (CPU work) before any transaction opens, so that no other
    writer waits for it; a record that fails here is reported like one that fails to store."""
    try:
        return record, prepare_story(record.data, settings)
    except Exception as exc:  # noqa: BLE001 - one bad record must not stop the import
        if not isinstance(exc, ServiceError):
            log.debug("import of %s failed", record.location, exc_info=True)
        return replace(record, error=_reason(exc, record.data)), None


def _reason(exc: BaseException, data: Any) -> str:
    """One line for the CLI: a rule broken says which field and why; anything else says what
    went wrong, without a traceback."""
    if isinstance(exc, ServiceError):
        if exc.fields:
            return "; ".join(f"{name}: {msg}" if name else msg for name, msg in exc.fields.items())
        return exc.message
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig  # the driver's error, without the SQL and its parameters
    if isinstance(exc, UnicodeError) or "surrogate" in str(exc):
        where = _surrogate_path(data)
        return f"{where + ': ' if where else ''}contains a lone surrogate, which is not valid text"
    if isinstance(exc, OverflowError):
        where = _overflowing_date(data)
        return f"{where + ': ' if where else ''}date is out of range once converted to UTC"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"could not be stored: {type(exc).__name__}{': ' + detail if detail else ''}"


def _overflowing_date(data: Any) -> str | None:
    """The top-level field whose date cannot be converted to UTC (year 1 or 9999 with an
    offset that pushes it past the end of the calendar)."""
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if not isinstance(value, str):
            continue
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except OverflowError:
            return str(key)
        except (ValueError, TypeError):
            continue
    return None


def _surrogate_path(value: Any, path: str = "") -> str | None:
    """The field holding a lone surrogate (U+D800–U+DFFF), e.g. "url" or "image.url"."""
    if isinstance(value, str):
        return (path or None) if _has_surrogate(value) else None
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        key_text = str(key)
        if _has_surrogate(key_text):
            return f"{path}.{key_text!r}".lstrip(".")
        found = _surrogate_path(item, f"{path}.{key}" if path else key_text)
        if found:
            return found
    return None


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)
