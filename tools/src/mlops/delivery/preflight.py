"""Checks that run before anything changes, so a deploy that cannot succeed fails early with nothing half-done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import ModelRef, Tags
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.delivery.targets import DeployError


@dataclass
class Artifact:
    image_uri: str
    image_digest: str
    model_name: str
    model_version: str
    # a release manifest's serving settings: MLOPS_SERVE_* variables and the replica count (None: the env's own)
    serving_env: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None


def check_credentials(settings: Settings) -> str:
    """The caller's identity ARN; a clear error when no credentials are bound."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if boto3.session.Session(region_name=settings.region).get_credentials() is None:
        raise DeployError(
            "no AWS credentials: bind them with credentials() in Jenkins (aws-deploy-*) or export AWS_PROFILE"
        )
    try:
        return str(aws_client("sts", settings).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"AWS credentials were rejected: {exc}") from None


def find_image(ecr: Any, repository: str, *, tag: str | None = None, digest: str | None = None) -> tuple[str, str]:
    """(image URI, digest) of an image in ECR, by tag (a Jenkins build) or by digest (a release manifest pins one;
    its URI then names one of the image's tags)."""
    wanted = {"imageTag": tag} if tag else {"imageDigest": digest}
    what = f"image tag {tag!r}" if tag else f"image {digest}"
    try:
        repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
        found = ecr.describe_images(repositoryName=repository, imageIds=[wanted])["imageDetails"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        raise DeployError(f"ECR repository {repository!r} does not exist") from None
    except ecr.exceptions.ImageNotFoundException:
        raise DeployError(f"{what} does not exist in ECR repository {repository!r}") from None
    tag = tag or next(iter(found.get("imageTags") or []), None)
    if tag is None:
        raise DeployError(f"{what} in {repository!r} has no tag; push it with one (make image)")
    return f"{repo['repositoryUri']}:{tag}", str(found["imageDigest"])


def check_model_version(registry: Registry, name: str, version: str) -> None:
    """The model version exists and its gate decision is 'passed'."""
    try:
        tags = registry.version_tags(ModelRef(name, version=version))
    except MlopsError as exc:
        raise DeployError(f"model version {name}/{version} cannot be deployed: {exc}") from None
    decision = tags.get(Tags.GATE_DECISION)
    if decision != "passed":
        raise DeployError(
            f"model version {name}/{version} has no passing gate decision "
            f"({Tags.GATE_DECISION}={decision!r}); only gated versions deploy"
        )


def model_version_behind(registry: Registry, name: str, alias: str) -> str:
    """The version an alias points at, for a deploy that names none."""
    version = registry.alias_version(name, alias)
    if version is None:
        raise DeployError(f"model {name!r} has no {alias!r} alias to deploy")
    return version
