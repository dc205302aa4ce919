"""`syndication user create|list|disable|enable`: people who sign in to the web admin."""

from __future__ import annotations

import sys

import click

from syndication.auth import users
from syndication.auth.roles import ROLES
from syndication.cli.context import CliContext
from syndication.errors import ServiceError
from syndication.partners.service import partner_id_of


@click.group()
def user() -> None:
    """Web admin users: create, list, disable, enable."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _explain(exc: ServiceError) -> str:
    if exc.fields:
        return "; ".join(f"{field}: {message}" for field, message in exc.fields.items())
    return exc.message


@user.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--partner",
    "partner_ref",
    help="With --role partner: the partner (id or name) it belongs to.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (also when it is not a "
    "terminal); otherwise it is prompted for twice, hidden.",
)
@click.pass_obj
def create(
    ctx: CliContext, username: str, role: str, partner_ref: str | None, password_stdin: bool
) -> None:
    """Create a user who signs in with USERNAME and a password (stored as a scrypt hash)."""
    password = _read_password(password_stdin)
    try:
        with ctx.db.write() as session:
            partner_id = partner_id_of(session, partner_ref)
            row = users.create_user(
                session, username, password, role, now=ctx.clock(), partner_id=partner_id
            )
            name = row.username
    except ServiceError as exc:
        raise click.ClickException(_explain(exc)) from None
    click.echo(f"Created user {name!r} with role {role}.")


@user.command("list")
@click.pass_obj
def list_(ctx: CliContext) -> None:
    """Every user: username, role, created, last sign-in, disabled."""
    with ctx.db.read() as session:
        rows = users.list_users(session)
    if not rows:
        click.echo("no users")
        return
    click.echo("username\trole\tcreated\tlast sign-in\tdisabled")
    for row in rows:
        cells = [row.created_at, row.last_login_at, row.disabled_at]
        when = [c.strftime("%Y-%m-%d %H:%M") if c else "-" for c in cells]
        click.echo("\t".join([row.username, row.role, *when]))


def _set_disabled(ctx: CliContext, username: str, disabled: bool) -> None:
    try:
        with ctx.db.write() as session:
            name = users.set_disabled(session, username, disabled, now=ctx.clock()).username
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{'Disabled' if disabled else 'Enabled'} user {name!r}.")


@user.command("disable")
@click.argument("username")
@click.pass_obj
def disable(ctx: CliContext, username: str) -> None:
    """Disable USERNAME: no more sign-ins, and open sessions end at their next request."""
    _set_disabled(ctx, username, True)


@user.command("enable")
@click.argument("username")
@click.pass_obj
def enable(ctx: CliContext, username: str) -> None:
    """Enable USERNAME again."""
    _set_disabled(ctx, username, False)
