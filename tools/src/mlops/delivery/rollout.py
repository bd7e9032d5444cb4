"""Put a new version on the idle color before traffic moves to it.

One serving process (an EC2 instance, a pod) serves every model of the env. A deploy moves one model: the idle
color gets that model's new version and keeps every other model at the version the live color pins (`pin_versions`),
so the canary moves traffic to a color that differs from the live one in that model alone.
EC2 (asg): a new launch template version whose instances are tagged with the image and the pinned model versions
(the serving user data reads them from instance metadata tags), the idle ASG moved to it, then an instance refresh
(mlops.delivery.health then waits for the color's instances to be healthy). The live color's template tags say
what it runs (`template_tags`), which is how a deploy of what already runs becomes a no-op.
EKS: the env's kustomize overlay rendered with the new image and model versions for the idle color, its service
account bound to the env's IRSA role of serving (Terraform output `eks_workloads`); kubectl applies it and waits for
the rollout of the color's Deployments. The ops workloads (the drift CronJob, the retraining service) are rendered
the same way, bound to their own IRSA roles (`render_workload`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from mlops.core.contracts import (
    EKS_WORKLOADS_OUTPUT,
    IRSA_ROLE_ANNOTATION,
    IRSA_ROLE_PLACEHOLDER,
    MODEL_VERSION_ANNOTATION,
    MODEL_VERSION_INSTANCE_TAG,
    SERVING_ENV_INSTANCE_TAG,
    EksWorkload,
    ModelRef,
    ModelUriError,
    ModelVersionTagError,
    format_model_versions,
    parse_model_versions,
    pin_model_uris,
)
from mlops.core.paths import REPO_ROOT
from mlops.delivery.health import Refresh
from mlops.delivery.preflight import Artifact
from mlops.delivery.targets import COLORS, Color, DeployError, DeployTargets

SERVING_IMAGE = "mlops-serve"  # the image name in services/serving/k8s
SERVING_CONFIG_MAP = "mlops-serve"
SERVING_DEPLOYMENT = "mlops-serve"  # services/serving/k8s/base/deployment.yaml
SERVE_MODEL_URI_SETTING = "MLOPS_SERVE_MODEL_URI"  # one model URI, or several separated by commas (mlops serve)
IMAGE_TAG_KEY = "mlops:image"
IMAGE_DIGEST_TAG_KEY = "mlops:image-digest"  # the URI names a tag; the digest says which image it was
# what the deploy's instance refresh asks for (the health wait's budget reads the same numbers)
REFRESH_MIN_HEALTHY_PERCENTAGE = 90
REFRESH_WARMUP_SECONDS = 60
# Kubernetes' default spec.progressDeadlineSeconds of a Deployment
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
# the ops workloads' overlays (dev, staging, prod under each), by the workload name of `eks_workloads`
OPS_OVERLAYS: Final = {
    "drift": REPO_ROOT / "services" / "drift" / "k8s" / "overlays",
    "retraining": REPO_ROOT / "services" / "retraining" / "k8s" / "overlays",
}
# on each pod template of a render_workload: a digest of the ConfigMaps the pods read, so that `kubectl apply` of a
# changed config restarts them (the ops ConfigMaps keep stable names, which kustomize's hash suffix would change)
CONFIG_CHECKSUM_ANNOTATION: Final = "mlops/config-sha256"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Rolled:
    version: str  # the new launch template version
    refresh: Refresh | None  # the instance refresh started, if any


def roll_asg(
    autoscaling, ec2, targets: DeployTargets, color: Color, artifact: Artifact, instance_refresh: bool
) -> Rolled:
    """Move the color's group to a new launch template version naming the artifact (its model's version, every other
    model at the version the live color, the other one, pins); start a refresh if asked. DeployError before any
    change when the env does not serve the artifact's model (targets.model_names)."""
    targets.check_serves(artifact.model_name)
    asg_name = targets.asg_names[color]
    (live,) = (other for other in COLORS if other != color)
    pinned = pin_versions(template_tags(autoscaling, ec2, targets.asg_names[live]), artifact, targets.model_names)
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"]
    if not groups or "LaunchTemplate" not in groups[0]:
        raise DeployError(f"autoscaling group {asg_name!r} does not exist or has no launch template")
    template_id = groups[0]["LaunchTemplate"]["LaunchTemplateId"]
    # copy the latest version whole (rather than SourceVersion) so the result is the same on AWS and on moto
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])
    data = latest["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    ours = {
        IMAGE_TAG_KEY: artifact.image_uri,
        IMAGE_DIGEST_TAG_KEY: artifact.image_digest,
        MODEL_VERSION_INSTANCE_TAG: pinned,
    }
    if artifact.serving_env:  # the user data appends these KEY=VALUE pairs to the service's environment file
        ours[SERVING_ENV_INSTANCE_TAG] = serving_env_tag(artifact.serving_env)
    specs = [s for s in data.get("TagSpecifications", []) if s["ResourceType"] != "instance"]
    instance_tags = [
        t
        for s in data.get("TagSpecifications", [])
        if s["ResourceType"] == "instance"
        for t in s["Tags"]
        if t["Key"] not in ours
    ]
    instance_tags += [{"Key": key, "Value": value} for key, value in ours.items()]
    data["TagSpecifications"] = [*specs, {"ResourceType": "instance", "Tags": instance_tags}]
    version = ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        VersionDescription=f"{artifact.model_name} v{artifact.model_version} {artifact.image_digest}"[:255],
        LaunchTemplateData=data,
    )["LaunchTemplateVersion"]["VersionNumber"]
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=asg_name,
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": str(version)},
    )
    refresh = None
    if instance_refresh:
        started = autoscaling.start_instance_refresh(
            AutoScalingGroupName=asg_name,
            Preferences={
                "MinHealthyPercentage": REFRESH_MIN_HEALTHY_PERCENTAGE,
                "InstanceWarmup": REFRESH_WARMUP_SECONDS,
            },
        )
        refresh = Refresh(started["InstanceRefreshId"], REFRESH_MIN_HEALTHY_PERCENTAGE, REFRESH_WARMUP_SECONDS)
    return Rolled(str(version), refresh)


def pin_versions(live_tags: Mapping[str, str], artifact: Artifact, model_names: Collection[str] | None = None) -> str:
    """The MODEL_VERSION_INSTANCE_TAG of the color a deploy rolls: the artifact's model at its new version, every
    other model as the live color's template pins it (`live_tags`), unpinned models left to their default. A pin of a
    model the env no longer serves (not in `model_names`, when known) is dropped. DeployError naming the tag when the
    live one is malformed or the result would not fit in a tag."""
    try:
        pins = parse_model_versions(live_tags.get(MODEL_VERSION_INSTANCE_TAG, ""))
    except ModelVersionTagError as exc:
        raise DeployError(f"the live color's launch template: {exc}") from None
    if model_names is not None:
        pins = {name: version for name, version in pins.items() if name in model_names}
    try:
        return format_model_versions({**pins, artifact.model_name: artifact.model_version})
    except ModelVersionTagError as exc:
        raise DeployError(str(exc)) from None


def serving_env_tag(serving_env: Mapping[str, str]) -> str:
    """The SERVING_ENV_INSTANCE_TAG value of a release's serving settings (the user data splits it on spaces)."""
    return " ".join(f"{key}={value}" for key, value in sorted(serving_env.items()))


def template_tags(autoscaling, ec2, group_name: str) -> dict[str, str]:
    """The instance tags of the launch template version a group runs now ({} when it has no template)."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    template = (groups or [{}])[0].get("LaunchTemplate")
    if not template:
        return {}
    data = ec2.describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    return {t["Key"]: t["Value"] for s in data.get("TagSpecifications", []) for t in s["Tags"]}


def render_overlay(
    overlay: Path, color: str, artifact: Artifact, serving: EksWorkload, live_pins: Mapping[str, str] | None = None
) -> str:
    """`kubectl kustomize` of the env's overlay as one color, serving exactly these model versions and image.

    The color goes into names and selectors (blue and green run side by side, each behind its own Service and
    target group). The overlay's MLOPS_SERVE_MODEL_URI lists every model of the env (one process serves them all);
    the artifact's model is pinned to its version, every other model to the version `live_pins` names (the live
    color's, `deployment_pins`), else left at the overlay's URI; the pins go into the pods' MODEL_VERSION_ANNOTATION
    in the instance tag's format. DeployError when the overlay does not list the artifact's model. The image is
    pinned by digest. The ServiceAccount gets the IRSA role of `serving` (the env's `eks_workloads` Terraform output,
    mlops.delivery.targets.serving_workload), after checking that the role trusts the namespace and service account
    rendered: DeployError naming both sides when it does not (the overlays carry a placeholder, never a role ARN).
    """
    defaults = overlay_model_uris(overlay)
    names = [ModelRef.parse(uri).name for uri in defaults]
    if artifact.model_name not in names:
        raise DeployError(
            f"{overlay} serves {', '.join(names)} (MLOPS_SERVE_MODEL_URI): add models:/{artifact.model_name}@<alias> "
            f"to it to deploy {artifact.model_name}"
        )
    pins = {name: version for name, version in (live_pins or {}).items() if name in names}
    pins[artifact.model_name] = artifact.model_version
    try:
        annotation = format_model_versions(pins)
    except ModelVersionTagError as exc:
        raise DeployError(str(exc)) from None
    with tempfile.TemporaryDirectory() as tmp:
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(overlay.resolve(), tmp)],  # kustomize refuses absolute roots
            "nameSuffix": f"-{color}",
            "labels": [{"pairs": {"mlops/color": color}, "includeSelectors": True}],
            "commonAnnotations": {MODEL_VERSION_ANNOTATION: annotation},
            "configMapGenerator": [
                {
                    "name": SERVING_CONFIG_MAP,
                    "behavior": "merge",
                    "literals": [
                        f"{SERVE_MODEL_URI_SETTING}={','.join(pin_model_uris(defaults, pins))}",
                        *(f"{key}={value}" for key, value in sorted(artifact.serving_env.items())),
                    ],
                }
            ],
        }
        Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        documents = _kustomize(Path(tmp), overlay)
    pinned = f"{artifact.image_uri.rpartition(':')[0]}@{artifact.image_digest}"
    for document in documents:
        if document.get("kind") == "Deployment":
            for container in document["spec"]["template"]["spec"]["containers"]:
                if container["image"].split("@")[0].rpartition(":")[0].endswith(SERVING_IMAGE):
                    container["image"] = pinned
            if artifact.replicas is not None:
                document["spec"]["replicas"] = artifact.replicas
        if document.get("kind") == "ScaledObject" and artifact.replicas is not None:
            # the release's replica count is the floor the autoscaler (KEDA's) scales up from
            document["spec"]["minReplicaCount"] = artifact.replicas
            document["spec"]["maxReplicaCount"] = max(document["spec"]["maxReplicaCount"], artifact.replicas)
    bind_service_account(documents, serving, overlay)
    return _dump_without_placeholder(documents, overlay)


def overlay_model_uris(overlay: Path) -> list[str]:
    """The env's models as the serving overlay lists them: MLOPS_SERVE_MODEL_URI of its ConfigMap, comma-separated
    model URIs. DeployError naming the overlay when it sets none, or something that is not a list of model URIs."""
    found = [
        str(document["data"][SERVE_MODEL_URI_SETTING])
        for document in _kustomize(overlay, overlay)
        if document.get("kind") == "ConfigMap" and SERVE_MODEL_URI_SETTING in (document.get("data") or {})
    ]
    if len(found) != 1:
        raise DeployError(f"{overlay} sets {SERVE_MODEL_URI_SETTING} in {len(found)} ConfigMaps: expected one")
    uris = [uri.strip() for uri in found[0].split(",")]
    try:
        refs = [ModelRef.parse(uri) for uri in uris]
    except ModelUriError as exc:
        raise DeployError(f"{overlay}: {SERVE_MODEL_URI_SETTING}: {exc}") from None
    twice = sorted({ref.name for ref in refs if [r.name for r in refs].count(ref.name) > 1})
    if twice:
        raise DeployError(f"{overlay}: {SERVE_MODEL_URI_SETTING} names {', '.join(twice)} more than once")
    return uris


def deployment_pins(namespace: str, color: str) -> dict[str, str]:
    """The model versions the serving Deployment of `color` pins (its MODEL_VERSION_ANNOTATION; {} when it does not
    exist yet or pins none): for the live color, what `render_overlay` keeps for the models a deploy does not move.
    Needs a cluster."""
    deployment = f"{SERVING_DEPLOYMENT}-{color}"  # render_overlay's nameSuffix
    argv = ["kubectl", "get", "deployment", deployment, "-n", namespace, "-o", "json", "--ignore-not-found"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    except subprocess.TimeoutExpired:
        raise DeployError(f"kubectl get deployment {deployment} did not finish within 60s") from None
    if result.returncode != 0:
        raise DeployError(f"kubectl get deployment {deployment} -n {namespace} failed: {result.stderr.strip()}")
    if not result.stdout.strip():
        return {}
    annotations = json.loads(result.stdout).get("metadata", {}).get("annotations") or {}
    try:
        return parse_model_versions(annotations.get(MODEL_VERSION_ANNOTATION, ""))
    except ModelVersionTagError as exc:
        raise DeployError(f"deployment {namespace}/{deployment}: {exc}") from None


def render_workload(
    overlay: Path, workload: EksWorkload, *, name: str, settings: Mapping[str, str | None] | None = None
) -> str:
    """`kubectl kustomize` of an ops workload's overlay (OPS_OVERLAYS[name] / env: the drift CronJob, the retraining
    Deployment), its ServiceAccount bound to the IRSA role of `workload` (entry `name` of the env's `eks_workloads`
    Terraform output, mlops.delivery.targets.load_eks_workloads) exactly as serving's is: every document in the
    role's namespace, the ServiceAccount one the role trusts, every pod template running as it; DeployError naming
    both sides otherwise, and when the role placeholder is left anywhere.

    `settings` (e.g. the env's `terraform output services_env`: the real bucket names) are merged into every
    ConfigMap the pods take their environment from, over what the overlay says. Each pod template gets the
    CONFIG_CHECKSUM_ANNOTATION of the ConfigMaps it reads, so applying a changed config restarts the service.
    """
    documents = _kustomize(overlay, overlay)
    if settings:
        _merge_settings(documents, settings, overlay)
    _annotate_config_checksums(documents)
    bind_service_account(documents, workload, overlay, name=name)
    return _dump_without_placeholder(documents, overlay)


def _kustomize(root: Path, overlay: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(f"kubectl kustomize failed for {overlay}: {result.stderr.strip()}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def _dump_without_placeholder(documents: list[dict[str, Any]], overlay: Path) -> str:
    rendered = yaml.safe_dump_all(documents, sort_keys=False)
    if IRSA_ROLE_PLACEHOLDER in rendered:  # copied somewhere the render does not fill (another annotation, ...)
        raise DeployError(
            f"{overlay} still carries the role placeholder {IRSA_ROLE_PLACEHOLDER!r} after the render: only the "
            f"ServiceAccount's {IRSA_ROLE_ANNOTATION} annotation is filled from {EKS_WORKLOADS_OUTPUT}"
        )
    return rendered


def pod_template(document: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload document (a Deployment's, a Job's, a CronJob's job template's, ...), or the Pod
    itself; None for documents that run no pods."""
    kind, spec = document.get("kind"), document.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        template: dict[str, Any] | None = spec.get("template")
        return template
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind == "Pod":
        return document
    return None


def _config_maps_read(pod: dict[str, Any]) -> set[str]:
    """The ConfigMaps a pod template reads: envFrom, env valueFrom, volumes (projected ones too)."""
    spec = pod.get("spec") or {}
    names = set()
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        names |= {ref["configMapRef"]["name"] for ref in container.get("envFrom", []) if "configMapRef" in ref}
        for variable in container.get("env", []):
            key_ref = (variable.get("valueFrom") or {}).get("configMapKeyRef")
            if key_ref:
                names.add(key_ref["name"])
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            names.add(volume["configMap"]["name"])
        for source in (volume.get("projected") or {}).get("sources", []):
            if "configMap" in source:
                names.add(source["configMap"]["name"])
    return names


def _merge_settings(documents: list[dict[str, Any]], settings: Mapping[str, str | None], overlay: Path) -> None:
    bad = sorted(key for key in settings if not _ENV_NAME.match(key))
    if bad:
        raise DeployError(f"settings for {overlay} with names that are not environment variables: {', '.join(bad)}")
    unset = sorted(key for key, value in settings.items() if value is None)
    if unset:  # a Terraform output that is null: the overlay's value would stay, silently wrong
        raise DeployError(f"settings for {overlay} without a value: {', '.join(unset)}")
    env_maps = {
        ref["configMapRef"]["name"]
        for document in documents
        if (pod := pod_template(document))
        for container in (pod.get("spec") or {}).get("containers", [])
        for ref in container.get("envFrom", [])
        if "configMapRef" in ref
    }
    targets = [d for d in documents if d.get("kind") == "ConfigMap" and d["metadata"]["name"] in env_maps]
    if not targets:
        raise DeployError(
            f"{overlay} renders no ConfigMap that its pods take their environment from: nowhere to put the "
            f"settings {', '.join(sorted(settings))}"
        )
    for config_map in targets:
        config_map.setdefault("data", {}).update({key: str(value) for key, value in settings.items()})


def _annotate_config_checksums(documents: list[dict[str, Any]]) -> None:
    config_maps = {d["metadata"]["name"]: d for d in documents if d.get("kind") == "ConfigMap"}
    for document in documents:
        pod = pod_template(document)
        if pod is None or pod is document:
            continue
        read = sorted(_config_maps_read(pod) & set(config_maps))
        if not read:
            continue
        content = [[name, config_maps[name].get("data", {}), config_maps[name].get("binaryData", {})] for name in read]
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        pod.setdefault("metadata", {}).setdefault("annotations", {})[CONFIG_CHECKSUM_ANNOTATION] = digest


def bind_service_account(
    documents: list[dict[str, Any]], workload: EksWorkload, source: Path | str, *, name: str = "serving"
) -> None:
    """Annotate the rendered ServiceAccount with the IRSA role of `workload` (the `name` entry of `eks_workloads`),
    after checking that the role trusts it: every document in the role's namespace, the ServiceAccount one of the
    role's service accounts, every pod template (a Deployment's, a Job's, a CronJob's, ...) running as it.
    DeployError naming what was rendered and what the role trusts when they differ."""
    trusted = ", ".join(f"{workload.namespace}/{account}" for account in workload.service_accounts)
    role = f"the IRSA role of {name} ({workload.role_arn}) trusts {trusted}"
    accounts = [d for d in documents if d.get("kind") == "ServiceAccount"]
    if not accounts:
        raise DeployError(f"{source} renders no ServiceAccount, so no pod can take the IRSA role: {role}")
    for document in documents:
        metadata = document.get("metadata", {})
        namespace = metadata.get("namespace")
        if namespace != workload.namespace:
            raise DeployError(
                f"{source} renders {document.get('kind')} {metadata.get('name')} in namespace {namespace!r}, "
                f"but {role} (namespace {workload.namespace!r})"
            )
    names = {account["metadata"]["name"] for account in accounts}
    for account in accounts:
        account_name = account["metadata"]["name"]
        if account_name not in workload.service_accounts:
            raise DeployError(f"{source} renders service account {workload.namespace}/{account_name}, but {role}")
        account["metadata"].setdefault("annotations", {})[IRSA_ROLE_ANNOTATION] = workload.role_arn
    for document in documents:
        pod = pod_template(document)
        if pod is None:
            continue
        runs_as = (pod.get("spec") or {}).get("serviceAccountName")
        if runs_as not in names:
            raise DeployError(
                f"{source}: {document['kind']} {document['metadata']['name']} runs as service account {runs_as!r}, "
                f"which it does not render ({', '.join(sorted(names))}); {role}"
            )


def apply_manifests(manifests: str, namespace: str) -> None:
    """kubectl apply, then wait for the rollout of each Deployment rendered (the idle color's), so that no traffic
    moves before its pods are Ready. Needs a cluster: Jenkins agents on AWS.

    What only a real cluster proves: that `rollout status` returns once the new pods pass their readiness probe
    (/health/ready, with the model loaded), and that the AWS Load Balancer Controller has registered them healthy
    in the color's target group; the wait here sees the Deployment, not the ALB's health checks."""
    deployments = [
        document for document in yaml.safe_load_all(manifests) if document and document.get("kind") == "Deployment"
    ]
    _kubectl(["kubectl", "apply", "-n", namespace, "-f", "-"], manifests, timeout_seconds=120)
    for deployment in deployments:
        seconds = rollout_timeout(deployment)
        name = deployment["metadata"]["name"]
        argv = ["kubectl", "rollout", "status", "-n", namespace, f"deployment/{name}", "--timeout", f"{seconds}s"]
        _kubectl(argv, None, timeout_seconds=seconds + 30)


def rollout_timeout(deployment: dict[str, Any]) -> int:
    """The Deployment's own bound: its progress deadline (Kubernetes gives up on a rollout that makes no progress
    for that long) for each replica, since a rollout that keeps progressing may replace them one at a time."""
    spec = deployment.get("spec") or {}
    deadline = int(spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS))
    return deadline * max(1, int(spec.get("replicas", 1)))


def _kubectl(argv: list[str], stdin: str | None, timeout_seconds: int) -> None:
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        raise DeployError(f"{' '.join(argv[:3])} did not finish within {timeout_seconds}s") from None
    if result.returncode != 0:
        raise DeployError(f"{' '.join(argv[:3])} failed: {result.stderr.strip()}")
