"""What an `mlops ...` command line would run, found in-process by the real click commands: the subcommand it
resolves to and its parsed parameters. Nothing is executed (no command callback runs), so a Makefile recipe, a
systemd unit or a Dockerfile can be checked for naming a command that exists with options it accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from mlops.core.cli import cli


@dataclass(frozen=True)
class Invocation:
    path: tuple[str, ...]  # the subcommand names, e.g. ("release", "deploy")
    params: dict[str, Any]  # as click parsed and converted them

    @property
    def name(self) -> str:
        return " ".join(self.path)


def parse(argv: list[str]) -> Invocation:
    """Parse `mlops ARGV` as the console script would; raises click.UsageError (e.g. NoSuchOption, BadParameter,
    an unknown command) where the real command would exit 2."""
    ctx = click.Context(cli, info_name="mlops")
    command: click.Command = cli
    path: list[str] = []
    rest = list(argv)
    while isinstance(command, click.Group):
        if not rest or rest[0].startswith("-"):
            raise click.UsageError(f"`{' '.join(['mlops', *path])}` needs a subcommand, got {rest[:1]}", ctx)
        name, rest = rest[0], rest[1:]
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"No such command {name!r} in `{' '.join(['mlops', *path])}`", ctx)
        path.append(name)
        command = sub
        ctx = click.Context(command, info_name=name, parent=ctx)
    with command.make_context(path[-1], rest, parent=ctx.parent) as leaf:
        return Invocation(tuple(path), dict(leaf.params))
