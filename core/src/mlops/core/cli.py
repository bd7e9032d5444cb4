"""The `mlops` command. Each installed part registers its subcommands under the entry point group
`mlops.commands` (see the members' pyproject.toml), so a serving image answers `mlops serve` and a laptop with every
part answers all of them. A subcommand's module is imported only when that subcommand runs or help is shown, so
`mlops serve` does not pay for the Terraform or Jenkins code, and one broken part cannot take the others down."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ParamSpec, TypeVar

import click

from mlops.core.errors import MlopsError
from mlops.core.settings import SettingsError, get_settings, load_stack_env

GROUP = "mlops.commands"
P = ParamSpec("P")
R = TypeVar("R")


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """An MlopsError becomes `Error: <message>` and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MlopsError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _commands() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


class PartsGroup(click.Group):
    """The subcommands the installed parts register, loaded on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_commands())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = _commands().get(name)
        if found is None:
            return None
        command = found.load()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"entry point {found.value} of `mlops {name}` is not a click command")
        return command


@click.group(cls=PartsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlops-core")
def cli() -> None:
    """r5-mlops: run machine-learning models in production on AWS, or on the local stack."""


def main(argv: list[str] | None = None) -> Any:
    try:
        settings = get_settings()
    except SettingsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    from mlops.core.logs import configure_logging

    load_stack_env(settings)  # first: the CloudWatch log handler needs the stack's endpoints
    configure_logging(settings.log_level, log_group=settings.log_group, region=settings.region)
    return cli(args=argv, prog_name="mlops")
