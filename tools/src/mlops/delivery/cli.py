"""`mlops deploy canary|smoke|image`: what the Jenkins deploy stages run (through make canary / smoke / image)."""

from __future__ import annotations

from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.contracts import ENVIRONMENTS
from mlops.core.paths import DEPLOY_RECORDS_DIR
from mlops.core.settings import get_settings

env_option = click.option("--env", "environment", required=True, type=click.Choice(ENVIRONMENTS), help="Target env.")
targets_option = click.option(
    "--targets",
    "targets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON deploy targets (default: the env's Terraform output deploy_targets).",
)


@click.group()
def deploy() -> None:
    """Deploy the serving image and a gated model version: canary with automatic rollback, smoke test, image."""


@deploy.command()
@env_option
@click.option("--image-tag", required=True, help="Tag of the serving image in ECR (Jenkins: the commit).")
@click.option("--model", "model_name", help="Registered model (default: MLOPS_MODEL_NAME).")
@click.option("--model-version", help="Version to deploy (default: the one behind the champion alias).")
@targets_option
@click.option("--instance-refresh/--no-instance-refresh", default=True, help="EC2: roll instances to the new version.")
@click.option(
    "--record-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEPLOY_RECORDS_DIR,
    show_default=True,
    help="Where the local copy of the deploy record goes (Jenkins archives reports/).",
)
@click.option("--force", is_flag=True, help="Deploy even when the live color already runs this image and version.")
@friendly
def canary(
    environment: str,
    image_tag: str,
    model_name: str | None,
    model_version: str | None,
    targets_file: Path | None,
    instance_refresh: bool,
    record_dir: Path,
    force: bool,
) -> None:
    """Put the new version on the idle color, wait until it is healthy, shift traffic step by step, roll back if an
    alarm fires. Nothing to do (exit 0) when the live color already runs this image and model version."""
    from mlops.delivery.deploy import ImageRef, run_rollout

    settings = get_settings()
    run_rollout(
        settings, environment, model_name or settings.model_name, model_version,
        ImageRef(settings.ecr_repository, tag=image_tag), targets_file=targets_file,
        instance_refresh=instance_refresh, record_dir=record_dir, force=force, say=click.echo,
    )  # fmt: skip


@deploy.command()
@env_option
@targets_option
@click.option("--timeout", "timeout_seconds", default=120.0, show_default=True, help="Seconds to wait for ready.")
@friendly
def smoke(environment: str, targets_file: Path | None, timeout_seconds: float) -> None:
    """Wait for the env's serving endpoint to report live and ready."""
    from mlops.delivery.deploy import wait_ready
    from mlops.delivery.targets import load_targets

    targets = load_targets(environment, targets_file)
    if not targets.service_url:
        raise click.ClickException(f"the deploy targets of {environment} name no service_url to smoke test")
    wait_ready(targets.service_url, timeout_seconds, say=click.echo)


@deploy.command()
@click.option("--tag", required=True, help="Image tag (Jenkins: the commit).")
@friendly
def image(tag: str) -> None:
    """Build services/serving/Dockerfile and push it to ECR (needs a Docker engine: Jenkins agents)."""
    from mlops.delivery.deploy import build_and_push_image

    click.echo(build_and_push_image(get_settings(), tag))


def _package_version(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from mlops.delivery.package import PackageError, check_version

    try:
        return check_version(value)
    except PackageError as exc:
        raise click.BadParameter(str(exc)) from None


@deploy.command()
@env_option
@click.option(
    "--version",
    "package_version",
    required=True,
    callback=_package_version,
    help="Version to publish (Jenkins: the commit, as the image tag); the env's package_version in Terraform.",
)
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON deploy targets naming the env's artifacts bucket (default: MLOPS_ARTIFACT_BUCKET).",
)
@friendly
def package(environment: str, package_version: str, targets_file: Path | None) -> None:
    """Build the EC2 serving hosts' package and publish it to s3://<artifacts bucket>/packages/serving/VERSION/:
    the serving wheels, every dependency pinned by uv.lock, constraints.txt and SHA256SUMS (written last)."""
    from mlops.delivery.package import PackageError, package_serving
    from mlops.delivery.targets import load_targets
    from mlops.wheels.build import checkout

    settings = get_settings()
    if targets_file is not None:
        settings = load_targets(environment, targets_file).settings_for(settings)
    root = checkout()
    if root is None:
        raise PackageError("`mlops deploy package` builds from a checkout of the platform; this `mlops` is not one")
    done = package_serving(settings, package_version, root, say=lambda line: click.echo(f"  {line}"))
    state = "already published, unchanged" if done.already else "published"
    click.echo(f"{done.uri}: {state} ({done.files} files, {done.size_bytes / 1e6:.0f} MB) for {environment}")
