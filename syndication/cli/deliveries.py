"""`syndication deliveries list|replay`: the partner webhook delivery log."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.push import subscribers as service


@click.group()
def deliveries() -> None:
    """Webhook deliveries: list them, replay one."""


@deliveries.command("list")
@click.option("--subscriber", "subscriber_id", type=int, help="Only this subscriber's.")
@click.option("--status", type=click.Choice(service.STATUSES), help="Only those in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def list_(ctx: CliContext, subscriber_id: int | None, status: str | None, limit: int) -> None:
    """Newest first, one a line: id, status, attempts, subscriber, event, story, last error."""
    filters = {"subscriber": subscriber_id, "status": status}
    with ctx.db.read() as session:
        rows, _ = service.list_deliveries(
            session, {k: v for k, v in filters.items() if v is not None}, limit=limit
        )
        lines = [service.delivery_to_dict(d, e) for d, e in rows]
    for d in lines:
        click.echo(
            f"{d['id']}\t{d['status']}\t{d['attempts']}\tsubscriber={d['subscriber_id']}\t"
            f"{d['event_type']}\t{d['story_code'] or '-'}\t{d['created_at']}\t"
            f"{d['last_error'] or ''}"
        )
    if not lines:
        click.echo("no deliveries")


@deliveries.command("replay")
@click.argument("delivery_id", type=int)
@click.pass_obj
def replay(ctx: CliContext, delivery_id: int) -> None:
    """Send delivery DELIVERY_ID again now, with the same webhook-id."""
    try:
        with ctx.db.write() as session:
            delivery = service.replay_delivery(session, delivery_id, ctx.clock())
            message_id = delivery.message_id
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"delivery {delivery_id} queued again ({message_id})")
