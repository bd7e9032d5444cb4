"""The `mlops` command. Each installed part registers its subcommands under the entry point group
`mlops.commands` (see the members' pyproject.toml), so a serving image answers `mlops serve` and a laptop with every
part answers all of them. A subcommand's module is imported only when that subcommand runs or help is shown, so
`mlops serve` does not pay for the Terraform or Jenkins code, and one broken part cannot take the others down."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ParamSpec, TypeVar

import click

from mlops.core.errors import MlopsError
from mlops.core.settings import Settings, SettingsError, get_settings, load_stack_env

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


# long-running services whose log lines are their output (journald, kubectl logs): INFO on the console as JSON.
# Every other command prints what it did for a person; its log lines go to the log file (WARNING and up show too).
SERVICE_COMMANDS = (("serve",), ("retrain", "serve"), ("drift", "exporter"))


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    os.environ["MLOPS_VERBOSE"] = "true"  # the commands this one starts (dvc stages, servers) inherit it
    _configure(get_settings(), verbose=True)


@click.group(cls=PartsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlops-core")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_verbose,
    help="Show every log line on the console, libraries' included (default: the log file in the state dir).",
)
def cli() -> None:
    """r5-mlops: run machine-learning models in production on AWS, or on the local stack."""


def _command_words(argv: list[str]) -> tuple[str, ...]:
    return tuple(word for word in argv if not word.startswith("-"))[:2]


def _configure(settings: Settings, verbose: bool | None = None, service: bool = False) -> None:
    from mlops.core.logs import configure_logging

    quiet = "WARNING" if logging.getLevelName(settings.log_level) < logging.WARNING else settings.log_level
    configure_logging(
        settings.log_level,
        log_group=settings.log_group,
        region=settings.region,
        console_level=settings.log_level if service else quiet,
        verbose=settings.verbose if verbose is None else verbose,
        log_file=settings.log_file,
    )


def main(argv: list[str] | None = None) -> Any:
    try:
        settings = get_settings()
    except SettingsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    load_stack_env(settings)  # first: the CloudWatch log handler needs the stack's endpoints
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # MLflow's own stderr handler bypasses ours
    words = _command_words(sys.argv[1:] if argv is None else argv)
    _configure(settings, service=any(words[: len(c)] == c for c in SERVICE_COMMANDS))
    return cli(args=argv, prog_name="mlops")
