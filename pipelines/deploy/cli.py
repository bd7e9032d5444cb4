"""`mlops deploy canary|smoke|image`: what the Jenkins deploy stages run (through make deploy / smoke / image)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click

from pipelines.deploy.targets import ENVIRONMENTS, DeployError, load_targets
from services.common.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVING_OVERLAYS = REPO_ROOT / "services" / "serving" / "deploy" / "k8s" / "overlays"

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


def _commit() -> str:
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"]
    import git

    try:
        return git.Repo(REPO_ROOT, search_parent_directories=True).head.commit.hexsha
    except (git.InvalidGitRepositoryError, ValueError):
        return "unknown"


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
    default=REPO_ROOT / "reports" / "deploys",
    show_default=True,
    help="Where the local copy of the deploy record goes (Jenkins archives reports/).",
)
def canary(environment, image_tag, model_name, model_version, targets_file, instance_refresh, record_dir) -> None:
    """Put the new version on the idle color, shift traffic step by step, roll back if an alarm fires."""
    settings = get_settings()
    image = ImageRef(settings.ecr_repository, tag=image_tag)
    run_rollout(
        environment, model_name or settings.model_name, model_version, image, targets_file, instance_refresh, record_dir
    )


@dataclass(frozen=True)
class ImageRef:
    """The serving image in ECR, by tag (a Jenkins build) or by digest (a release manifest)."""

    repository: str
    tag: str | None = None
    digest: str | None = None


def run_rollout(
    environment: str,
    model_name: str,
    model_version: str | None,
    image: ImageRef,
    targets_file: Path | None,
    instance_refresh: bool,
    record_dir: Path,
    serving_env: dict[str, str] | None = None,
    replicas: int | None = None,
) -> None:
    """The canary deploy that `deploy canary` and `release deploy --rollout` both run; ClickException on failure.

    `serving_env` and `replicas` come from a release manifest; without them the new color keeps the env's own."""
    import boto3
    from mlflow import MlflowClient

    from pipelines.deploy.canary import CanaryPlan, current_weights, live_color, run_canary
    from pipelines.deploy.preflight import Artifact, check_credentials, check_image, check_model_version
    from pipelines.deploy.record import DeployRecord
    from pipelines.deploy.rollout import apply_manifests, render_overlay, roll_asg

    settings = get_settings()
    try:
        plan = CanaryPlan(
            steps=[int(s) for s in settings.canary_steps.split(",")],
            watch_seconds=settings.canary_watch_seconds,
            poll_seconds=settings.canary_poll_seconds,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="MLOPS_CANARY_STEPS") from None
    try:
        # every check first: nothing changes until all of them pass
        targets = load_targets(environment, targets_file, REPO_ROOT / "terraform" / "envs" / environment)
        session = boto3.session.Session(region_name=settings.region)
        identity = check_credentials(session)
        if image.digest:
            image_uri, digest = _image_by_digest(session.client("ecr"), image.repository, image.digest)
        else:
            image_uri, digest = check_image(session.client("ecr"), image.repository, image.tag)
        client = MlflowClient()
        if model_version is None:
            model_version = _champion_version(client, model_name, settings.champion_alias)
        check_model_version(client, model_name, model_version)
        artifact = Artifact(image_uri, digest, model_name, model_version, serving_env or {}, replicas)

        elbv2, cloudwatch = session.client("elbv2"), session.client("cloudwatch")
        new_color = "green" if live_color(current_weights(elbv2, targets)) == "blue" else "blue"
        click.echo(f"deploying {model_name} v{model_version} ({image_uri}) to {environment}/{new_color}")
        if targets.serving_target == "asg":
            version = roll_asg(
                session.client("autoscaling"), session.client("ec2"), targets, new_color, artifact, instance_refresh
            )
            click.echo(f"{targets.asg_names[new_color]}: launch template version {version}")
        else:
            manifests = render_overlay(SERVING_OVERLAYS / environment, new_color, artifact)
            apply_manifests(manifests, namespace=f"mlops-{environment}")
        result = run_canary(elbv2, cloudwatch, targets, plan, new_color)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None

    record = DeployRecord(
        environment=environment,
        model_name=model_name,
        model_version=model_version,
        image_uri=image_uri,
        image_digest=digest,
        commit=_commit(),
        deployed_by=identity,
        outcome=result.outcome,
        live_color=result.live_color,
        weights=result.weights,
        alarm=result.alarm,
    )
    try:
        uri = record.write(session.client("s3"), settings.artifact_bucket, record_dir)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deploy record: {uri}")
    if result.outcome != "promoted":
        raise click.ClickException(f"alarm {result.alarm} fired: rolled back, {result.live_color} stays live")
    click.echo(f"{environment}: {result.live_color} is live with {model_name} v{model_version}")


def _image_by_digest(ecr, repository: str, digest: str) -> tuple[str, str]:
    """(image URI with one of its tags, digest) of an image a release manifest pins by digest."""
    try:
        repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])["imageDetails"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        raise DeployError(f"ECR repository {repository!r} does not exist") from None
    except ecr.exceptions.ImageNotFoundException:
        raise DeployError(f"image {digest} does not exist in ECR repository {repository!r}") from None
    if not found.get("imageTags"):
        raise DeployError(f"image {digest} in {repository!r} has no tag; push it with one (make image)")
    return f"{repo['repositoryUri']}:{found['imageTags'][0]}", digest


def _champion_version(client, model_name: str, alias: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias).version
    except MlflowException:
        raise DeployError(f"model {model_name!r} has no {alias!r} alias to deploy") from None


@deploy.command()
@env_option
@targets_option
@click.option("--timeout", "timeout_seconds", default=120.0, show_default=True, help="Seconds to wait for ready.")
def smoke(environment, targets_file, timeout_seconds) -> None:
    """Wait for the env's serving endpoint to report live and ready."""
    try:
        targets = load_targets(environment, targets_file, REPO_ROOT / "terraform" / "envs" / environment)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    if not targets.service_url:
        raise click.ClickException(f"the deploy targets of {environment} name no service_url to smoke test")
    deadline = time.monotonic() + timeout_seconds
    for route in ("/health/live", "/health/ready"):
        url = targets.service_url.rstrip("/") + route
        while not _ok(url):
            if time.monotonic() > deadline:
                raise click.ClickException(f"{url} did not answer 200 within {timeout_seconds:.0f}s")
            time.sleep(2)
        click.echo(f"{url}: 200")


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the env's own endpoint
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@deploy.command()
@click.option("--tag", required=True, help="Image tag (Jenkins: the commit).")
def image(tag) -> None:
    """Build services/serving/Dockerfile and push it to ECR (needs a Docker engine: Jenkins agents)."""
    import boto3

    if not shutil.which("docker"):
        raise click.ClickException("docker is not installed here; images are built on Jenkins agents with Docker")
    settings = get_settings()
    ecr = boto3.client("ecr", region_name=settings.region)
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = token["proxyEndpoint"].removeprefix("https://")
    uri = f"{registry}/{settings.ecr_repository}:{tag}"
    steps = [
        (["docker", "login", "--username", user, "--password-stdin", registry], password),
        (["docker", "build", "-f", "services/serving/Dockerfile", "-t", uri, "."], None),
        (["docker", "push", uri], None),
    ]
    for argv, stdin in steps:
        if subprocess.run(argv, input=stdin, text=True, cwd=REPO_ROOT, check=False).returncode != 0:
            raise click.ClickException(f"{' '.join(argv[:2])} failed")
    click.echo(uri)
