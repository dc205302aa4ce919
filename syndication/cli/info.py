"""`syndication info`: which database, base URL, instance folder and config file this command
uses, and why (so "no users" from another folder or a wrong port is explained, not guessed)."""

from __future__ import annotations

import os

import click

from syndication.cli.context import CliContext
from syndication.cli.init import display_url
from syndication.config import ENV_PREFIX, HOME_ENV


@click.command()
@click.pass_obj
def info(ctx: CliContext) -> None:
    """Print the database URL (password hidden), base URL, instance folder and config file."""
    settings, origins = ctx.settings, ctx.origins
    config_file = os.environ.get(ENV_PREFIX + "CONFIG")
    rows = [
        (
            "database",
            display_url(settings.db_url),
            origins.get("database_url", "default: syndication.db in the instance folder"),
        ),
        ("base URL", settings.base_url, origins.get("base_url", "default")),
        (
            "instance folder",
            str(settings.instance_dir),
            origins.get("instance_path", f"default: per-user data directory; {HOME_ENV} not set"),
        ),
        (
            "config file",
            config_file or "none",
            f"{ENV_PREFIX}CONFIG" + ("" if config_file else " not set: built-in defaults"),
        ),
    ]
    for label, value, origin in rows:
        click.echo(f"{label + ':':<17}{value}  ({origin})")
