"""`mlops infra`: Terraform for the envs under terraform/envs."""

from __future__ import annotations

import subprocess

import click

from services.infra.terraform import TerraformUnavailable, terraform_env


@click.group()
def infra() -> None:
    """Terraform: check the toolchain, plan, apply and destroy the environments."""


@infra.command()
def check() -> None:
    """Check that Terraform and its provider mirror are usable."""
    try:
        env = terraform_env()
    except TerraformUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    version = subprocess.run(["terraform", "version"], env=env, capture_output=True, text=True, check=False)
    click.echo(version.stdout.splitlines()[0] if version.stdout else version.stderr)
    click.echo(f"TF_CLI_CONFIG_FILE={env.get('TF_CLI_CONFIG_FILE', '(registry)')}")
