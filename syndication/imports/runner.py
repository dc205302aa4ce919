"""Store parsed records: each in its own savepoint, so a bad record fails alone and a failure
never leaves a half-written story; good records commit in batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from syndication.clock import Clock, utcnow
from syndication.config import Settings
from syndication.db import Database
from syndication.errors import ServiceError
from syndication.imports.records import Record, content_identity
from syndication.stories.schema import StoryInput, prepare_story
from syndication.stories.service import upsert_story

BATCH = 200


@dataclass
class ImportSummary:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)

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
) -> ImportSummary:
    """Upsert every good record (by story code, else external id); report every bad one.

    `on_record(record, outcome)` is called after each record with created / updated /
    unchanged / failed, for progress display.
    """
    summary = ImportSummary()
    default_status = "published" if publish else "draft"
    batch: list[Record] = []

    def flush() -> None:
        if not batch:
            return
        outcomes: list[tuple[Record, str]] = []
        # Validation and sanitising (CPU) happen before the write transaction opens.
        prepared: list[tuple[Record, StoryInput | ServiceError]] = []
        for record in batch:
            try:
                prepared.append((record, prepare_story(record.data, settings)))
            except ServiceError as exc:
                prepared.append((record, exc))
        with db.write() as session:
            for record, story_in in prepared:
                if isinstance(story_in, ServiceError):
                    summary.failures.append((record.location, _reason(story_in)))
                    outcomes.append((record, "failed"))
                    continue
                try:
                    with session.begin_nested():
                        _, outcome = upsert_story(
                            session,
                            settings,
                            story_in,
                            now=clock(),
                            default_status=default_status,
                        )
                except ServiceError as exc:
                    summary.failures.append((record.location, _reason(exc)))
                    outcome = "failed"
                outcomes.append((record, outcome))
        # Counted only once the batch is committed: what is reported is what is stored.
        for record, outcome in outcomes:
            if outcome != "failed":
                summary.counts[outcome] += 1
            if on_record:
                on_record(record, outcome)
        batch.clear()

    for record in records:
        if record.data is None:
            summary.failures.append((record.location, record.error or "unreadable record"))
            if on_record:
                on_record(record, "failed")
            continue
        if not record.data.get("code") and not record.data.get("external_id"):
            # Without either, a second import could not find the story again.
            record = replace(
                record, data={**record.data, "external_id": content_identity("record", record.data)}
            )
        batch.append(record)
        if len(batch) >= BATCH:
            flush()
    flush()
    return summary


def _reason(exc: ServiceError) -> str:
    if exc.fields:
        return "; ".join(f"{name}: {msg}" if name else msg for name, msg in exc.fields.items())
    return exc.message
