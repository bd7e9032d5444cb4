"""The scale path: `mlops retrain run --backend kubernetes|sagemaker` renders a valid spec running the same command."""

import json

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.contracts import ENVIRONMENTS, eks_namespace, eks_service_accounts
from mlops.retraining import scale
from tests.support.mlops_cli import parse

pytestmark = pytest.mark.unit


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "retrain.yaml"
    path.write_text("models:\n  - {name: Churn_v2, project: https://git.example.com/churn.git}\n")
    return str(path)


def invoke(*args):
    return CliRunner().invoke(cli, ["retrain", "run", *args], catch_exceptions=False)


def test_kubernetes_job_is_schema_valid_and_runs_the_retrain(cfg):
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes", "--image", "ecr/mlops:1.2",
                    "--env", "dev")  # fmt: skip
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.output)
    kubernetes_validate.validate(job, "1.32.0", strict=True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    program, *args = container["command"]
    run = parse(args)  # the same retrain, as the console script in the image would parse it
    assert program == "mlops" and run.name == "retrain run"
    assert (run.params["model_name"], run.params["trigger"], run.params["backend"]) == ("Churn_v2", "scaled", "local")
    assert job["metadata"]["name"].startswith("retrain-churn-v2-") and job["spec"]["backoffLimit"] == 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_kubernetes_job_runs_where_the_irsa_role_of_retraining_trusts_and_reads_the_services_config(cfg, environment):
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes", "--image", "ecr/mlops:1.2",
                    "--env", environment)  # fmt: skip
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.output)
    pod = job["spec"]["template"]["spec"]
    # the names of core/src/mlops/core/contracts_eks.json: what Terraform's IRSA trust for retraining lists
    assert job["metadata"]["namespace"] == eks_namespace(environment) == f"mlops-{environment}"
    assert pod["serviceAccountName"] == "mlops-retrain" and eks_service_accounts("retraining") == ("mlops-retrain",)
    # the two ConfigMaps the retraining overlay creates (services/retraining/k8s; the rendered overlay against
    # these names: tests/integration/test_ops_manifests.py)
    (container,) = pod["containers"]
    assert scale.SETTINGS_CONFIG_MAP == "mlops-retrain"
    assert container["envFrom"] == [{"configMapRef": {"name": scale.SETTINGS_CONFIG_MAP}}]
    (config,) = [v for v in pod["volumes"] if "configMap" in v]
    assert config["configMap"]["name"] == scale.CONFIG_MAP == "mlops-retrain-config"
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == config["name"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert f"{mount['mountPath']}/{config['configMap']['items'][0]['path']}" == env["MLOPS_RETRAIN_CONFIG"]
    assert pod["automountServiceAccountToken"] is False  # IRSA projects its own token
    assert job["metadata"]["labels"]["app.kubernetes.io/name"] == "mlops-retrain"  # the overlay's NetworkPolicy


def test_the_kubernetes_job_needs_an_env_or_a_namespace(cfg):
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes", "--image", "i")
    assert result.exit_code == 2 and "needs --env" in result.output and "mlops-retrain" in result.output
    # a cluster of one's own: an explicit namespace without an env is taken as given
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes", "--image", "i",
                    "--namespace", "ml-team")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["metadata"]["namespace"] == "ml-team"


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--namespace", "mlops", ["'mlops'", "'mlops-prod'"]),
        ("--service-account", "default", ["'default'", "mlops-prod/mlops-retrain"]),
    ],
    ids=["namespace", "service-account"],
)
def test_names_the_irsa_role_of_the_env_does_not_trust_are_refused_naming_both_sides(cfg, option, value, named):
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes", "--image", "i",
                    "--env", "prod", option, value)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert option in result.output and all(part in result.output for part in named), result.output
    assert "Traceback" not in result.output


def test_sagemaker_request_names_role_image_and_kms_key(cfg, monkeypatch):
    monkeypatch.setenv("MLOPS_KMS_KEY_ARN", "arn:aws:kms:us-east-1:123456789012:key/abc")
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "sagemaker", "--image", "ecr/mlops:1.2",
                    "--role-arn", "arn:aws:iam::123456789012:role/sm")  # fmt: skip
    assert result.exit_code == 0, result.output
    request = json.loads(result.output)
    program, *args = request["AlgorithmSpecification"]["ContainerEntrypoint"]
    run = parse(args)
    assert program == "mlops" and run.name == "retrain run" and run.params["model_name"] == "Churn_v2"
    assert run.params["backend"] == "local"  # the job itself retrains in place, it does not scale out again
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/sm"
    assert request["OutputDataConfig"]["KmsKeyId"] == request["ResourceConfig"]["VolumeKmsKeyId"]


def test_scale_backends_need_their_options(cfg):
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes")
    assert result.exit_code == 2 and "needs --image" in result.output
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "sagemaker", "--image", "i")
    assert result.exit_code == 2 and "needs --role-arn" in result.output
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "slurm")
    assert result.exit_code == 2 and "'slurm' is not one of" in result.output
