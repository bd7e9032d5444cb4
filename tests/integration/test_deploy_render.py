"""The EKS path of a deploy: each env's overlay rendered as one color, pinned to the model versions and image, its
service account bound to the env's IRSA role of serving. One process serves every model the overlay lists; the
deployed one moves to its version, the others keep the live color's pins. `render_overlay` runs `kubectl kustomize`,
so this is an integration test. (The names against a Terraform plan of the platform:
tests/integration/test_eks_names.py.)"""

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
from mlops.delivery.rollout import deployment_pins, render_overlay
from mlops.delivery.targets import ENVIRONMENTS, DeployError

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32
ARTIFACT = Artifact("123.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve:abc123", DIGEST, "demo-model", "7")


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
    assert deployment["metadata"]["annotations"]["mlops/model-version"] == "demo-model/7"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["mlops/model-version"] == "demo-model/7"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"123.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve@{DIGEST}"
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_SERVE_MODEL_URI"] == "models:/demo-model/7"
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
    artifact = Artifact(ARTIFACT.image_uri, DIGEST, "demo-model", "7", serving.environment(), serving.replicas)
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


def _overlay_serving(tmp_path, uris: str):
    """The prod overlay with MLOPS_SERVE_MODEL_URI listing `uris` (what an env of several models writes)."""
    overlay = tmp_path / "prod"
    overlay.mkdir()
    generator = {"name": "mlops-serve", "behavior": "merge", "literals": [f"MLOPS_SERVE_MODEL_URI={uris}"]}
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {"resources": [os.path.relpath(SERVING_OVERLAYS / "prod", overlay)], "configMapGenerator": [generator]}
        )
    )
    return overlay


def test_every_model_of_the_env_is_served_the_deployed_one_moved_the_others_as_the_live_color_pins_them(tmp_path):
    overlay = _overlay_serving(tmp_path, "models:/demo-model@prod,models:/churn@prod,models:/fraud@prod")
    live = {"churn": "4", "gone": "9"}  # the live color pins churn, and a model the env no longer serves
    rendered = render_overlay(overlay, "green", ARTIFACT, serving_of("prod"), live_pins=live)
    documents = list(yaml.safe_load_all(rendered))
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_SERVE_MODEL_URI"] == "models:/demo-model/7,models:/churn/4,models:/fraud@prod"
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["mlops/model-version"] == "churn/4 demo-model/7"
    # the generated name changes with the list, so the pods roll
    (reference,) = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert reference["configMapRef"]["name"] == config["metadata"]["name"]
    first = render_overlay(overlay, "green", ARTIFACT, serving_of("prod"))  # no live pins: the others at their alias
    (config,) = [d for d in yaml.safe_load_all(first) if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_SERVE_MODEL_URI"] == "models:/demo-model/7,models:/churn@prod,models:/fraud@prod"


@pytest.mark.parametrize(
    ("uris", "named"),
    [
        ("models:/churn@prod,models:/fraud@prod", "serves churn, fraud (MLOPS_SERVE_MODEL_URI): add models:/demo"),
        ("models:/demo-model@prod,churn", "'churn' is not a model URI"),
        ("models:/demo-model@prod,models:/demo-model/3", "names demo-model more than once"),
    ],
    ids=["not-listed", "not-a-uri", "twice"],
)
def test_an_overlay_that_does_not_serve_the_model_or_lists_badly_is_refused(tmp_path, uris, named):
    with pytest.raises(DeployError) as refused:
        render_overlay(_overlay_serving(tmp_path, uris), "blue", ARTIFACT, serving_of("prod"))
    assert named in str(refused.value) and str(tmp_path / "prod") in str(refused.value)


def test_the_live_pins_need_a_reachable_cluster_and_say_so(tmp_path, monkeypatch):
    """No cluster runs here: kubectl pointed at a closed port fails, and the deploy names what it could not read."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1", "kind": "Config", "current-context": "none",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "users": [{"name": "none", "user": {"token": "none"}}],
            }
        )
    )  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with pytest.raises(DeployError, match="kubectl get deployment mlops-serve-blue -n mlops-prod failed"):
        deployment_pins("mlops-prod", "blue")
