"""Put a new version on the idle color before traffic moves to it.

EC2 (asg): a new launch template version whose instances are tagged with the image and the model version (the
serving user data reads them from instance metadata tags), the idle ASG moved to it, then an instance refresh.
EKS: the env's kustomize overlay rendered with the new image and model version for the idle color, its service
account bound to the env's IRSA role of serving (Terraform output `eks_workloads`); kubectl applies it and waits for
the rollout.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mlops.core.contracts import (
    EKS_WORKLOADS_OUTPUT,
    IRSA_ROLE_ANNOTATION,
    IRSA_ROLE_PLACEHOLDER,
    MODEL_VERSION_INSTANCE_TAG,
    SERVING_ENV_INSTANCE_TAG,
    EksWorkload,
)
from mlops.delivery.preflight import Artifact
from mlops.delivery.targets import Color, DeployError, DeployTargets

SERVING_IMAGE = "mlops-serve"  # the image name in services/serving/k8s
SERVING_CONFIG_MAP = "mlops-serve"
IMAGE_TAG_KEY = "mlops:image"


def roll_asg(autoscaling, ec2, targets: DeployTargets, color: Color, artifact: Artifact, instance_refresh: bool) -> str:
    """Return the new launch template version number."""
    asg_name = targets.asg_names[color]
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"]
    if not groups or "LaunchTemplate" not in groups[0]:
        raise DeployError(f"autoscaling group {asg_name!r} does not exist or has no launch template")
    template_id = groups[0]["LaunchTemplate"]["LaunchTemplateId"]
    # copy the latest version whole (rather than SourceVersion) so the result is the same on AWS and on moto
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])
    data = latest["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    ours = {
        IMAGE_TAG_KEY: artifact.image_uri,
        MODEL_VERSION_INSTANCE_TAG: f"{artifact.model_name}/{artifact.model_version}",
    }
    if artifact.serving_env:  # the user data appends these KEY=VALUE pairs to the service's environment file
        ours[SERVING_ENV_INSTANCE_TAG] = " ".join(
            f"{key}={value}" for key, value in sorted(artifact.serving_env.items())
        )
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
    if instance_refresh:
        autoscaling.start_instance_refresh(
            AutoScalingGroupName=asg_name,
            Preferences={"MinHealthyPercentage": 90, "InstanceWarmup": 60},
        )
    return str(version)


def render_overlay(overlay: Path, color: str, artifact: Artifact, serving: EksWorkload) -> str:
    """`kubectl kustomize` of the env's overlay as one color, serving exactly this model version and image.

    The color goes into names and selectors (blue and green run side by side, each behind its own Service and
    target group); the model URI is pinned to the version; the image is pinned by digest. The ServiceAccount gets
    the IRSA role of `serving` (the env's `eks_workloads` Terraform output, mlops.delivery.targets.serving_workload),
    after checking that the role trusts the namespace and service account rendered: DeployError naming both sides
    when it does not (the overlays carry a placeholder, never a role ARN).
    """
    with tempfile.TemporaryDirectory() as tmp:
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(overlay.resolve(), tmp)],  # kustomize refuses absolute roots
            "nameSuffix": f"-{color}",
            "labels": [{"pairs": {"mlops/color": color}, "includeSelectors": True}],
            "commonAnnotations": {"mlops/model-version": f"{artifact.model_name}/{artifact.model_version}"},
            "configMapGenerator": [
                {
                    "name": SERVING_CONFIG_MAP,
                    "behavior": "merge",
                    "literals": [
                        f"MLOPS_SERVE_MODEL_URI=models:/{artifact.model_name}/{artifact.model_version}",
                        *(f"{key}={value}" for key, value in sorted(artifact.serving_env.items())),
                    ],
                }
            ],
        }
        Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        result = subprocess.run(
            ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", tmp],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise DeployError(f"kubectl kustomize failed for {overlay}: {result.stderr.strip()}")
    documents = list(yaml.safe_load_all(result.stdout))
    pinned = f"{artifact.image_uri.rpartition(':')[0]}@{artifact.image_digest}"
    for document in documents:
        if document.get("kind") == "Deployment":
            for container in document["spec"]["template"]["spec"]["containers"]:
                if container["image"].split("@")[0].rpartition(":")[0].endswith(SERVING_IMAGE):
                    container["image"] = pinned
            if artifact.replicas is not None:
                document["spec"]["replicas"] = artifact.replicas
        if document.get("kind") == "HorizontalPodAutoscaler" and artifact.replicas is not None:
            # the release's replica count is the floor the autoscaler scales up from
            document["spec"]["minReplicas"] = artifact.replicas
            document["spec"]["maxReplicas"] = max(document["spec"]["maxReplicas"], artifact.replicas)
    bind_service_account(documents, serving, overlay)
    rendered = yaml.safe_dump_all(documents, sort_keys=False)
    if IRSA_ROLE_PLACEHOLDER in rendered:  # copied somewhere the render does not fill (another annotation, ...)
        raise DeployError(
            f"{overlay} still carries the role placeholder {IRSA_ROLE_PLACEHOLDER!r} after the render: only the "
            f"ServiceAccount's {IRSA_ROLE_ANNOTATION} annotation is filled from {EKS_WORKLOADS_OUTPUT}"
        )
    return rendered


def bind_service_account(documents: list[dict[str, Any]], serving: EksWorkload, source: Path | str) -> None:
    """Annotate the rendered ServiceAccount with the IRSA role of `serving`, after checking that the role trusts it:
    every document in the role's namespace, the ServiceAccount one of the role's service accounts, the Deployment
    running as it. DeployError naming what was rendered and what the role trusts when they differ."""
    trusted = ", ".join(f"{serving.namespace}/{account}" for account in serving.service_accounts)
    role = f"the IRSA role of serving ({serving.role_arn}) trusts {trusted}"
    accounts = [d for d in documents if d.get("kind") == "ServiceAccount"]
    if not accounts:
        raise DeployError(f"{source} renders no ServiceAccount, so no pod can take the IRSA role: {role}")
    for document in documents:
        metadata = document.get("metadata", {})
        namespace = metadata.get("namespace")
        if namespace != serving.namespace:
            raise DeployError(
                f"{source} renders {document.get('kind')} {metadata.get('name')} in namespace {namespace!r}, "
                f"but {role} (namespace {serving.namespace!r})"
            )
    names = {account["metadata"]["name"] for account in accounts}
    for account in accounts:
        name = account["metadata"]["name"]
        if name not in serving.service_accounts:
            raise DeployError(f"{source} renders service account {serving.namespace}/{name}, but {role}")
        account["metadata"].setdefault("annotations", {})[IRSA_ROLE_ANNOTATION] = serving.role_arn
    for document in documents:
        if document.get("kind") == "Deployment":
            runs_as = document["spec"]["template"]["spec"].get("serviceAccountName")
            if runs_as not in names:
                raise DeployError(
                    f"{source}: Deployment {document['metadata']['name']} runs as service account {runs_as!r}, "
                    f"which it does not render ({', '.join(sorted(names))}); {role}"
                )


def apply_manifests(manifests: str, namespace: str, timeout_seconds: int = 600) -> None:
    """kubectl apply, then wait for every Deployment to roll out (needs a cluster: Jenkins agents on AWS)."""
    for argv in (
        ["kubectl", "apply", "-n", namespace, "-f", "-"],
        ["kubectl", "rollout", "status", "-n", namespace, "deployment", "--timeout", f"{timeout_seconds}s"],
    ):
        result = subprocess.run(argv, input=manifests, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DeployError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()}")
