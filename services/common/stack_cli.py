"""`mlops stack up|down|status`."""

from __future__ import annotations

import sys

import click

from services.common.settings import get_settings
from services.common.stack import LocalStack, StackError


@click.group()
def stack() -> None:
    """Start, stop and inspect the local stack: a moto server (AWS) and an MLflow server, on loopback."""


@stack.command()
def up() -> None:
    """Start the stack (harmless when it already runs) and write the endpoints to the env file."""
    settings = get_settings()
    try:
        endpoints, messages = LocalStack(settings).up()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for message in messages:
        click.echo(message)
    click.echo(f"endpoints written to {settings.stack_env_file}")
    click.echo(f"MLflow UI: {endpoints['MLFLOW_TRACKING_URI']}")


@stack.command()
def down() -> None:
    """Stop the processes this stack started, and nothing else."""
    try:
        messages = LocalStack(get_settings()).down()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    for message in messages:
        click.echo(message)


@stack.command()
def status() -> None:
    """Say what runs where and whether it answers. Exits 1 when a started service does not answer."""
    try:
        statuses = LocalStack(get_settings()).status()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    unhealthy = False
    for s in statuses:
        if s.pid is None:
            click.echo(f"{s.name:7} stopped")
            continue
        state = "answers" if s.answers else "NOT ANSWERING"
        unhealthy |= not s.answers
        line = f"{s.name:7} pid {s.pid:<7} {s.url}  {'running' if s.running else 'not running'}, {state}"
        click.echo(line + (f"  ({s.note})" if s.note else ""))
    if unhealthy:
        sys.exit(1)
