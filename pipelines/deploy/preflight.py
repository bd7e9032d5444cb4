"""Checks that run before anything changes, so a deploy that cannot succeed fails early with nothing half-done."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.deploy.targets import DeployError

GATE_DECISION_TAG = "mlops.gate.decision"  # written on the model version by the gate (pipelines/gate.py)


@dataclass
class Artifact:
    image_uri: str
    image_digest: str
    model_name: str
    model_version: str
    # a release manifest's serving settings: MLOPS_SERVE_* variables and the replica count (None: the env's own)
    serving_env: dict[str, str] = field(default_factory=dict)
    replicas: int | None = None


def check_credentials(session) -> str:
    """The caller's identity ARN; a clear error when no credentials are bound."""
    from botocore.exceptions import BotoCoreError, ClientError

    if session.get_credentials() is None:
        raise DeployError(
            "no AWS credentials: bind them with credentials() in Jenkins (aws-deploy-*) or export AWS_PROFILE"
        )
    try:
        return session.client("sts").get_caller_identity()["Arn"]
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"AWS credentials were rejected: {exc}") from None


def check_image(ecr, repository: str, tag: str) -> tuple[str, str]:
    """(image URI, digest) of an image tag that exists in ECR."""
    try:
        repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
        image = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        raise DeployError(f"ECR repository {repository!r} does not exist") from None
    except ecr.exceptions.ImageNotFoundException:
        raise DeployError(f"image tag {tag!r} does not exist in ECR repository {repository!r}") from None
    return f"{repo['repositoryUri']}:{tag}", image["imageDigest"]


def check_model_version(client, name: str, version: str) -> None:
    """The model version exists and its gate decision is 'passed'."""
    from mlflow.exceptions import MlflowException

    try:
        model_version = client.get_model_version(name, version)
    except MlflowException:
        raise DeployError(f"model version {name}/{version} does not exist in the registry") from None
    decision = model_version.tags.get(GATE_DECISION_TAG)
    if decision != "passed":
        raise DeployError(
            f"model version {name}/{version} has no passing gate decision "
            f"({GATE_DECISION_TAG}={decision!r}); only gated versions deploy"
        )
