"""`mlops demo`: the main job. Until the whole lifecycle lands it proves the local stack: up, status, down."""

from __future__ import annotations

import click

from services.common.settings import get_settings
from services.common.stack import LocalStack, StackError


@click.command()
@click.option("--down/--keep", "stop_after", default=True, help="Stop the stack at the end (default) or keep it.")
def demo(stop_after: bool) -> None:
    """Start the local stack, show what runs where, and stop it again."""
    local = LocalStack(get_settings())
    try:
        _, messages = local.up()
        for message in messages:
            click.echo(message)
        for s in local.status():
            click.echo(f"{s.name:7} {s.url}  {'answers' if s.answers else 'NOT ANSWERING'}")
            if not s.answers:
                raise click.ClickException(f"{s.name} does not answer at {s.url}")
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if stop_after:
            for message in local.down():
                click.echo(message)
    if not stop_after:
        click.echo("stack left running; stop it with `mlops stack down`")
