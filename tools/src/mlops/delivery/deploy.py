"""A canary deploy as a function: what `mlops deploy canary` and `mlops release deploy --rollout` both run.

Every check comes first (targets, credentials, image, model version and its gate, the idle color's capacity), so a
deploy that cannot succeed changes nothing; a deploy of what the live color already runs stops there too, saying so.
Then the idle color gets the new version, the deploy waits until its instances are healthy (no traffic moves before,
none at all if they never are), traffic shifts step by step while the alarms are watched, and a deploy record is
written whatever the outcome.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from mlops.core.clients import Registry, aws_client
from mlops.core.paths import REPO_ROOT, SERVING_DOCKERFILE, SERVING_OVERLAYS
from mlops.core.settings import Settings
from mlops.delivery.canary import CanaryPlan, current_weights, live_color, run_canary
from mlops.delivery.health import check_idle_group, wait_until_ready
from mlops.delivery.preflight import (
    Artifact,
    check_credentials,
    check_model_version,
    find_image,
    model_version_behind,
)
from mlops.delivery.record import DeployRecord, now
from mlops.delivery.rollout import apply_manifests, deployment_pins, render_overlay, roll_asg, template_tags
from mlops.delivery.targets import Color, DeployError, DeployTargets, load_targets, serving_workload
from mlops.delivery.unchanged import live_color_runs, nothing_to_deploy

Say = Callable[[str], None]

# What the serving overlays carry in Git instead of values only a deploy of one color knows (services/serving/k8s):
# the color's target group ARN (Terraform output deploy_targets), and the namespace and color its autoscaling
# query counts requests in. bind_color fills them and refuses to leave any in place.
TARGET_GROUP_PLACEHOLDER: Final = "set-at-deploy-from-terraform-output-deploy_targets-target_groups"
NAMESPACE_PLACEHOLDER: Final = "set-at-deploy-namespace"
COLOR_PLACEHOLDER: Final = "set-at-deploy-color"
_TARGET_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[^/\s]+/[0-9a-f]+$")


@dataclass(frozen=True)
class ImageRef:
    """The serving image in ECR, by tag (a Jenkins build) or by digest (a release manifest)."""

    repository: str
    tag: str | None = None
    digest: str | None = None


def current_commit(root: Path = REPO_ROOT) -> str | None:
    """The commit being deployed: Jenkins' GIT_COMMIT, else the checkout's HEAD."""
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"]
    import git

    try:
        return str(git.Repo(root, search_parent_directories=True).head.commit.hexsha)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None


def canary_plan(settings: Settings) -> CanaryPlan:
    try:
        return CanaryPlan(
            steps=[int(s) for s in settings.canary_steps.split(",")],
            watch_seconds=settings.canary_watch_seconds,
            poll_seconds=settings.canary_poll_seconds,
        )
    except ValueError as exc:
        raise DeployError(f"MLOPS_CANARY_STEPS={settings.canary_steps!r}: {exc}") from None


def run_rollout(
    settings: Settings,
    environment: str,
    model_name: str,
    model_version: str | None,
    image: ImageRef,
    *,
    targets_file: Path | None,
    instance_refresh: bool,
    record_dir: Path,
    targets: DeployTargets | None = None,
    serving_env: dict[str, str] | None = None,
    replicas: int | None = None,
    force: bool = False,
    say: Say = print,
) -> DeployRecord | None:
    """Deploy `model_version` (default: the champion's) in `image` to the env's idle color; DeployError when it
    cannot start, when the record cannot be stored, when the new color never became healthy (no traffic moved), or
    when an alarm rolled it back; its record (written) when it went live. None when the live color already runs it
    (EC2; unless `force`): nothing changed, no record.

    `serving_env` and `replicas` come from a release manifest; without them the new color keeps the env's own."""
    plan = canary_plan(settings)
    # every check first: nothing changes until all of them pass
    targets = targets or load_targets(environment, targets_file)  # a caller that read them already passes them
    settings = targets.settings_for(settings)  # the record goes to the env's own bucket
    targets.check_serves(model_name)  # one process serves the env's models: another would never be loaded
    # EKS: the namespace, service account and IRSA role come from the env's Terraform output, never the overlay
    serving = None if targets.serving_target == "asg" else serving_workload(environment)
    identity = check_credentials(settings)
    image_uri, digest = find_image(aws_client("ecr", settings), image.repository, tag=image.tag, digest=image.digest)
    registry = Registry(settings=settings)
    if model_version is None:
        model_version = model_version_behind(registry, model_name, settings.champion_alias)
    check_model_version(registry, model_name, model_version)
    artifact = Artifact(image_uri, digest, model_name, model_version, serving_env or {}, replicas)

    elbv2, cloudwatch = aws_client("elbv2", settings), aws_client("cloudwatch", settings)
    weights = current_weights(elbv2, targets)
    live: Color = live_color(weights)
    new_color: Color = "green" if live == "blue" else "blue"
    autoscaling, ec2 = aws_client("autoscaling", settings), aws_client("ec2", settings)
    if serving is None:  # the env serves from its autoscaling groups (the EKS path has no such check yet)
        if not force and live_color_runs(
            template_tags(autoscaling, ec2, targets.asg_names[live]), weights, live, artifact
        ):
            say(nothing_to_deploy(environment, model_name, model_version, digest))
            return None
        check_idle_group(autoscaling, targets, new_color)
    started_at = now()

    def record(outcome: str, live: str, **details: Any) -> DeployRecord:
        """This deploy's record (weights, alarm, unhealthy as details), written whatever the outcome."""
        return DeployRecord(
            environment=environment, model_name=model_name, model_version=str(model_version), image_uri=image_uri,
            image_digest=digest, commit=current_commit() or "unknown", deployed_by=identity, outcome=outcome,
            live_color=live, started_at=started_at, **details,
        )  # fmt: skip

    say(f"deploying {model_name} v{model_version} ({image_uri}) to {environment}/{new_color}")
    if serving is None:
        rolled = roll_asg(autoscaling, ec2, targets, new_color, artifact, instance_refresh)
        say(f"{targets.asg_names[new_color]}: launch template version {rolled.version}")
        waited = wait_until_ready(autoscaling, elbv2, targets, new_color, rolled.refresh, plan.poll_seconds, say)
        if not waited.ready:
            failed = record("unhealthy", live, unhealthy=waited.state.not_healthy)
            say(f"deploy record: {failed.write(aws_client('s3', settings), settings.artifact_bucket, record_dir)}")
            raise DeployError(waited.failure(environment, new_color, live))
    else:
        overlay = SERVING_OVERLAYS / environment
        # the other models stay at the versions the live color's pods pin
        pins = deployment_pins(serving.namespace, live)
        rendered = render_overlay(overlay, new_color, artifact, serving, live_pins=pins)
        manifests = bind_color(rendered, new_color, targets.target_groups[new_color], overlay)
        apply_manifests(manifests, namespace=serving.namespace)
    result = run_canary(elbv2, cloudwatch, targets, plan, new_color, say=say)

    done = record(result.outcome, result.live_color, weights=result.weights, alarm=result.alarm)
    say(f"deploy record: {done.write(aws_client('s3', settings), settings.artifact_bucket, record_dir)}")
    if result.outcome != "promoted":
        raise DeployError(f"alarm {result.alarm} fired: rolled back, {result.live_color} stays live")
    say(f"{environment}: {result.live_color} is live with {model_name} v{model_version}")
    return done


def bind_color(manifests: str, color: Color, target_group_arn: str, source: Path | str) -> str:
    """The rendered serving manifests of one color (rollout.render_overlay) tied to that color's load balancing: the
    TargetGroupBinding puts the pods into `target_group_arn` (deploy_targets.target_groups[color]), and each
    ScaledObject query counts the requests of this namespace and color only (blue and green scale apart).

    DeployError, with nothing to apply, when the ARN is not a target group's, when the render has no or several
    TargetGroupBindings, when one names a target group in Git, or when a placeholder is left anywhere."""
    if not _TARGET_GROUP_ARN.match(target_group_arn):
        raise DeployError(
            f"the {color} target group of deploy_targets is {target_group_arn!r}, not an ELB target group ARN"
        )
    documents = [document for document in yaml.safe_load_all(manifests) if document]
    bindings = [document for document in documents if document.get("kind") == "TargetGroupBinding"]
    if len(bindings) != 1:
        raise DeployError(
            f"{source} renders {len(bindings)} TargetGroupBindings: the {color} color needs exactly one, to put its "
            f"pods into {target_group_arn}"
        )
    spec = bindings[0]["spec"]
    if spec.get("targetGroupARN") != TARGET_GROUP_PLACEHOLDER:
        raise DeployError(
            f"{source}: TargetGroupBinding {bindings[0]['metadata']['name']} names target group "
            f"{spec.get('targetGroupARN')!r} in Git; it must carry {TARGET_GROUP_PLACEHOLDER!r}, which the deploy "
            f"replaces with deploy_targets.target_groups.{color}"
        )
    spec["targetGroupARN"] = target_group_arn
    for document in documents:
        if document.get("kind") != "ScaledObject":
            continue
        namespace = document["metadata"]["namespace"]
        for trigger in document["spec"].get("triggers", []):
            metadata = trigger.get("metadata") or {}
            if "query" in metadata:
                metadata["query"] = (
                    metadata["query"].replace(NAMESPACE_PLACEHOLDER, namespace).replace(COLOR_PLACEHOLDER, color)
                )
    bound = yaml.safe_dump_all(documents, sort_keys=False)
    left = [p for p in (TARGET_GROUP_PLACEHOLDER, NAMESPACE_PLACEHOLDER, COLOR_PLACEHOLDER) if p in bound]
    if left:
        raise DeployError(f"{source} still carries {', '.join(map(repr, left))} after binding the {color} color")
    return bound


def wait_ready(service_url: str, timeout_seconds: float, say: Say = print) -> None:
    """Wait for an endpoint's /health/live and /health/ready to answer 200."""
    deadline = time.monotonic() + timeout_seconds
    for route in ("/health/live", "/health/ready"):
        url = service_url.rstrip("/") + route
        while not _ok(url):
            if time.monotonic() > deadline:
                raise DeployError(f"{url} did not answer 200 within {timeout_seconds:.0f}s")
            time.sleep(2)
        say(f"{url}: 200")


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the env's own endpoint
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def build_and_push_image(settings: Settings, tag: str) -> str:
    """Build the serving image and push it to ECR as `tag`; its URI. Needs a Docker engine (Jenkins agents)."""
    if not shutil.which("docker"):
        raise DeployError("docker is not installed here; images are built on Jenkins agents with Docker")
    ecr = aws_client("ecr", settings)
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = token["proxyEndpoint"].removeprefix("https://")
    uri = f"{registry}/{settings.ecr_repository}:{tag}"
    steps: list[tuple[list[str], str | None]] = [
        (["docker", "login", "--username", user, "--password-stdin", registry], password),
        (["docker", "build", "-f", str(SERVING_DOCKERFILE.relative_to(REPO_ROOT)), "-t", uri, "."], None),
        (["docker", "push", uri], None),
    ]
    for argv, stdin in steps:
        if subprocess.run(argv, input=stdin, text=True, cwd=REPO_ROOT, check=False).returncode != 0:
            raise DeployError(f"{' '.join(argv[:2])} failed")
    return uri
