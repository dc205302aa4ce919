"""The background work of a process: the delivery engine on its own thread, and periodic jobs
(APScheduler 3.x). Run in exactly one process of `syndication run` beside its web workers
(unless `run_jobs` is false), and in every `syndication worker` process.

- the push engine (push/engine.py): expands outbox events into deliveries and sends due ones;
  woken at once by commits of push work in any process (push/wake.py), else every
  `poll_interval` seconds.
Jobs, every `poll_interval` seconds:
- release_due: publish scheduled stories whose publish_at has come, dated at publish_at.
- verify_intents: WebSub verification of intent, and denial notices (push/websub/verify.py).
- expire_leases: end WebSub subscriptions whose lease has passed or whose topic is gone.
- heartbeat: this process's row in `heartbeats`, read by GET /ready (ops/heartbeat.py).
and hourly:
- prune: delete finished deliveries older than `delivery_retention` (push/retention.py) and
  old rate-limit windows, sign-in attempt counters and heartbeats of processes gone, and feed
  reach days older than `reach_retention_days` (reach/service.py).

Every job takes its time from the runtime's clock.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from syndication.auth import signin_limiter
from syndication.clock import Clock
from syndication.config import Settings
from syndication.db import Database
from syndication.ops import heartbeat
from syndication.push import retention
from syndication.push.websub import verify
from syndication.reach import service as reach
from syndication.runtime import Runtime
from syndication.stories.service import release_due

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600  # seconds


def release_due_stories(db: Database, settings: Settings, clock: Clock) -> int:
    """One pass of the release job; returns how many stories were published."""
    released = 0
    while True:
        with db.write() as session:
            codes = release_due(session, settings, now=clock())
        released += len(codes)
        for code in codes:
            log.info("released scheduled story %s", code)
        if len(codes) < 100:
            return released


def prune(rt: Runtime) -> None:
    deleted = retention.prune(rt.db, rt.settings, rt.clock)
    rt.limiter.prune()
    signin_limiter.prune(rt.db, rt.clock())
    heartbeat.prune(rt.db, rt.clock)
    with rt.db.write() as session:
        reach.prune(
            session, today=rt.clock().date(), retention_days=rt.settings.reach_retention_days
        )
    if deleted:
        log.info("pruned %d finished deliveries older than delivery_retention", deleted)


class Jobs:
    """The running engine and scheduler, and what stops them cleanly."""

    def __init__(self, scheduler: BackgroundScheduler, rt: Runtime) -> None:
        self.scheduler = scheduler
        self.rt = rt

    def shutdown(self, wait: bool = True) -> None:
        self.scheduler.shutdown(wait=wait)
        self.rt.push.waker.close()
        self.rt.push.engine.stop()


def beat(rt: Runtime, role: str, process: str) -> None:
    heartbeat.beat(rt.db, rt.clock, role, process)


def start_scheduler(rt: Runtime, role: str = "scheduler") -> Jobs:
    """Start the engine and the periodic jobs; `role` names this process in its heartbeat
    (scheduler: the one of `syndication run`; worker: `syndication worker`)."""
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    settings = rt.settings
    process = heartbeat.process_name()
    try:
        beat(rt, role, process)  # at once: /ready need not wait a poll interval
    except Exception:  # noqa: BLE001 - the database may be away: the job tries again
        log.exception("writing the heartbeat failed")
    common = {
        "trigger": "interval",
        "seconds": settings.poll_interval,
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": max(1, int(settings.poll_interval * 5)),
    }
    scheduler.add_job(
        release_due_stories, args=(rt.db, settings, rt.clock), id="release_due", **common
    )
    scheduler.add_job(beat, args=(rt, role, process), id="heartbeat", **common)
    scheduler.add_job(verify.verify_intents, args=(rt.push,), id="verify_intents", **common)
    scheduler.add_job(verify.expire_leases, args=(rt.push,), id="expire_leases", **common)
    scheduler.add_job(
        prune,
        args=(rt,),
        id="prune",
        trigger="interval",
        seconds=PRUNE_EVERY,
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    rt.push.engine.start()
    # Changes other processes commit wake the engine too (NOTIFY / a datagram).
    rt.push.waker.listen()
    return Jobs(scheduler, rt)
