"""`syndication run`: migrate, optionally load the demo archive, then serve with granian.

Granian (Rust HTTP server, WSGI interface) was chosen by measurement: see bench/RESULTS.md.
The scheduler runs in exactly one process of its own beside the web workers, never one per
worker, so periodic jobs never run twice.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys

import click

from syndication.cli.context import CliContext
from syndication.config import Settings, load_settings

GC_THRESHOLDS = (50_000, 20, 20)


def run_jobs_until_signalled(settings: Settings, label: str, on_started=None) -> None:  # type: ignore[no-untyped-def]
    """Run the scheduler jobs in this process until SIGTERM or SIGINT."""
    import logging
    import threading

    from syndication.runtime import Runtime
    from syndication.scheduler import start_scheduler

    logging.basicConfig(
        level=settings.log_level.upper(), format=f"%(asctime)s %(levelname)s {label}: %(message)s"
    )
    # APScheduler logs every run of every job at INFO: keep its warnings, drop the chatter.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    rt = Runtime.create(settings)
    # The delivery engine allocates a great deal of short-lived objects (aiohttp's requests
    # and responses, rows): with the default thresholds the cyclic collector ran through the
    # whole heap thousands of times per fan-out. Objects from start-up are frozen out of its
    # scans and generation 0 is collected less often: -14 % CPU per delivery
    # (bench/RESULTS.md, "Partner push fan-out").
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    jobs = start_scheduler(rt)
    if on_started is not None:
        on_started()
    while not stop.wait(1.0):
        pass
    jobs.shutdown(wait=True)
    rt.close()


def scheduler_process() -> None:
    """Entry point of the scheduler process: run the jobs until told to stop."""
    run_jobs_until_signalled(load_settings(), "scheduler")


def _workers(settings: Settings) -> int:
    return settings.workers or os.cpu_count() or 1


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo", is_flag=True, help="Load the sample archive into an empty database.")
@click.pass_obj
def run(ctx: CliContext, host: str, port: int, demo: bool) -> None:
    """Serve the web service and run the scheduler (production server, embedded defaults)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    settings = ctx.settings
    if "SYNDICATION_BASE_URL" not in os.environ and "SYNDICATION_CONFIG" not in os.environ:
        # Without a configured public URL, links point at where we actually listen.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        os.environ["SYNDICATION_BASE_URL"] = f"http://{shown}:{port}"
        settings = load_settings()
    db = ctx.db  # migrates the schema
    if demo:
        from syndication.demo.archive import load_demo

        loaded = load_demo(db, settings, now=ctx.clock())
        if loaded:
            click.echo(f"demo archive loaded: {loaded[0]} channels, {loaded[1]} stories")
        else:
            click.echo("demo archive not loaded: the database already has content")
    db.dispose()

    base = settings.base_url
    click.echo(f"syndication serving on http://{host}:{port} with {_workers(settings)} workers")
    click.echo(f"  channels:      {base}/")
    click.echo(f"  all feeds:     {base}/feeds.opml")
    click.echo(f"  a feed:        {base}/feeds/<channel>.rss | .atom | .json")
    click.echo(f"  health:        {base}/healthz")
    sys.stdout.flush()

    scheduler = None
    if settings.run_jobs:
        scheduler = multiprocessing.get_context("spawn").Process(
            target=scheduler_process, name="syndication-scheduler", daemon=False
        )
        scheduler.start()
    else:
        click.echo("  jobs:          not run here (run_jobs = false): run `syndication worker`")
        sys.stdout.flush()
    try:
        Granian(
            "syndication.app:create_app",
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.WSGI,
            workers=_workers(settings),
            # 4 threads per worker measured fastest (bench/RESULTS.md); granian's default of 256
            # is slower and warns about itself.
            blocking_threads=4,
            http=HTTPModes.http1,
            websockets=False,
            backlog=2048,
            # A worker that has not installed its own SIGTERM handler yet can swallow the
            # signal; this bounds shutdown in that case.
            workers_kill_timeout=30,
            log_level="warning" if settings.log_level.upper() != "DEBUG" else "debug",
        ).serve()
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(timeout=10)
