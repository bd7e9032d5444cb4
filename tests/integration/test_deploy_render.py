"""The EKS path of a deploy: each env's overlay rendered as one color, pinned to the model version and image, its
service account bound to the env's IRSA role of serving. `render_overlay` runs `kubectl kustomize`, so this is an
integration test. (The names against a Terraform plan of the platform: tests/integration/test_eks_names.py.)"""

import os

import pytest
import yaml

from mlops.core.contracts import (
    IRSA_ROLE_ANNOTATION,
    IRSA_ROLE_PLACEHOLDER,
    EksWorkload,
    eks_namespace,
    eks_service_accounts,
)
from mlops.core.paths import SERVING_OVERLAYS
from mlops.delivery.preflight import Artifact
from mlops.delivery.rollout import render_overlay
from mlops.delivery.targets import ENVIRONMENTS, DeployError

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32
ARTIFACT = Artifact("123.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve:abc123", DIGEST, "churn", "7")


def serving_of(environment: str, **changes) -> EksWorkload:
    """The env's serving entry of `eks_workloads` as Terraform outputs it (a made-up role ARN)."""
    workload = EksWorkload(
        namespace=eks_namespace(environment),
        service_accounts=list(eks_service_accounts("serving")),
        role_arn=f"arn:aws:iam::123456789012:role/mlops-{environment}-serving-20260101",
    )
    return workload.model_copy(update=changes)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("color", ["blue", "green"])
def test_overlay_renders_one_color_pinned_to_version_and_digest(environment, color):
    rendered = render_overlay(SERVING_OVERLAYS / environment, color, ARTIFACT, serving_of(environment))
    documents = list(yaml.safe_load_all(rendered))
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "Service", "ConfigMap", "ScaledObject", "TargetGroupBinding", "PodDisruptionBudget"} <= kinds
    for document in documents:
        assert document["metadata"]["name"].startswith("mlops-serve-" + color)
        assert document["metadata"]["labels"]["mlops/color"] == color
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    assert deployment["spec"]["selector"]["matchLabels"]["mlops/color"] == color
    assert deployment["metadata"]["annotations"]["mlops/model-version"] == "churn/7"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"123.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve@{DIGEST}"
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_SERVE_MODEL_URI"] == "models:/churn/7"
    (service,) = [d for d in documents if d["kind"] == "Service"]
    assert service["spec"]["selector"]["mlops/color"] == color
    # IRSA: the color's service account, in the env's namespace, annotated with the role from Terraform
    (account,) = [d for d in documents if d["kind"] == "ServiceAccount"]
    assert account["metadata"]["name"] == f"mlops-serve-{color}" in eks_service_accounts("serving")
    assert {d["metadata"]["namespace"] for d in documents} == {eks_namespace(environment)}
    assert account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION] == serving_of(environment).role_arn
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert IRSA_ROLE_PLACEHOLDER not in rendered


def test_missing_overlay_is_a_clear_error(tmp_path):
    with pytest.raises(DeployError, match="kubectl kustomize failed for .*nowhere"):
        render_overlay(tmp_path / "nowhere", "blue", ARTIFACT, serving_of("dev"))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"namespace": "mlops"}, ["'mlops-prod'", "mlops/mlops-serve-blue"]),
        ({"service_accounts": ["mlops-serve"]}, ["mlops-prod/mlops-serve-green", "trusts mlops-prod/mlops-serve"]),
    ],
    ids=["namespace", "service-account"],
)
def test_names_the_role_does_not_trust_are_refused_naming_both_sides(changes, named):
    with pytest.raises(DeployError) as error:
        render_overlay(SERVING_OVERLAYS / "prod", "green", ARTIFACT, serving_of("prod", **changes))
    assert all(part in str(error.value) for part in named), str(error.value)
    assert "arn:aws:iam::123456789012:role/mlops-prod-serving" in str(error.value)


def test_a_placeholder_left_anywhere_is_refused(tmp_path):
    # an overlay that copies the placeholder somewhere the render does not fill
    overlay = tmp_path / "dev"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(SERVING_OVERLAYS / "dev", overlay)],
                "commonAnnotations": {"copied": IRSA_ROLE_PLACEHOLDER},
            }
        )
    )
    with pytest.raises(DeployError, match="still carries the role placeholder"):
        render_overlay(overlay, "blue", ARTIFACT, serving_of("dev"))


def test_a_release_manifests_serving_settings_and_replicas_reach_the_rendered_color():
    from mlops.release.manifest import Serving

    serving = Serving(replicas=5, max_batch_rows=256, max_wait_ms=2.5, capture_sample_rate=0.1)
    artifact = Artifact(ARTIFACT.image_uri, DIGEST, "churn", "7", serving.environment(), serving.replicas)
    rendered = render_overlay(SERVING_OVERLAYS / "prod", "green", artifact, serving_of("prod"))
    documents = list(yaml.safe_load_all(rendered))
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_SERVE_MAX_BATCH_ROWS"] == "256"
    assert config["data"]["MLOPS_SERVE_MAX_WAIT_MS"] == "2.5"
    assert config["data"]["MLOPS_SERVE_CAPTURE_SAMPLE_RATE"] == "0.1"
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 5
    (scaler,) = [d for d in documents if d["kind"] == "ScaledObject"]
    assert scaler["spec"]["minReplicaCount"] == 5 and scaler["spec"]["maxReplicaCount"] == 20  # prod's ceiling stays
