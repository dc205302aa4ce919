"""The `syndication` command. One module per command; this one wires them into a group."""

from __future__ import annotations

import sys

import click

from syndication.cli.context import CliContext
from syndication.config import ConfigError, load_settings_with_origins
from syndication.ops.logs import setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """News syndication: stories in; RSS, Atom and JSON Feed out."""
    try:
        settings, origins = load_settings_with_origins()
    except ConfigError as exc:
        click.echo(f"syndication: {exc}", err=True)
        ctx.exit(2)
    setup_logging(settings)
    ctx.obj = CliContext(settings, origins=origins)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from syndication.cli import (
        channel,
        deliveries,
        import_,
        info,
        init,
        links,
        partner,
        run,
        stories,
        subscribers,
        token,
        user,
        worker,
    )

    cli.add_command(init.init)
    cli.add_command(info.info)
    cli.add_command(run.run)
    cli.add_command(channel.channel)
    cli.add_command(import_.import_)
    cli.add_command(links.links)
    cli.add_command(token.token)
    cli.add_command(partner.partner)
    cli.add_command(user.user)
    cli.add_command(worker.worker)
    cli.add_command(subscribers.subscribers)
    cli.add_command(deliveries.deliveries)
    cli.add_command(stories.stories)


_register()


def main() -> None:
    sys.exit(cli.main(prog_name="syndication", standalone_mode=True))
