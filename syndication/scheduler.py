"""Periodic jobs (APScheduler 3.x), run in exactly one process of `syndication run` beside its
web workers (unless `run_jobs` is false), and in every `syndication worker` process.

Jobs:
- release_due: publish scheduled stories whose publish_at has come, dated at publish_at.
- push: expand outbox events into deliveries and send due deliveries (push/jobs.py); also run
  at once when this process commits an event.
- verify_intents: WebSub verification of intent of pending subscribe / unsubscribe requests,
  and denial notices (push/hub.py).
- expire_leases: end WebSub subscriptions whose lease has passed or whose topic is gone.
"""

from __future__ import annotations

import logging
import threading

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


class Jobs:
    """The running scheduler and what stops it cleanly."""

    def __init__(
        self, scheduler: BackgroundScheduler, push, stop: threading.Event, waker, listener
    ):  # type: ignore[no-untyped-def]
        self.scheduler = scheduler
        self.push = push
        self.stop = stop
        self.waker = waker
        self.listener = listener

    def shutdown(self, wait: bool = True) -> None:
        from syndication.push.jobs import close_senders

        self.stop.set()
        self.listener.stop()
        self.push.stop.set()
        self.scheduler.shutdown(wait=wait)
        self.waker.join(timeout=5)
        close_senders()


def start_scheduler(db: Database, settings: Settings) -> Jobs:
    from syndication.push.jobs import PushJob, waker
    from syndication.push.wake import Listener

    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    common = {
        "trigger": "interval",
        "seconds": settings.poll_interval,
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": max(1, int(settings.poll_interval * 5)),
    }
    scheduler.add_job(release_due_stories, args=(db, settings), id="release_due", **common)
    from syndication.push import hub

    scheduler.add_job(hub.verify_intents, args=(db, settings), id="verify_intents", **common)
    scheduler.add_job(hub.expire_leases, args=(db, settings), id="expire_leases", **common)
    push = PushJob(db, settings)
    scheduler.add_job(push, id="push", next_run_time=utcnow(), **common)
    scheduler.start()
    stop = threading.Event()
    thread = threading.Thread(
        target=waker, args=(scheduler, push, "push", stop), name="push-waker", daemon=True
    )
    thread.start()
    # Changes other processes commit wake the push job too (NOTIFY / a datagram).
    listener = Listener(db).start()
    return Jobs(scheduler, push, stop, thread, listener)
