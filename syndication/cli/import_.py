"""`syndication import PATH_OR_URL…`: JSON, JSON Lines, RSS / Atom and plain-text exports."""

from __future__ import annotations

import sys
from itertools import chain
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from syndication.cli.context import CliContext
from syndication.imports.runner import import_records
from syndication.imports.sources import fetcher, read_source


@click.command("import")
@click.argument("sources", nargs=-1, required=True, metavar="PATH_OR_URL...")
@click.option(
    "--publish",
    is_flag=True,
    help="Publish records that carry no status of their own (else they are drafts).",
)
@click.option("--source", "source_name", help="Source (publication) name for the records.")
@click.option("--tz", "tz_name", help="Zone of dates printed without one (default: timezone).")
@click.pass_obj
def import_(
    ctx: CliContext,
    sources: tuple[str, ...],
    publish: bool,
    source_name: str | None,
    tz_name: str | None,
) -> None:
    """Import stories; idempotent by story code: re-import updates, never duplicates."""
    try:
        tz = ZoneInfo(tz_name) if tz_name else ctx.settings.tz
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {tz_name!r}", param_hint="--tz") from None
    own = ctx.settings.base_url
    # URLs are fetched through the outbound client: read strictly, resolved once, private
    # ranges refused unless outbound_allow lets them, the connection pinned, one deadline.
    fetch = fetcher(ctx.rt.push.outbound) if any("://" in s for s in sources) else None
    records = chain.from_iterable(
        read_source(s, tz=tz, source=source_name, own_base=own, fetch=fetch) for s in sources
    )
    # The bar counts records as they are read (the total is unknown until the end); it draws
    # only on a terminal. Bad records are listed after it with file and line, good ones stored.
    with click.progressbar(
        records,
        label="importing",
        file=sys.stderr,
        show_pos=True,
        show_eta=False,
        item_show_func=lambda r: r.location if r else None,
    ) as progress:
        summary = import_records(ctx.db, ctx.settings, progress, publish=publish, clock=ctx.clock)
    for location, reason in summary.failures:
        click.echo(f"{location}: {reason}", err=True)
    click.echo(summary.line())
    if summary.failed:
        sys.exit(1)
