"""`mlops infra`: Terraform for the envs under terraform/envs, on AWS or (`--local`) on the local stack.

    mlops infra plan    --env dev [--local] [--var KEY=VALUE ...] [--var-file F] [--out PLAN] [--detailed-exitcode]
    mlops infra apply   --env dev [--local] [--var ...] [--plan PLAN] [--auto-approve]
    mlops infra destroy --env dev [--local] [--var ...] [--auto-approve]

On AWS the backend is the S3 bucket and DynamoDB table that terraform/bootstrap creates (MLOPS_TF_STATE_BUCKET,
MLOPS_TF_LOCK_TABLE). With --local the same configuration is pointed at the local stack through a generated
endpoints_override.tf, after the bootstrap configuration has created the state bucket and lock table there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from mlops.core.paths import ENVS_DIR
from mlops.core.settings import get_settings
from mlops.core.terraform import (
    Terraform,
    TerraformFailed,
    TerraformUnavailable,
    env_names,
    local_data_dir,
    terraform_env,
)

CHANGES_PENDING_EXIT = 3  # terraform's -detailed-exitcode says 2; in mlops 2 means a usage error


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
        help="A .tfvars file with this environment's values (certificate_arn, mlflow_tracking_uri, ...).",
    )(command)
    command = click.option(
        "--var", "variables", multiple=True, callback=_parse_var, metavar="KEY=VALUE", help="A Terraform variable."
    )(command)
    command = click.option("--local", is_flag=True, help="Run against the local stack (moto) instead of AWS.")(command)
    command = click.option(
        "--env", "env_name", required=True, type=click.Choice(env_names()), help="Environment under terraform/envs."
    )(command)
    return command


@dataclass
class Prepared:
    tf: Terraform
    var_args: list[str]


def _prepare(env_name: str, local: bool, variables: list[str], var_file: Path | None) -> Prepared:
    """Initialise the env's backend and build its -var arguments, for AWS or for the local stack."""
    from mlops.infra import local as localstack

    settings = get_settings()
    env = terraform_env()
    workdir = ENVS_DIR / env_name
    var_args = [f"-var=region={settings.region}"]
    if local:
        localstack.endpoint()  # fails early, with the fix, when the stack is not running
        outputs = localstack.bootstrap(settings, env)
        backend = {
            "bucket": outputs["state_bucket"],
            "key": f"envs/{env_name}/terraform.tfstate",
            "dynamodb_table": outputs["lock_table"],
        }
        text = localstack.override_text(localstack.endpoint(), settings.region, backend)
        tf = Terraform(workdir, env, local_data_dir(settings, env_name))
        localstack.prepare_env(workdir, text, tf)
        local_vars = {
            **localstack.LOCAL_ENV_VARS,
            "certificate_arn": localstack.certificate_arn(settings),
            "mlflow_tracking_uri": env.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
            "attach_aws_managed_policies": str(localstack.managed_policies_loaded(settings)).lower(),
        }
        var_args += [f"-var={key}={value}" for key, value in local_vars.items()]
    else:
        localstack.remove_override(workdir)  # a leftover local override must never reach AWS
        if not settings.tf_state_bucket:
            raise click.ClickException(
                "MLOPS_TF_STATE_BUCKET is not set: apply terraform/bootstrap once per account and export its "
                "state_bucket output (see terraform/README.md), or use --local"
            )
        tf = Terraform(workdir, env)
        tf.init(
            f"bucket={settings.tf_state_bucket}",
            f"key=envs/{env_name}/terraform.tfstate",
            f"region={settings.region}",
            f"dynamodb_table={settings.tf_lock_table}",
        )
    if var_file:
        var_args.append(f"-var-file={var_file}")
    var_args += [f"-var={item}" for item in variables]  # the user's values come last and win
    return Prepared(tf, var_args)


def _run(action):
    """Turn the known failures into one-line errors (exit 1) instead of stack traces."""
    from mlops.infra.local import LocalStackMissing

    try:
        return action()
    except (TerraformUnavailable, TerraformFailed, LocalStackMissing) as exc:
        raise click.ClickException(str(exc)) from None


@infra.command()
@_common
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for `apply --plan`.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help=f"Exit 0 when nothing would change, {CHANGES_PENDING_EXIT} when something would.",
)
def plan(env_name, local, variables, var_file, out, detailed_exitcode) -> None:
    """Show what apply would change in an environment."""

    def action():
        prepared = _prepare(env_name, local, variables, var_file)
        args = ["plan", "-input=false", *prepared.var_args]
        if out:
            args.append(f"-out={out.resolve()}")
        if detailed_exitcode:
            args.append("-detailed-exitcode")
        return prepared.tf.run(*args, ok_codes=(0, 2)).returncode

    if _run(action) == 2:
        sys.exit(CHANGES_PENDING_EXIT)


@infra.command()
@_common
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path),
              help="Apply this saved plan (from `plan --out`) instead of planning again.")  # fmt: skip
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
def apply(env_name, local, variables, var_file, plan_file, auto_approve) -> None:
    """Create or update an environment."""

    def action():
        prepared = _prepare(env_name, local, variables, var_file)
        if plan_file:  # a saved plan carries its own variables
            prepared.tf.run("apply", "-input=false", str(plan_file))
        else:
            approve = ["-auto-approve"] if auto_approve else []
            prepared.tf.run("apply", *approve, *prepared.var_args)

    _run(action)


@infra.command()
@_common
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
def destroy(env_name, local, variables, var_file, auto_approve) -> None:
    """Delete everything an environment created."""

    def action():
        prepared = _prepare(env_name, local, variables, var_file)
        approve = ["-auto-approve"] if auto_approve else []
        prepared.tf.run("destroy", *approve, *prepared.var_args)

    _run(action)
