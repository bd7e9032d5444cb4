"""`mlops infra`: Terraform for the envs under terraform/envs, on AWS or (`--local`) on the local stack.

    mlops infra plan    --env dev [--local] [--var KEY=VALUE ...] [--var-file F] [--out PLAN] [--detailed-exitcode]
    mlops infra apply   --env dev [--local] [--var ...] [--plan PLAN] [--auto-approve]
    mlops infra destroy --env dev [--local] [--var ...] [--auto-approve]

On AWS the backend is the S3 bucket that terraform/bootstrap creates (MLOPS_TF_STATE_BUCKET), locked by S3 native
locking (use_lockfile: a <key>.tflock object beside the state). With --local the same configuration is pointed at
the local stack through a generated endpoints_override.tf, after the bootstrap configuration has created the state
bucket there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.terraform import env_names, terraform_env
from mlops.infra.envs import prepare

CHANGES_PENDING_EXIT = 3  # terraform's -detailed-exitcode says 2; in mlops 2 means a usage error


@click.group()
def infra() -> None:
    """Terraform: check the toolchain, plan, apply and destroy the environments."""


@infra.command()
@friendly
def check() -> None:
    """Check that Terraform and its provider mirror are usable."""
    env = terraform_env()
    version = subprocess.run(["terraform", "version"], env=env, capture_output=True, text=True, check=False)
    click.echo(version.stdout.splitlines()[0] if version.stdout else version.stderr)
    click.echo(f"TF_CLI_CONFIG_FILE={env.get('TF_CLI_CONFIG_FILE', '(registry)')}")


def _parse_var(ctx, param, values: tuple[str, ...]) -> list[str]:
    result = []
    for item in values:
        key, sep, _ = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise click.BadParameter(f"{item!r} is not KEY=VALUE with a Terraform variable name as KEY", ctx, param)
        result.append(item)
    return result


def _common(command):
    command = click.option(
        "--var-file",
        "var_file",
        type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path),
        help="A .tfvars file with values beyond the env's committed terraform.tfvars (e.g. certificate_arn).",
    )(command)
    command = click.option(
        "--var", "variables", multiple=True, callback=_parse_var, metavar="KEY=VALUE", help="A Terraform variable."
    )(command)
    command = click.option("--local", is_flag=True, help="Run against the local stack (moto) instead of AWS.")(command)
    command = click.option(
        "--env", "env_name", required=True, type=click.Choice(env_names()), help="Environment under terraform/envs."
    )(command)
    return command


@infra.command()
@_common
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for `apply --plan`.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help=f"Exit 0 when nothing would change, {CHANGES_PENDING_EXIT} when something would.",
)
@friendly
def plan(env_name, local, variables, var_file, out, detailed_exitcode) -> None:
    """Show what apply would change in an environment."""
    prepared = prepare(env_name, local, variables, var_file)
    args = ["plan", "-input=false", *prepared.var_args]
    if out:
        args.append(f"-out={out.resolve()}")
    if detailed_exitcode:
        args.append("-detailed-exitcode")
    if prepared.tf.run(*args, ok_codes=(0, 2)).returncode == 2:
        sys.exit(CHANGES_PENDING_EXIT)


@infra.command()
@_common
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path),
              help="Apply this saved plan (from `plan --out`) instead of planning again.")  # fmt: skip
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--targets-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Then write the env's deploy_targets output here (JSON), for `deploy --targets`.")  # fmt: skip
@friendly
def apply(env_name, local, variables, var_file, plan_file, auto_approve, targets_out) -> None:
    """Create or update an environment."""
    prepared = prepare(env_name, local, variables, var_file)
    if plan_file:  # a saved plan carries its own variables
        prepared.tf.run("apply", "-input=false", str(plan_file))
    else:
        approve = ["-auto-approve"] if auto_approve else []
        prepared.tf.run("apply", *approve, *prepared.var_args)
    if targets_out:
        # the deploy stage's role cannot read the state (it may hold secrets): the apply hands the targets over
        targets = prepared.tf.output("deploy_targets")
        targets_out.parent.mkdir(parents=True, exist_ok=True)
        targets_out.write_text(json.dumps(targets, indent=2) + "\n")
        click.echo(f"{env_name}: deploy targets written to {targets_out}")


@infra.command()
@_common
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@friendly
def destroy(env_name, local, variables, var_file, auto_approve) -> None:
    """Delete everything an environment created."""
    prepared = prepare(env_name, local, variables, var_file)
    approve = ["-auto-approve"] if auto_approve else []
    prepared.tf.run("destroy", *approve, *prepared.var_args)
