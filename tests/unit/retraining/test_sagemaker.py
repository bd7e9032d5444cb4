"""The SageMaker backend's request and its preconditions, in-process: what CreateTrainingJob asks for (the entry
point, the channels of the exact data version, the VPC, the key, network isolation, the stopping condition), and a
clear error naming each missing setting before anything is uploaded. Submit, watch, stop, register:
tests/integration/test_retrain_sagemaker.py. And `--backend sagemaker` and the config's `sagemaker:` options over
the settings."""

import re
import shutil

import pytest
from click.testing import CliRunner

from mlops.core import contracts
from mlops.core.cli import cli
from mlops.core.contracts import Tags
from mlops.core.errors import MlopsError
from mlops.core.settings import get_settings
from mlops.retraining import sagemaker
from mlops.retraining.cli import _with_backend
from mlops.retraining.config import ModelConfig
from mlops.training.example import HERE, RAW
from mlops.training.project import Project
from tests.support.mlops_cli import parse

pytestmark = pytest.mark.unit

ENV = {
    "MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN": "arn:aws:iam::111122223333:role/mlops-prod-sagemaker-training",
    "MLOPS_RETRAIN_SAGEMAKER_IMAGE": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/mlops-training:1.4",
    "MLOPS_RETRAIN_SAGEMAKER_SUBNETS": "subnet-0a,subnet-0b",
    "MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS": "sg-0c",
    "MLOPS_KMS_KEY_ARN": "arn:aws:kms:eu-west-1:111122223333:key/k1",
    "MLOPS_RETRAIN_SAGEMAKER_MAX_RUNTIME_SECONDS": "7200",
    "MLOPS_RETRAIN_SAGEMAKER_JOB_PREFIX": "mlops-prod",
}


@pytest.fixture
def settings(monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return get_settings()


@pytest.fixture
def project(tmp_path):
    """A model project as a clone has it: params, a `.dvc` file per input, an S3 DVC remote (no Git or DVC run)."""
    shutil.copy(HERE / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = storage\n['remote \"storage\"']\n"
                                              "    url = s3://mlops-prod-data/dvc/churn\n")  # fmt: skip
    (tmp_path / "data").mkdir()
    (tmp_path / f"{RAW}.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: raw.csv\n")
    return Project(tmp_path)


def request(settings, project):
    job = sagemaker.JobSettings.from_settings(settings)
    name = sagemaker.job_name(settings.retrain_sagemaker_job_prefix, "churn", "c0ffee" * 7)
    return sagemaker.training_job_request(
        job, name, "churn", "c0ffee" * 7, "params.yaml",
        source_uri="s3://art/sagemaker/churn/source/c0ffee.tar.gz",
        manifest_uri=f"s3://art/sagemaker/churn/input/{name}.manifest",
        output_uri="s3://art/sagemaker/churn/output/",
    )  # fmt: skip


def test_the_job_runs_the_entry_point_in_the_image_as_the_role(settings, project):
    built = request(settings, project)
    program, *args = built["AlgorithmSpecification"]["ContainerEntrypoint"]
    entry = parse(args)  # the command the image's `mlops` runs, parsed by the real click command
    assert (
        program == "mlops" and entry.name == "pipeline sagemaker-entry" and entry.params["params_file"] == "params.yaml"
    )
    assert str(entry.params["root"]) == "/opt/ml"  # SageMaker's fixed paths unless a test plays the container
    assert built["AlgorithmSpecification"]["TrainingImage"] == ENV["MLOPS_RETRAIN_SAGEMAKER_IMAGE"]
    assert built["RoleArn"] == ENV["MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN"]
    assert built["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert {"Key": Tags.GIT_COMMIT, "Value": "c0ffee" * 7} in built["Tags"]
    assert {"Key": "mlops.model", "Value": "churn"} in built["Tags"]


def test_the_job_is_in_the_private_subnets_isolated_and_encrypted_with_the_key(settings, project):
    built = request(settings, project)
    assert built["VpcConfig"] == {"Subnets": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0c"]}
    assert built["EnableNetworkIsolation"] is True and built["EnableInterContainerTrafficEncryption"] is True
    key = ENV["MLOPS_KMS_KEY_ARN"]
    assert built["OutputDataConfig"] == {"S3OutputPath": "s3://art/sagemaker/churn/output/", "KmsKeyId": key}
    assert built["ResourceConfig"]["VolumeKmsKeyId"] == key


def test_the_channels_are_the_source_and_the_exact_data_version(settings, project):
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request(settings, project)["InputDataConfig"]
    }
    assert channels["source"]["S3DataType"] == "S3Prefix"
    assert channels["source"]["S3Uri"] == "s3://art/sagemaker/churn/source/c0ffee.tar.gz"
    assert channels["data"]["S3DataType"] == "ManifestFile"
    # the manifest lists DVC 3's content-addressed objects of the md5s the .dvc files name
    prefix, keys = sagemaker.dvc_objects(project)
    assert prefix == "s3://mlops-prod-data/dvc/churn/files/md5/"
    assert keys == ["01/23456789abcdef0123456789abcdef"]


def test_job_names_are_unique_valid_and_start_with_the_envs_prefix():
    names = {sagemaker.job_name("mlops-prod", "A_very.long_model_name" * 4, "f" * 40) for _ in range(5)}
    assert len(names) == 5
    for name in names:
        assert len(name) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)
        assert name.startswith("mlops-prod-A-very-long") and "-ffffffff-" in name


def test_the_keys_are_under_the_models_training_prefix():
    assert contracts.training_prefix("churn") == "sagemaker/churn/"  # terraform/modules/sagemaker-training's scope
    assert contracts.training_source_key("churn", "abc") == "sagemaker/churn/source/abc.tar.gz"
    assert contracts.training_manifest_key("churn", "j") == "sagemaker/churn/input/j.manifest"
    assert contracts.training_output_prefix("churn") == "sagemaker/churn/output/"


@pytest.mark.parametrize(
    "unset",
    ["MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN", "MLOPS_RETRAIN_SAGEMAKER_IMAGE", "MLOPS_RETRAIN_SAGEMAKER_SUBNETS",
     "MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS", "MLOPS_KMS_KEY_ARN"],
)  # fmt: skip
def test_a_missing_setting_is_named(settings, monkeypatch, unset):
    monkeypatch.delenv(unset)
    with pytest.raises(MlopsError, match="needs settings that are not set") as raised:
        sagemaker.JobSettings.from_settings(get_settings())
    assert unset in str(raised.value) and str(raised.value).count("MLOPS_") == 1


def test_every_missing_setting_is_named_at_once(monkeypatch):
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(MlopsError) as raised:
        sagemaker.JobSettings.from_settings(get_settings())
    for name in ("ROLE_ARN", "IMAGE", "SUBNETS", "SECURITY_GROUPS", "MLOPS_KMS_KEY_ARN"):
        assert name in str(raised.value)


def test_a_remote_that_is_not_s3_is_refused_naming_it(project):
    (project.root / ".dvc" / "config").write_text("[core]\n    remote = nas\n['remote \"nas\"']\n    url = /mnt/dvc\n")
    with pytest.raises(MlopsError, match=r"S3 DVC remote; remote 'nas' is /mnt/dvc"):
        sagemaker.dvc_objects(project)


def test_subnet_settings_must_be_ids(monkeypatch):
    monkeypatch.setenv("MLOPS_RETRAIN_SAGEMAKER_SUBNETS", "subnet-1, subnet-2")
    with pytest.raises(ValueError, match="MLOPS_RETRAIN_SAGEMAKER_SUBNETS"):
        get_settings()


# ---- choosing the backend: `mlops retrain run --backend sagemaker` and `backend: sagemaker` -------------------

NO_K8S_FLAGS = dict.fromkeys(("env", "namespace", "service_account", "cpu", "memory", "node_selector", "kube_context"))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--backend", "sagemaker", "--node-selector", "a=b"], "--node-selector does not apply to --backend sagemaker"),
        (["--backend", "sagemaker", "--instance-type", "m5.large"], "instance_type"),
    ],
)
def test_bad_sagemaker_options_are_usage_errors_naming_what_is_wrong(tmp_path, args, named):
    path = tmp_path / "retrain.yaml"
    path.write_text("models:\n  - {name: Churn_v2, project: https://git.example.com/churn.git}\n")
    result = CliRunner().invoke(cli, ["retrain", "run", "--model", "Churn_v2", "--config", str(path), *args],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output


def test_sagemaker_options_of_the_config_and_flags_go_over_the_settings(settings):
    model = ModelConfig(name="churn", project="/p", backend="sagemaker",
                        sagemaker={"instance_type": "ml.c5.9xlarge", "timeout_seconds": 60})  # fmt: skip
    chosen = _with_backend(model, None, "ecr/training:2", 120, NO_K8S_FLAGS, {"instance_type": None})
    applied = chosen.sagemaker.apply(settings)
    assert applied.retrain_sagemaker_instance_type == "ml.c5.9xlarge"
    assert applied.retrain_sagemaker_image == "ecr/training:2" != settings.retrain_sagemaker_image
    assert applied.retrain_sagemaker_timeout_seconds == 120
    assert _with_backend(model, "local", None, None, NO_K8S_FLAGS, {}).backend == "local"  # the flag over the config
