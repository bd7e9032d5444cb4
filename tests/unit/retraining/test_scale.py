"""The scale path: `mlops retrain run --backend kubernetes|sagemaker` renders a valid spec running the same command."""

import json

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from mlops.core.cli import cli
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
    result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", "kubernetes", "--image", "ecr/mlops:1.2")
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.output)
    kubernetes_validate.validate(job, "1.31.0", strict=True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    program, *args = container["command"]
    run = parse(args)  # the same retrain, as the console script in the image would parse it
    assert program == "mlops" and run.name == "retrain run"
    assert (run.params["model_name"], run.params["trigger"], run.params["backend"]) == ("Churn_v2", "scaled", "local")
    assert job["metadata"]["name"].startswith("retrain-churn-v2-") and job["spec"]["backoffLimit"] == 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


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
