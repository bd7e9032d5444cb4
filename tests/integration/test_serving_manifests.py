"""The serving Kubernetes manifests through the real tools: every kustomize overlay renders (`kubectl kustomize`),
validates against the Kubernetes schema (`kubernetes-validate`) and keeps the security settings. The Dockerfile and
the systemd unit are read statically in tests/unit/serving/test_packaging.py; systemd-analyze verifies the unit in
tests/integration/test_serving_systemd.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops.core.contracts import IRSA_ROLE_ANNOTATION, IRSA_ROLE_PLACEHOLDER, eks_namespace
from mlops.core.paths import SERVING_OVERLAYS

pytestmark = pytest.mark.integration
OVERLAYS = sorted(p.name for p in SERVING_OVERLAYS.iterdir() if p.is_dir())


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
    kinds = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceAccount",
             "NetworkPolicy", "ConfigMap"}  # fmt: skip
    assert kinds <= set(docs)
    assert all(doc["metadata"]["namespace"] == eks_namespace(env) for doc in docs.values())
    # no role ARN in Git: the placeholder the deploy replaces from `terraform output eks_workloads`
    # (tests/integration/test_deploy_render.py, test_eks_names.py)
    role = docs["ServiceAccount"]["metadata"]["annotations"][IRSA_ROLE_ANNOTATION]
    assert role == IRSA_ROLE_PLACEHOLDER and not role.startswith("arn:")
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] <= hpa["minReplicas"]
    image = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert ".dkr.ecr." in image and not image.endswith(":latest")


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
