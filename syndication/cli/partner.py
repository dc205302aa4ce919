"""`syndication partner create|list|assign|unassign`: partner organisations and the subscribers
their people and tokens manage in the partner portal."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.partners import service


@click.group()
def partner() -> None:
    """Partners: create, list, assign subscribers to them."""


@partner.command("create")
@click.argument("name")
@click.pass_obj
def create(ctx: CliContext, name: str) -> None:
    """Create partner NAME. Then give it subscribers (`partner assign`), people
    (`user create --role partner --partner NAME`) and tokens (`token create --role partner`)."""
    try:
        with ctx.db.write() as session:
            row = service.create_partner(session, name, now=ctx.clock())
            partner_id, name = row.id, row.name
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created partner {partner_id} {name!r}.")


@partner.command("list")
@click.pass_obj
def list_(ctx: CliContext) -> None:
    """Every partner: id, name, its subscribers' ids."""
    with ctx.db.read() as session:
        rows = [
            (row.id, row.name, [s.id for s in service.subscribers_of(session, row.id)])
            for row in service.list_partners(session)
        ]
    if not rows:
        click.echo("no partners")
        return
    click.echo("id\tname\tsubscribers")
    for partner_id, name, subscriber_ids in rows:
        click.echo(f"{partner_id}\t{name}\t{','.join(map(str, subscriber_ids)) or '-'}")


def _assign(ctx: CliContext, subscriber_ids: tuple[int, ...], partner_ref: str | None) -> str:
    try:
        with ctx.db.write() as session:
            partner_id = None
            label = "the newsroom"
            if partner_ref is not None:
                row = service.get_partner(session, partner_ref)
                partner_id, label = row.id, f"partner {row.name!r}"
            for subscriber_id in subscriber_ids:
                service.assign(session, subscriber_id, partner_id)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None  # nothing assigned: one transaction
    return label


@partner.command("assign")
@click.argument("partner_ref", metavar="PARTNER")
@click.argument("subscriber_ids", metavar="SUBSCRIBER_ID...", nargs=-1, required=True, type=int)
@click.pass_obj
def assign(ctx: CliContext, partner_ref: str, subscriber_ids: tuple[int, ...]) -> None:
    """Give subscribers to PARTNER (its id or name); all or none."""
    label = _assign(ctx, subscriber_ids, partner_ref)
    click.echo(f"Assigned {len(subscriber_ids)} subscriber(s) to {label}.")


@partner.command("unassign")
@click.argument("subscriber_ids", metavar="SUBSCRIBER_ID...", nargs=-1, required=True, type=int)
@click.pass_obj
def unassign(ctx: CliContext, subscriber_ids: tuple[int, ...]) -> None:
    """Take subscribers back from their partner; all or none."""
    _assign(ctx, subscriber_ids, None)
    click.echo(f"Took {len(subscriber_ids)} subscriber(s) back from their partner.")
