"""`syndication channel add|list|remove`."""

from __future__ import annotations

import click

from syndication.channels import service
from syndication.cli.context import CliContext
from syndication.errors import ServiceError


@click.group()
def channel() -> None:
    """Set up the channels that feeds are made of."""


@channel.command("add")
@click.argument("slug")
@click.option("--title", required=True, help="Channel title.")
@click.option("--description", help="Defaults to the title.")
@click.option("--section", "sections", multiple=True, help="Filter: story section (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Filter: story tag (repeatable).")
@click.option("--language", "languages", multiple=True, help="Filter: language (repeatable).")
@click.option("--source", "sources", multiple=True, help="Filter: story source (repeatable).")
@click.option("--author", "authors", multiple=True, help="Filter: author (repeatable).")
@click.option("--limit", type=int, help="Items per page (default 50, max 500).")
@click.option("--content", type=click.Choice(["summary", "full"]), help="Default: full.")
@click.option("--feed-language", help="Declared language when the filter does not decide it.")
@click.option("--link", help="Home page of the channel (default: its page on this service).")
@click.option("--copyright", "copyright_", help="Copyright line.")
@click.option("--logo", help="Absolute URL of a logo image.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["rss", "atom", "json"]),
    help="Enabled format (repeatable; default all three).",
)
@click.pass_obj
def add(ctx: CliContext, slug: str, **opts: object) -> None:
    """Create channel SLUG. Repeated filter options of one kind are ORed, kinds are ANDed."""
    data = {
        "slug": slug,
        "title": opts["title"],
        "description": opts["description"],
        "language": opts["feed_language"],
        "link": opts["link"],
        "copyright": opts["copyright_"],
        "logo": opts["logo"],
        "limit": opts["limit"],
        "content": opts["content"],
        "formats": list(opts["formats"]) or None,  # type: ignore[call-overload]
        "filter": {
            k: list(opts[k])
            for k in ("sections", "tags", "languages", "sources", "authors")  # type: ignore[call-overload]
            if opts[k]
        },
    }
    data = {k: v for k, v in data.items() if v is not None}
    try:
        with ctx.db.write() as session:
            created = service.create_channel(session, data, now=ctx.clock())
            info = service.channel_to_dict(created, ctx.settings)
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"channel {slug} created")
    for url in info["feeds"].values():
        click.echo(f"  {url}")


@channel.command("list")
@click.pass_obj
def list_(ctx: CliContext) -> None:
    """List channels with their filters and feed URLs."""
    with ctx.db.read() as session:
        rows = [service.channel_to_dict(c, ctx.settings) for c in service.list_channels(session)]
    if not rows:
        click.echo("no channels")
    for row in rows:
        flt = ", ".join(f"{k}={'|'.join(v)}" for k, v in row["filter"].items()) or "every story"
        click.echo(
            f"{row['slug']}\t{row['title']}\t[{flt}]\t{row['language']}\t"
            f"{row['content']}\tlimit {row['limit']}"
        )
        for url in row["feeds"].values():
            click.echo(f"\t{url}")


@channel.command("remove")
@click.argument("slug")
@click.pass_obj
def remove(ctx: CliContext, slug: str) -> None:
    """Delete channel SLUG (its stories stay)."""
    try:
        with ctx.db.write() as session:
            service.delete_channel(session, slug, now=ctx.clock())
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"channel {slug} removed")


def _explain(exc: ServiceError) -> str:
    if exc.fields:
        return "; ".join(f"{field or 'channel'}: {msg}" for field, msg in exc.fields.items())
    return exc.message
