"""`syndication stories kill`: the story life cycle from the command line."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.stories import kill as takedown


@click.group()
def stories() -> None:
    """Stories: take one down."""


@stories.command("kill")
@click.argument("code")
@click.option("--reason", required=True, help="Why it is taken down (kept in the tombstone).")
@click.pass_obj
def kill(ctx: CliContext, code: str, reason: str) -> None:
    """Take story CODE down for good: its content is erased everywhere, partners are told."""
    try:
        with ctx.db.write() as session:
            story = takedown.kill_story(session, ctx.settings, code, reason, now=ctx.clock())
            revision = story.revision
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"story {code} killed (revision {revision}); only its tombstone remains")
