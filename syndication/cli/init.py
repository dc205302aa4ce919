"""`syndication init`: create or upgrade the database schema (idempotent)."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.db import Database


@click.command()
@click.pass_obj
def init(ctx: CliContext) -> None:
    """Create or upgrade the database schema."""
    db = Database(ctx.settings.db_url)
    db.migrate()
    click.echo(f"database ready: {display_url(ctx.settings.db_url)}")


def display_url(url: str) -> str:
    """The URL without its password, fit for a terminal."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
