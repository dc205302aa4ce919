"""`syndication stories kill|correct`: the story life cycle from the command line."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.errors import Conflict, ServiceError
from syndication.stories import kill as takedown
from syndication.stories import service


@click.group()
def stories() -> None:
    """Stories: corrections and takedowns."""


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


@stories.command("correct")
@click.argument("code")
@click.option("--text", required=True, help="The correction, plain text (up to 2000 characters).")
@click.pass_obj
def correct(ctx: CliContext, code: str, text: str) -> None:
    """Append a public correction to published story CODE (a new revision; its page, feeds and
    partners get it). The same text again adds nothing."""
    try:
        clean = service.correction_text(text)
        with ctx.db.write() as session:
            story, appended = service.correct_story(
                session, ctx.settings, code, clean, now=ctx.clock()
            )
            revision = story.revision
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    if appended:
        click.echo(f"story {code} corrected: revision {revision}")
    else:
        click.echo(f"story {code} already has this correction: revision {revision}")


def _explain(exc: ServiceError) -> str:
    if isinstance(exc, Conflict):
        return exc.message
    if exc.fields:
        return "; ".join(f"{f or 'story'}: {m}" for f, m in exc.fields.items())
    return exc.message
