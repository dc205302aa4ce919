"""Periodic jobs (APScheduler 3.x), run in exactly one process: `syndication run`'s main
process beside its web workers (later also `syndication worker` processes).

Jobs:
- release_due: publish scheduled stories whose publish_at has come, dated at publish_at.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from syndication.config import Settings
from syndication.db import Database
from syndication.runtime import utcnow
from syndication.stories.service import release_due

log = logging.getLogger(__name__)


def release_due_stories(db: Database, settings: Settings) -> int:
    """One pass of the release job; returns how many stories were published."""
    released = 0
    while True:
        with db.write() as session:
            codes = release_due(session, settings, now=utcnow())
        released += len(codes)
        for code in codes:
            log.info("released scheduled story %s", code)
        if len(codes) < 100:
            return released


def start_scheduler(db: Database, settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    scheduler.add_job(
        release_due_stories,
        "interval",
        args=(db, settings),
        seconds=settings.poll_interval,
        id="release_due",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(settings.poll_interval * 5)),
    )
    scheduler.start()
    return scheduler
