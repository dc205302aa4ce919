"""`syndication links add|list|stats`: short links from the command line."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.links import service


@click.group()
def links() -> None:
    """Short links: create, list, and read visit statistics."""


@links.command("add")
@click.argument("url")
@click.option("--slug", help="Custom code (3-64 letters, digits, '-', '_'); default: generated.")
@click.option("--title", help="A title for the admin's lists.")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--valid-until", help="ISO 8601 date-time with zone; later visits get 410.")
@click.option("--max-visits", type=int, help="Human visits allowed; later ones get 410.")
@click.pass_obj
def add(
    ctx: CliContext,
    url: str,
    slug: str | None,
    title: str | None,
    tags: tuple[str, ...],
    valid_until: str | None,
    max_visits: int | None,
) -> None:
    """Create a short link to URL; prints its short URL on the last line."""
    data = {
        "url": url,
        "slug": slug,
        "title": title,
        "tags": list(tags) or None,
        "valid_until": valid_until,
        "max_visits": max_visits,
    }
    try:
        with ctx.db.write() as session:
            link = service.create_link(
                session, {k: v for k, v in data.items() if v is not None}, now=ctx.clock()
            )
            info = service.link_to_dict(session, link, ctx.settings)
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"QR code: {info['qr_svg']}")
    click.echo(info["short_url"])


@links.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def list_(ctx: CliContext, limit: int) -> None:
    """The newest short links, one a line: code, human visits, target, short URL."""
    with ctx.db.read() as session:
        rows = [
            service.link_to_dict(session, link, ctx.settings)
            for link in service.list_links(session, limit=limit)
        ]
    for row in rows:
        click.echo(f"{row['code']}\t{row['human_visits']}\t{row['target']}\t{row['short_url']}")
    if not rows:
        click.echo("no short links")


@links.command("stats")
@click.argument("code")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 366))
@click.pass_obj
def stats(ctx: CliContext, code: str, days: int) -> None:
    """Visits of short link CODE per day: links vs QR scans, humans vs bots, top referrers."""
    try:
        with ctx.db.read() as session:
            data = service.link_stats(session, code, now=ctx.clock(), days=days)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    total = data["total"]
    click.echo(
        f"{code}: {total['visits']} visits ({total['link']} link, {total['qr']} QR; "
        f"{total['human']} human, {total['bot']} bot)"
    )
    click.echo("date        link    qr  human   bot")
    for day in data["days"]:
        if any(day[k] for k in ("link", "qr")):
            click.echo(
                f"{day['date']}  {day['link']:>4}  {day['qr']:>4}  {day['human']:>5}  "
                f"{day['bot']:>4}"
            )
    for ref in data["top_referrers"]:
        click.echo(f"referrer {ref['host']}: {ref['visits']}")


def _explain(exc: ServiceError) -> str:
    if exc.fields:
        return "; ".join(f"{f or 'link'}: {m}" for f, m in exc.fields.items())
    return exc.message
