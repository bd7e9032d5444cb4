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


def check_image(ecr: Any, repository: str, tag: str) -> tuple[str, str]:
    """(image URI, digest) of an image tag that exists in ECR."""
    try:
        repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
        image = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        raise DeployError(f"ECR repository {repository!r} does not exist") from None
    except ecr.exceptions.ImageNotFoundException:
        raise DeployError(f"image tag {tag!r} does not exist in ECR repository {repository!r}") from None
    return f"{repo['repositoryUri']}:{tag}", image["imageDigest"]


def image_by_digest(ecr: Any, repository: str, digest: str) -> tuple[str, str]:
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
