"""The serving Kubernetes manifests through the real tools: every kustomize overlay renders (`kubectl kustomize`),
validates against the Kubernetes schema (`kubernetes-validate`) and keeps the security settings. The custom resources
(TargetGroupBinding of EKS Auto Mode, ScaledObject of KEDA) are unknown to kubernetes-validate: they are checked
against CUSTOM_RESOURCE_SCHEMAS, a JSON schema of the fields the project uses, and each color the deploy renders
(`render_overlay`, then `bind_color`) must point them at its own Service, Deployment and target group. The
Dockerfile and the systemd unit are read statically in tests/unit/serving/test_packaging.py; systemd-analyze
verifies the unit in tests/integration/test_serving_systemd.py."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlops.core.contracts import (
    IRSA_ROLE_ANNOTATION,
    IRSA_ROLE_PLACEHOLDER,
    EksWorkload,
    eks_namespace,
    eks_service_accounts,
)
from mlops.core.paths import REPO_ROOT, SERVING_OVERLAYS
from mlops.delivery.deploy import TARGET_GROUP_PLACEHOLDER, bind_color
from mlops.delivery.preflight import Artifact
from mlops.delivery.rollout import render_overlay
from mlops.delivery.targets import COLORS

pytestmark = pytest.mark.integration
OVERLAYS = sorted(p.name for p in SERVING_OVERLAYS.iterdir() if p.is_dir())
TARGET_GROUPS = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup"
_NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
_METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {"name": _NAME, "namespace": _NAME},
}
# The fields of the custom resources that this project sets, as their controllers define them (EKS Auto Mode's
# TargetGroupBinding, KEDA's ScaledObject); additionalProperties false so that a misspelt field fails here rather
# than being ignored by the cluster.
CUSTOM_RESOURCE_SCHEMAS = {
    "TargetGroupBinding": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "eks.amazonaws.com/v1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["targetGroupARN", "targetType", "serviceRef"],
                "properties": {
                    "targetGroupARN": {"type": "string", "minLength": 1},
                    "targetType": {"const": "ip"},
                    "serviceRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "port"],
                        "properties": {"name": _NAME, "port": {"type": ["integer", "string"]}},
                    },
                },
            },
        },
    },
    "ScaledObject": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "metadata": _METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "minReplicaCount", "maxReplicaCount", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "apiVersion": {"const": "apps/v1"},
                            "kind": {"const": "Deployment"},
                            "name": _NAME,
                        },
                    },
                    "minReplicaCount": {"type": "integer", "minimum": 1},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "advanced": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"horizontalPodAutoscalerConfig": {"type": "object", "required": ["behavior"]}},
                    },
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"enum": ["prometheus", "cpu", "memory"]},
                                "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                                # KEDA reads every trigger setting as a string
                                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    },
}


def _render(env: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed"
    result = subprocess.run(
        [kubectl, "kustomize", str(SERVING_OVERLAYS / env)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request, tmp_path_factory):
    text = _render(request.param)
    path = tmp_path_factory.mktemp("k8s") / f"{request.param}.yaml"
    path.write_text(text)
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(text)}
    # kubernetes-validate knows the built-in kinds only; the custom resources are checked in their own test
    path.write_text(yaml.safe_dump_all([d for kind, d in docs.items() if kind not in CUSTOM_RESOURCE_SCHEMAS]))
    return request.param, path, docs


def test_overlay_validates_against_kubernetes_schema(rendered):
    _, path, _ = rendered
    validate = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(validate), "--strict", "-k", "1.31.0", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed for resource deployment/mlops-serve" in result.stdout + result.stderr


def test_overlay_has_every_resource_and_environment_values(rendered):
    env, _, docs = rendered
    kinds = {"Deployment", "Service", "ScaledObject", "TargetGroupBinding", "PodDisruptionBudget", "ServiceAccount",
             "NetworkPolicy", "ConfigMap"}  # fmt: skip
    assert kinds <= set(docs)
    # KEDA makes the HorizontalPodAutoscaler from the ScaledObject; a second one would fight it
    assert "HorizontalPodAutoscaler" not in docs
    assert all(doc["metadata"]["namespace"] == eks_namespace(env) for doc in docs.values())
    # no role ARN in Git: the placeholder the deploy replaces from `terraform output eks_workloads`
    # (tests/integration/test_deploy_render.py, test_eks_names.py)
    role = docs["ServiceAccount"]["metadata"]["annotations"][IRSA_ROLE_ANNOTATION]
    assert role == IRSA_ROLE_PLACEHOLDER and not role.startswith("arn:")
    scaling = docs["ScaledObject"]["spec"]
    assert 1 <= scaling["minReplicaCount"] < scaling["maxReplicaCount"]
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] <= scaling["minReplicaCount"]
    # no target group ARN in Git either: the deploy fills it from `terraform output deploy_targets`
    assert docs["TargetGroupBinding"]["spec"]["targetGroupARN"] == TARGET_GROUP_PLACEHOLDER
    image = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert ".dkr.ecr." in image and not image.endswith(":latest")
    # the ALB reaches pods by IP from the env's VPC: the overlay's CIDR is the one its Terraform creates
    tfvars = (REPO_ROOT / "terraform" / "envs" / env / "terraform.tfvars").read_text()
    vpc_cidr = re.search(r'^vpc_cidr\s*=\s*"([^"]+)"', tfvars, re.M).group(1)
    assert docs["NetworkPolicy"]["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidr"] == vpc_cidr


def test_deployment_is_locked_down_with_probes_and_limits(rendered):
    _, _, docs = rendered
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/var/run/secrets/mlops"}
    policy = docs["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}


def test_custom_resources_match_their_schema(rendered):
    _, _, docs = rendered
    for kind, schema in CUSTOM_RESOURCE_SCHEMAS.items():
        jsonschema.validate(docs[kind], schema)


def test_the_schema_refuses_a_misspelt_field(rendered):
    _, _, docs = rendered
    binding = {**docs["TargetGroupBinding"], "spec": {**docs["TargetGroupBinding"]["spec"], "targetGroupArn": "x"}}
    with pytest.raises(jsonschema.ValidationError, match="targetGroupArn"):
        jsonschema.validate(binding, CUSTOM_RESOURCE_SCHEMAS["TargetGroupBinding"])


def test_autoscaling_is_on_requests_in_flight_beside_cpu(rendered):
    _, _, docs = rendered
    triggers = {t["type"]: t for t in docs["ScaledObject"]["spec"]["triggers"]}
    assert set(triggers) == {"prometheus", "cpu"}
    # the serving gauge of requests being handled (services/serving/src/mlops/serving/metrics.py)
    assert "mlops_serving_in_flight_requests" in triggers["prometheus"]["metadata"]["query"]
    assert (
        triggers["prometheus"]["metricType"] == "AverageValue"
        and float(triggers["prometheus"]["metadata"]["threshold"]) > 0
    )
    assert triggers["cpu"]["metricType"] == "Utilization" and 0 < int(triggers["cpu"]["metadata"]["value"]) <= 100


@pytest.mark.parametrize("environment", OVERLAYS)
def test_each_color_binds_its_own_service_deployment_and_target_group(environment):
    """What the deploy applies for each color (render_overlay, then bind_color): the TargetGroupBinding sends the
    color's target group to the color's Service, and the ScaledObject scales the color's Deployment on the color's
    own requests; the names come through the render's suffix (base/kustomizeconfig.yaml)."""
    serving = EksWorkload(
        namespace=eks_namespace(environment),
        service_accounts=list(eks_service_accounts("serving")),
        role_arn=f"arn:aws:iam::123456789012:role/mlops-{environment}-serving-20260101",
    )
    artifact = Artifact(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve:abc", "sha256:" + "ab" * 32, "demo-model", "7"
    )
    for color in COLORS:
        target_group = f"{TARGET_GROUPS}/mlops-{environment}-{color}/0123456789abcdef"
        rendered = render_overlay(SERVING_OVERLAYS / environment, color, artifact, serving)
        docs = {d["kind"]: d for d in yaml.safe_load_all(bind_color(rendered, color, target_group, environment))}
        binding, scaling = docs["TargetGroupBinding"]["spec"], docs["ScaledObject"]["spec"]
        assert binding["targetGroupARN"] == target_group
        assert binding["serviceRef"]["name"] == docs["Service"]["metadata"]["name"] == f"mlops-serve-{color}"
        assert binding["serviceRef"]["port"] == docs["Service"]["spec"]["ports"][0]["port"]
        assert scaling["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"] == f"mlops-serve-{color}"
        (query,) = [t["metadata"]["query"] for t in scaling["triggers"] if t["type"] == "prometheus"]
        assert f'namespace="{serving.namespace}"' in query and f'mlops_color="{color}"' in query
        # the pods carry the label the query selects on (Prometheus maps mlops/color to mlops_color)
        assert docs["Deployment"]["spec"]["template"]["metadata"]["labels"]["mlops/color"] == color
        for kind in CUSTOM_RESOURCE_SCHEMAS:
            jsonschema.validate(docs[kind], CUSTOM_RESOURCE_SCHEMAS[kind])
