"""`syndication worker`: run only the scheduler jobs (pushes, scheduled releases…), for scaling
out. Any number can run against PostgreSQL; they share the deliveries without double sends."""

from __future__ import annotations

import sys

import click

from syndication.cli.context import CliContext


@click.command()
@click.pass_obj
def worker(ctx: CliContext) -> None:
    """Run the scheduler jobs (no web server) until SIGTERM or Ctrl-C."""
    from syndication.cli.run import run_jobs_until_signalled

    settings = ctx.settings
    ctx.db.dispose()  # migrates the schema; the jobs open their own connections

    def started() -> None:
        click.echo(
            f"syndication worker running (poll every {settings.poll_interval:g} s, "
            f"{settings.push_concurrency} concurrent deliveries)"
        )
        sys.stdout.flush()

    run_jobs_until_signalled(settings, "worker", on_started=started)
