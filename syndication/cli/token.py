"""`syndication token create|list|revoke`: API tokens for the REST API."""

from __future__ import annotations

import click

from syndication.auth import tokens
from syndication.auth.roles import ROLES
from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.partners.service import partner_id_of


@click.group()
def token() -> None:
    """API tokens: create (shown once), list, revoke."""


@token.command("create")
@click.option("--name", required=True, help="What the token is for (shown in lists).")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What it may do.")
@click.option(
    "--partner",
    "partner_ref",
    help="With --role partner: the partner (id or name) it belongs to.",
)
@click.pass_obj
def create(ctx: CliContext, name: str, role: str, partner_ref: str | None) -> None:
    """Create a token; prints it once, alone on the last line (only its hash is stored)."""
    try:
        with ctx.db.write() as session:
            partner_id = partner_id_of(session, partner_ref)
            row, plaintext = tokens.create_token(
                session, name, role, now=ctx.clock(), partner_id=partner_id
            )
            token_id = row.id
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created API token {token_id} {name!r} with role {role}.")
    click.echo("Copy it now: it is not shown again. Send it as 'Authorization: Bearer <token>'.")
    click.echo(plaintext)


def _when(value) -> str:  # noqa: ANN001
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@token.command("list")
@click.pass_obj
def list_(ctx: CliContext) -> None:
    """Every token: id, name, role, prefix, created, last used, revoked (never the token)."""
    with ctx.db.read() as session:
        rows = tokens.list_tokens(session)
    if not rows:
        click.echo("no API tokens")
        return
    click.echo("id\tname\trole\tprefix\tcreated\tlast used\trevoked")
    for row in rows:
        click.echo(
            f"{row.id}\t{row.name}\t{row.role}\t{row.prefix}…\t{_when(row.created_at)}\t"
            f"{_when(row.last_used_at)}\t{_when(row.revoked_at)}"
        )


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_obj
def revoke(ctx: CliContext, token_id: int) -> None:
    """Revoke token ID: requests with it get 401 from now on."""
    try:
        with ctx.db.write() as session:
            row = tokens.revoke_token(session, token_id, now=ctx.clock())
            name = row.name
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Revoked API token {token_id} {name!r}.")
