"""`syndication subscribers add|update|list|disable|enable|recover|rotate-secret`: partner
webhooks, and pull subscribers (`add --kind pull`) whose partner fetches its events."""

from __future__ import annotations

import click

from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.partners.service import assign, partner_id_of
from syndication.push import subscribers as service
from syndication.push.outbox import EVENT_TYPES


@click.group()
def subscribers() -> None:
    """Partner webhook endpoints (Standard Webhooks)."""


def _explain(exc: ServiceError) -> str:
    if exc.fields:
        return "; ".join(f"{f or 'subscriber'}: {m}" for f, m in exc.fields.items())
    return exc.message


@subscribers.command("add")
@click.option("--name", required=True, help="Who receives it, e.g. the partner's name.")
@click.option(
    "--kind",
    type=click.Choice(service.SUBSCRIBER_KINDS),
    default=service.WEBHOOK,
    show_default=True,
    help="webhook: POSTed to --url; pull: the partner fetches its events (no --url).",
)
@click.option("--url", help="The endpoint: https (http only if allowed); webhooks only.")
@click.option(
    "--partner",
    "partner_ref",
    help="Assign it to this partner (id or name): its tokens reach it (needed for pull).",
)
@click.option("--channel", "channels", multiple=True, help="Channel slug (repeatable).")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="Event type (repeatable); default: all.",
)
@click.option(
    "--format", "fmt", type=click.Choice(service.FORMATS), default="json", show_default=True
)
@click.option(
    "--receives-embargoed/--no-receives-embargoed",
    default=False,
    help="A trusted partner: told of scheduled stories before publish_at (story.embargoed).",
)
@click.pass_obj
def add(
    ctx: CliContext,
    name: str,
    kind: str,
    url: str | None,
    partner_ref: str | None,
    channels: tuple[str, ...],
    events: tuple[str, ...],
    fmt: str,
    receives_embargoed: bool,
) -> None:
    """Register a webhook endpoint (prints its id and its secret, shown only this once), or a
    pull subscriber (prints its id)."""
    data = {"kind": kind, "name": name, "format": fmt, "receives_embargoed": receives_embargoed}
    if url is not None:
        data["url"] = url
    if channels:
        data["channels"] = list(channels)
    if events:
        data["event_types"] = list(events)
    warnings: list[str] = []
    try:
        with ctx.db.write() as session:
            partner_id = partner_id_of(session, partner_ref)
            sub, secret = service.create_subscriber(
                session, ctx.rt.push.outbound.check_sync, data, ctx.clock(), warnings
            )
            sub_id = sub.id
            if partner_id is not None:
                assign(session, sub_id, partner_id)
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"subscriber {sub_id} created")
    click.echo(f"id: {sub_id}")
    if secret is not None:
        click.echo(f"secret: {secret}")


@subscribers.command("update")
@click.argument("subscriber_id", type=int)
@click.option(
    "--receives-embargoed/--no-receives-embargoed",
    default=None,
    help="Tell (or stop telling) this partner of scheduled stories before publish_at.",
)
@click.pass_obj
def update(ctx: CliContext, subscriber_id: int, receives_embargoed: bool | None) -> None:
    """Change subscriber SUBSCRIBER_ID."""
    if receives_embargoed is None:
        raise click.UsageError("nothing to change: give --receives-embargoed or its --no- form")
    try:
        with ctx.db.write() as session:
            service.update_subscriber(
                session, None, subscriber_id, {"receives_embargoed": receives_embargoed}
            )
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    state = "receives" if receives_embargoed else "does not receive"
    click.echo(f"subscriber {subscriber_id} {state} embargoed stories")


@subscribers.command("list")
@click.pass_obj
def list_(ctx: CliContext) -> None:
    """Subscribers, one a line: id, state, format, success rate, pending, dead, name, URL
    (`pull` for a pull subscriber)."""
    with ctx.db.read() as session:
        rows = [
            (s, service.subscriber_health(session, s.id)) for s in service.list_subscribers(session)
        ]
        for sub, health in rows:
            rate = health["success_rate"]
            state = "active" if sub.active else f"disabled ({sub.disabled_reason})"
            click.echo(
                f"{sub.id}\t{state}\t{sub.format}\t"
                f"{'-' if rate is None else f'{rate:.0%}'}\t"
                f"pending={health['pending']}\tdead={health['dead']}\t{sub.name}\t"
                f"{sub.url or sub.kind}"
            )
    if not rows:
        click.echo("no subscribers")


@subscribers.command("disable")
@click.argument("subscriber_id", type=int)
@click.option("--reason", help="Shown in the admin.")
@click.pass_obj
def disable(ctx: CliContext, subscriber_id: int, reason: str | None) -> None:
    """Stop sending to subscriber SUBSCRIBER_ID."""
    try:
        with ctx.db.write() as session:
            service.disable(session, subscriber_id, reason)
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"subscriber {subscriber_id} disabled")


@subscribers.command("enable")
@click.argument("subscriber_id", type=int)
@click.pass_obj
def enable(ctx: CliContext, subscriber_id: int) -> None:
    """Send to subscriber SUBSCRIBER_ID again."""
    try:
        with ctx.db.write() as session:
            service.enable(session, subscriber_id)
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"subscriber {subscriber_id} enabled")


@subscribers.command("recover")
@click.argument("subscriber_id", type=int)
@click.option(
    "--since", required=True, help="ISO 8601 time with an offset, e.g. 2026-12-01T08:00:00Z."
)
@click.option("--until", help="ISO 8601 time with an offset (default: now).")
@click.pass_obj
def recover(ctx: CliContext, subscriber_id: int, since: str, until: str | None) -> None:
    """Send SUBSCRIBER_ID's dead, cancelled and skipped deliveries of [since, until) again, in
    the order their events came (skipped: recorded while the subscriber was disabled)."""
    try:
        with ctx.db.write() as session:
            count = service.recover(session, subscriber_id, since, until, ctx.clock())
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"{count} deliveries of subscriber {subscriber_id} queued again")


@subscribers.command("rotate-secret")
@click.argument("subscriber_id", type=int)
@click.pass_obj
def rotate_secret(ctx: CliContext, subscriber_id: int) -> None:
    """A new secret for SUBSCRIBER_ID (printed once); the old one signs too for a while."""
    try:
        with ctx.db.write() as session:
            secret = service.rotate_secret(session, ctx.settings, subscriber_id, ctx.clock())
            until = service.get_subscriber(session, subscriber_id).previous_secret_until
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"old secret valid until {service.iso(until)}")
    click.echo(f"secret: {secret}")
