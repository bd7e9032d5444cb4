"""What is deployed: the env's live release object in S3 (`releases/<model>/<env>.yaml` in the artifact bucket),
the registry alias named after the env (`@staging`, ...) and, when asked, a running server's version.
`release deploy` writes the first two; `release diff` compares all three with the manifest in Git."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from dataclasses import dataclass

from pipelines.errors import PipelineError
from pipelines.registry import alias_version, translate
from pipelines.release.manifest import Release, parse_release

log = logging.getLogger(__name__)


def live_key(model: str, env: str) -> str:
    return f"releases/{model}/{env}.yaml"


def publish(settings, release: Release, commit: str) -> str:
    """Store the applied manifest as the env's live release; the object metadata says who applied which commit."""
    import boto3

    key = live_key(release.model.name, release.env)
    metadata = {
        "git-commit": commit,
        "deployed-by": settings.actor or getpass.getuser(),
        "deployed-at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        boto3.client("s3", region_name=settings.region).put_object(
            Bucket=settings.artifact_bucket,
            Key=key,
            Body=release.to_yaml().encode(),
            ContentType="application/yaml",
            Metadata=metadata,
        )
    except Exception as exc:  # botocore errors: a missing bucket, no credentials, an unreachable endpoint
        raise PipelineError(
            f"cannot publish the live release to s3://{settings.artifact_bucket}/{key}: {exc}"
        ) from None
    return f"s3://{settings.artifact_bucket}/{key}"


def read_live(settings, model: str, env: str) -> Release | None:
    import boto3
    from botocore.exceptions import ClientError

    key = live_key(model, env)
    try:
        body = boto3.client("s3", region_name=settings.region).get_object(Bucket=settings.artifact_bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise PipelineError(f"cannot read s3://{settings.artifact_bucket}/{key}: {exc}") from None
    return parse_release(body["Body"].read().decode(), f"s3://{settings.artifact_bucket}/{key}")


def move_env_alias(mlflow_client, release: Release) -> str | None:
    """Point `@<env>` at the manifest's version; return the version it pointed at before."""
    from mlflow.exceptions import MlflowException

    name, env, version = release.model.name, release.env, release.model.version
    before = alias_version(mlflow_client, name, env)
    try:
        mlflow_client.set_registered_model_alias(name, env, version)
    except MlflowException as exc:
        raise translate(exc, f"moving @{env} of {name!r}") from None
    log.info("env alias moved", extra={"model": name, "env": env, "from_version": before, "to_version": version})
    return before


def server_version(url: str, timeout: float = 5.0) -> str | None:
    """The version a running `mlops serve` reports (X-Model-Version on its unauthenticated readiness route)."""
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/health/ready", timeout=timeout)
    except httpx.HTTPError as exc:
        raise PipelineError(f"the server at {url} does not answer: {exc}") from None
    return response.headers.get("x-model-version")


@dataclass
class Row:
    what: str
    expected: str
    actual: str

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def asg_row(settings, release: Release, targets) -> Row:
    """The live color's ASG (more ALB weight): which model version its launch template tags name."""
    import boto3

    from pipelines.deploy.canary import current_weights, live_color
    from pipelines.deploy.rollout import MODEL_TAG_KEY

    session = boto3.session.Session(region_name=settings.region)
    color = live_color(current_weights(session.client("elbv2"), targets))
    name = targets.asg_names[color]
    groups = session.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    template = (groups["AutoScalingGroups"] or [{}])[0].get("LaunchTemplate")
    actual = "none"
    if template:
        data = session.client("ec2").describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        tags = {t["Key"]: t["Value"] for s in data.get("TagSpecifications", []) for t in s["Tags"]}
        model, _, version = tags.get(MODEL_TAG_KEY, "").partition("/")
        actual = f"v{version}" if model == release.model.name and version else tags.get(MODEL_TAG_KEY, "none")
    return Row(f"ASG {name} ({color}, live) launch template", f"v{release.model.version}", actual)


def compare(settings, mlflow_client, release: Release, server_url: str | None, targets=None) -> list[Row]:
    model, env, version = release.model.name, release.env, release.model.version
    live = read_live(settings, model, env)
    if live is None:
        live_text = "none (never deployed)"
    elif live == release:
        live_text = f"v{live.model.version}"
    else:
        changed = [f for f in Release.model_fields if getattr(live, f) != getattr(release, f)]
        live_text = f"v{live.model.version}, differs in " + ", ".join(changed)
    rows = [
        Row(f"live release s3://{settings.artifact_bucket}/{live_key(model, env)}", f"v{version}", live_text),
        Row(f"registry alias {model}@{env}", f"v{version}", _v(alias_version(mlflow_client, model, env))),
    ]
    if server_url:
        rows.append(Row(f"server {server_url}", f"v{version}", _v(server_version(server_url))))
    if targets is not None and targets.serving_target == "asg":
        rows.append(asg_row(settings, release, targets))
    return rows


def _v(version: str | None) -> str:
    return f"v{version}" if version is not None else "none"
