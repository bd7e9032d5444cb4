"""The EKS path of a deploy: each env's overlay rendered as one color, pinned to the model version and image.
`render_overlay` runs `kubectl kustomize`, so this is an integration test."""

import pytest
import yaml

from mlops.core.paths import SERVING_OVERLAYS
from mlops.delivery.preflight import Artifact
from mlops.delivery.rollout import render_overlay
from mlops.delivery.targets import ENVIRONMENTS, DeployError

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32
ARTIFACT = Artifact("123.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve:abc123", DIGEST, "churn", "7")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("color", ["blue", "green"])
def test_overlay_renders_one_color_pinned_to_version_and_digest(environment, color):
    documents = list(yaml.safe_load_all(render_overlay(SERVING_OVERLAYS / environment, color, ARTIFACT)))
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
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


def test_missing_overlay_is_a_clear_error(tmp_path):
    with pytest.raises(DeployError, match="kubectl kustomize failed for .*nowhere"):
        render_overlay(tmp_path / "nowhere", "blue", ARTIFACT)


def test_a_release_manifests_serving_settings_and_replicas_reach_the_rendered_color():
    from mlops.release.manifest import Serving

    serving = Serving(replicas=5, max_batch_rows=256, max_wait_ms=2.5, capture_sample_rate=0.1)
    artifact = Artifact(ARTIFACT.image_uri, DIGEST, "churn", "7", serving.environment(), serving.replicas)
    documents = list(yaml.safe_load_all(render_overlay(SERVING_OVERLAYS / "prod", "green", artifact)))
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_SERVE_MAX_BATCH_ROWS"] == "256"
    assert config["data"]["MLOPS_SERVE_MAX_WAIT_MS"] == "2.5"
    assert config["data"]["MLOPS_SERVE_CAPTURE_SAMPLE_RATE"] == "0.1"
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 5
    (hpa,) = [d for d in documents if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["minReplicas"] == 5 and hpa["spec"]["maxReplicas"] == 20  # prod's ceiling stays
