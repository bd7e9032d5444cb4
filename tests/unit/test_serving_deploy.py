"""Serving deployment files: every kustomize overlay renders and validates against the Kubernetes schema and keeps
the security settings; the Dockerfile is non-root with a health check; the systemd unit verifies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "services/serving"
OVERLAYS = ["dev", "staging", "prod"]


def _render(env: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed"
    result = subprocess.run(
        [kubectl, "kustomize", str(SERVING / "k8s/overlays" / env)], capture_output=True, text=True, timeout=60
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
    assert all(doc["metadata"]["namespace"] == f"mlops-{env}" for doc in docs.values())
    role = docs["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/mlops-{env}-serving", role)
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


def test_dockerfile_is_pinned_non_root_with_healthcheck():
    text = (ROOT / "services/serving/Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.search(r":\d+\.\d+\.\d+-slim", b) for b in bases)
    assert re.search(r"^USER 10001", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*?/health/live", text, re.M)
    assert "uv sync --frozen --no-dev" in text


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    unit = (SERVING / "systemd/mlops-serve.service").read_text()
    assert "ExecStart=/opt/mlops/venv/bin/mlops serve" in unit
    # verify with the path the user data installs replaced by this checkout's venv, which exists here
    local = unit.replace("/opt/mlops/venv/bin/mlops", str(Path(sys.executable).parent / "mlops"))
    path = tmp_path / "mlops-serve.service"
    path.write_text(local)
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "mlops-serve.service" not in result.stderr, result.stderr
