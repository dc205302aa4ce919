"""`syndication run`: migrate, optionally load the demo archive, then serve with granian.

Granian (Rust HTTP server, WSGI interface) was chosen by measurement: see bench/RESULTS.md.
The scheduler runs in exactly one process of its own beside the web workers, never one per
worker, so periodic jobs never run twice. Both kinds of child die with `run`, even when it is
killed with SIGKILL (lifeline.py); `run` refuses a port that something already listens on.
"""

from __future__ import annotations

import errno
import gc
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing import util as mp_util
from typing import NoReturn

import click

from syndication.auth import users
from syndication.cli.context import CliContext
from syndication.cli.lifeline import PARENT_ENV, follow_parent, follow_parent_from_env
from syndication.command import first_admin_command
from syndication.config import Settings, load_settings, record_base_url
from syndication.ops import metrics
from syndication.ops.logs import granian_log_config

GC_THRESHOLDS = (50_000, 20, 20)
METRICS_DIR = "metrics"  # in the instance folder: the processes' shared metrics files


def run_jobs_until_signalled(settings: Settings, label: str, on_started=None) -> None:  # type: ignore[no-untyped-def]
    """Run the scheduler jobs in this process until SIGTERM or SIGINT."""
    import logging
    import threading

    from syndication.ops.logs import setup_logging
    from syndication.runtime import Runtime
    from syndication.scheduler import start_scheduler

    setup_logging(settings, label)
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
    jobs = start_scheduler(rt, role=label)
    log = logging.getLogger("syndication.jobs")
    log.info("jobs started")
    if on_started is not None:
        on_started()
    while not stop.wait(1.0):
        pass
    jobs.shutdown(wait=True)
    rt.close()
    log.info("jobs stopped")
    metrics.mark_dead(os.getpid())


def scheduler_process(parent_pid: int) -> None:
    """Entry point of the scheduler process: run the jobs until told to stop, or until
    `syndication run` (`parent_pid`) is gone."""
    follow_parent(parent_pid)
    run_jobs_until_signalled(load_settings(), "scheduler")


def web_app():  # type: ignore[no-untyped-def]
    """Granian's factory, called in each web worker: the app, in a worker that dies with `run`."""
    from syndication.app import create_app

    follow_parent_from_env()
    app = create_app()
    # Its live gauges leave the sums when it exits (granian's workers leave through os._exit,
    # which runs multiprocessing's finalizers, not atexit).
    mp_util.Finalize(app, metrics.mark_dead, args=(os.getpid(),), exitpriority=10)
    return app


def _listen_or_exit(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, or exit with one line saying why not.

    Granian's workers bind with SO_REUSEPORT, so a second `run` on a busy port would start
    without error and share the traffic with the first (or with any SO_REUSEPORT server of the
    same user). This socket does not set SO_REUSEPORT, so the kernel refuses it while anything
    listens there; SO_REUSEADDR keeps it from tripping on connections of an earlier server still
    in TIME_WAIT. Held while the database is migrated, it also stops a second `run` started in
    the meantime; closed just before granian binds.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        _exit_with(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1)
    except OSError as exc:
        sock.close()
        hint = " (is another server running there?)" if exc.errno == errno.EADDRINUSE else ""
        _exit_with(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}")
    return sock


def _exit_with(message: str) -> NoReturn:
    click.echo(f"syndication run: {message}", err=True)
    sys.exit(1)


def _base_url_configured(origins: dict[str, str]) -> bool:
    """Whether base_url was set (file, environment), not left at its default or recorded."""
    origin = origins.get("base_url", "")
    return bool(origin) and not origin.startswith("recorded")


def listening_base_url(host: str, port: int) -> str:
    """The base URL of a server listening on host:port (a wildcard address shown as loopback,
    an IPv6 address in brackets)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


DEMO_ADMIN = "admin"


def create_demo_admin(db, now) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    """With no user at all, an admin `admin` with a random password: (username, password) to
    print once; None when any user exists (nothing is changed then)."""
    import secrets

    password = secrets.token_urlsafe(12)
    with db.write() as session:
        if users.any_user(session):
            return None
        users.create_user(session, DEMO_ADMIN, password, "admin", now=now)
    return DEMO_ADMIN, password


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
    from granian.http import HTTP1Settings

    held = _listen_or_exit(host, port)
    settings = ctx.settings
    # Before any child starts: the web workers and the scheduler count into one directory,
    # read whole by a scrape in any worker (ops/metrics.py).
    metrics.enable_multiprocess(settings.instance_dir / METRICS_DIR)
    if not _base_url_configured(ctx.origins):
        # Without a configured public URL, links point at where we actually listen; recorded in
        # the instance folder so other commands print the same URLs while we serve.
        os.environ["SYNDICATION_BASE_URL"] = listening_base_url(host, port)
        try:
            record_base_url(settings, os.environ["SYNDICATION_BASE_URL"])
        except OSError as exc:  # a read-only instance folder costs only the other commands' URLs
            click.echo(f"syndication run: base URL not recorded: {exc}", err=True)
        settings = load_settings()
    db = ctx.db  # migrates the schema
    first_admin = None
    if demo:
        from syndication.demo.archive import load_demo

        loaded = load_demo(db, settings, now=ctx.clock())
        if loaded:
            click.echo(f"demo archive loaded: {loaded[0]} channels, {loaded[1]} stories")
        else:
            click.echo("demo archive not loaded: the database already has content")
        first_admin = create_demo_admin(db, now=ctx.clock())
    with db.read() as session:
        has_users = users.any_user(session)
    db.dispose()

    base = settings.base_url
    click.echo(f"syndication serving on http://{host}:{port} with {_workers(settings)} workers")
    click.echo(f"  public site:   {base}/")
    click.echo(f"  admin:         {base}/admin/")
    click.echo(f"  API docs:      {base}/api/docs")
    click.echo(f"  all feeds:     {base}/feeds.opml")
    click.echo(f"  a feed:        {base}/feeds/<channel>.rss | .atom | .json")
    click.echo(f"  health:        {base}/healthz   ready: {base}/ready")
    click.echo(f"  metrics:       {base}/metrics (Prometheus; metrics_allow / metrics_token)")
    if first_admin is not None:
        click.echo(
            f"  sign in:       user {first_admin[0]!r}, password {first_admin[1]} "
            "(demo admin created now; the password is shown only this once)"
        )
    elif not has_users:
        click.echo(f"  no admin user yet; create one with: {first_admin_command()}")
    sys.stdout.flush()

    scheduler = None
    if settings.run_jobs:
        scheduler = multiprocessing.get_context("spawn").Process(
            target=scheduler_process,
            args=(os.getpid(),),
            name="syndication-scheduler",
            daemon=False,
        )
        scheduler.start()
    else:
        click.echo("  jobs:          not run here (run_jobs = false): run `syndication worker`")
        sys.stdout.flush()
    os.environ[PARENT_ENV] = str(os.getpid())  # for the workers' lifeline
    held.close()
    try:
        Granian(
            "syndication.cli.run:web_app",
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
            # One timer covers a connection that sends nothing, headers trickled in (slowloris)
            # and an idle keep-alive connection waiting for its next request: each is closed
            # once it has not delivered a complete request head for this long. (Granian has no
            # separate keep-alive timeout.) Connections held open this way are bounded per worker
            # by backpressure (backlog / workers), far above what one client should hold.
            http1_settings=HTTP1Settings(
                header_read_timeout=round(settings.http_header_timeout * 1000)
            ),
            # A worker that has not installed its own SIGTERM handler yet can swallow the
            # signal; this bounds shutdown in that case.
            workers_kill_timeout=30,
            log_level="warning" if settings.log_level.upper() != "DEBUG" else "debug",
            log_dictconfig=granian_log_config(settings),
        ).serve()
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(timeout=10)
            metrics.mark_dead(scheduler.pid)  # if it died without saying so itself
        metrics.mark_dead(os.getpid())  # this process's own runtime (migrating) made a gauge
