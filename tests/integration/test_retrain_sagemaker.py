"""`mlops retrain run --backend sagemaker` on the local stack: the real command submits through boto3 to a
SageMaker stand-in in front of moto (tests/support/sagemaker_standin.py: moto runs no container), which runs the
real entry point (`mlops pipeline sagemaker-entry`) on the channels it downloads from moto S3. Proven here: submit,
polling through InProgress, the job's CloudWatch lines streamed, the version registered with the lineage a local
run writes plus the job's ARN, gated and promoted; a failing job and a timed-out (stopped) job leave the registry
as it was. What only a real account proves is in the stand-in's docstring."""

from __future__ import annotations

import json
import tarfile

import git
import mlflow
import pytest
import yaml

from mlops.core.contracts import Tags
from mlops.training.example import RAW, add_data_version, init_project, make_dataset
from mlops.training.project import file_md5
from tests.conftest import run_mlops
from tests.support.sagemaker_standin import SageMakerStandin

pytestmark = pytest.mark.integration

MODEL = "sm-model"
ROLE = "arn:aws:iam::123456789012:role/mlops-dev-sagemaker-training"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-training:1.0"


@pytest.fixture(scope="module")
def project(local_stack, tmp_path_factory):
    """The example project (Git + DVC, data pushed to moto S3) with a branch `bad` whose data has one class only."""
    project = init_project(tmp_path_factory.mktemp("sagemaker") / "p", "s3://mlops-data/dvc/sagemaker", MODEL,
                           frame=make_dataset(rows=200))  # fmt: skip
    repo = git.Repo(project.root)
    repo.git.checkout("-b", "bad")
    add_data_version(project, make_dataset(rows=200).assign(label=1), "data with one class: prepare refuses it")
    repo.git.checkout("main")
    return project


@pytest.fixture(scope="module")
def standin(local_stack, tmp_path_factory):
    env = local_stack.env
    credentials = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    with SageMakerStandin(env["AWS_ENDPOINT_URL"], local_stack.settings.region, credentials,
                          tmp_path_factory.mktemp("opt-ml")) as server:  # fmt: skip
        yield server


def retrain(tmp_path, project, standin, branch="main", **settings):
    config = tmp_path / "retrain.yaml"
    model = {"name": MODEL, "project": str(project.root), "branch": branch, "backend": "sagemaker"}
    config.write_text(yaml.safe_dump({"models": [model]}))
    env = {
        "AWS_ENDPOINT_URL_SAGEMAKER": standin.url,
        "MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN": ROLE,
        "MLOPS_RETRAIN_SAGEMAKER_IMAGE": IMAGE,
        "MLOPS_RETRAIN_SAGEMAKER_SUBNETS": "subnet-0a1,subnet-0b2",
        "MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS": "sg-0c3",
        "MLOPS_RETRAIN_SAGEMAKER_POLL_SECONDS": "0.2",
        "MLOPS_RETRAIN_SAGEMAKER_POLL_MAX_SECONDS": "1",
        **settings,
    }
    result = run_mlops("retrain", "run", "--model", MODEL, "--config", str(config), env=env, timeout=240)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def versions() -> list[str]:
    return sorted(v.version for v in mlflow.MlflowClient().search_model_versions(f"name='{MODEL}'"))


def jobs(standin, status):
    return [job for job in standin.jobs.values() if job.status == status]


def test_a_training_job_is_submitted_watched_registered_with_lineage_gated_and_promoted(
    local_stack, project, standin, tmp_path
):
    result, outcome = retrain(tmp_path, project, standin)
    assert result.returncode == 0 and outcome["status"] == "promoted", result.stderr[-3000:]
    (job,) = jobs(standin, "Completed")
    # polled through InProgress; the job's own lines (DVC's and the stages') streamed from CloudWatch as they came
    assert f"sagemaker {job.name}: InProgress" in result.stderr
    assert f"sagemaker {job.name}: Completed" in result.stderr
    streamed = [line for line in result.stderr.splitlines() if line.startswith(f"sagemaker {job.name}: ")]
    assert any("Running stage 'train'" in line for line in streamed), streamed[-20:]

    sagemaker = local_stack.boto3_client("sagemaker")
    described = sagemaker.describe_training_job(TrainingJobName=job.name)
    assert described["VpcConfig"] == {"SecurityGroupIds": ["sg-0c3"], "Subnets": ["subnet-0a1", "subnet-0b2"]}
    kms = local_stack.env["MLOPS_KMS_KEY_ARN"]
    assert described["OutputDataConfig"]["KmsKeyId"] == kms and described["ResourceConfig"]["VolumeKmsKeyId"] == kms
    assert described["RoleArn"] == ROLE and described["AlgorithmSpecification"]["TrainingImage"] == IMAGE

    version = mlflow.MlflowClient().get_model_version(MODEL, outcome["version"])
    tags = version.tags
    commit = git.Repo(project.root).heads["main"].commit.hexsha
    with tarfile.open(fileobj=_model_tar(local_stack, described)) as tar:
        lock = tar.extractfile("dvc.lock")
        assert lock is not None
        job_lock = tmp_path / "dvc.lock"
        job_lock.write_bytes(lock.read())
    # the lineage a local run writes (mlops.training.register.lineage_tags over the clone), the dvc.lock the job's
    lineage = {
        Tags.GIT_COMMIT: commit,
        Tags.GIT_DIRTY: "false",
        Tags.PROJECT_URL: str(project.root),
        Tags.PROJECT_PARAMS: "params.yaml",
        Tags.DVC_LOCK_MD5: file_md5(job_lock),
        Tags.DVC_REMOTE_URL: "s3://mlops-data/dvc/sagemaker",
        Tags.data_md5(RAW): project.datasets()[RAW],
    }
    assert {key: tags.get(key) for key in lineage} == lineage
    assert {key for key in tags if key.startswith("mlops.") and key not in lineage} >= {
        Tags.GATE_DECISION, Tags.RETRAIN_TRIGGER, Tags.RETRAIN_TRAINING_JOB
    }  # fmt: skip
    assert tags[Tags.RETRAIN_TRAINING_JOB] == described["TrainingJobArn"]
    assert tags[Tags.GATE_DECISION] == "passed"
    assert mlflow.MlflowClient().get_model_version_by_alias(MODEL, "champion").version == outcome["version"]


def test_a_failing_job_leaves_the_registry_unchanged(local_stack, project, standin, tmp_path):
    before = versions()
    result, outcome = retrain(tmp_path, project, standin, branch="bad")
    assert result.returncode == 1 and outcome["status"] == "failed"
    (job,) = jobs(standin, "Failed")
    # SageMaker's FailureReason is the entry point's failure file: the stage's own error
    assert f"training job {job.name} failed" in outcome["reasons"][0]
    assert "must hold both classes 0 and 1" in outcome["reasons"][0]
    assert versions() == before


def test_a_job_that_outlasts_the_timeout_is_stopped(local_stack, project, standin, tmp_path):
    before = versions()
    result, outcome = retrain(tmp_path, project, standin, MLOPS_RETRAIN_SAGEMAKER_TIMEOUT_SECONDS="3")
    assert result.returncode == 1 and outcome["status"] == "failed"
    assert "did not finish within 3s" in outcome["reasons"][0] and "it was stopped" in outcome["reasons"][0]
    (job,) = [job for job in standin.jobs.values() if job.stop_asked]
    assert job.done.wait(30) and job.status == "Stopped"  # StopTrainingJob was called, the entry point killed
    assert versions() == before


def _model_tar(local_stack, described):
    import io

    bucket, _, key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").partition("/")
    return io.BytesIO(local_stack.boto3_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
