"""`mlops retrain run --backend local|sagemaker|k8s` and the config's `backend:`: one interface, options checked
before anything runs (exit 2 naming the flag or key), the k8s options exactly K8sOptions' fields."""

import pytest
import yaml
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.settings import get_settings
from mlops.retraining.cli import _with_backend
from mlops.retraining.config import ModelConfig, load_config

pytestmark = pytest.mark.unit


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "retrain.yaml"
    path.write_text("models:\n  - {name: Churn_v2, project: https://git.example.com/churn.git}\n")
    return str(path)


def invoke(*args):
    return CliRunner().invoke(cli, ["retrain", "run", *args], catch_exceptions=False)


def flags(**given):
    k8s = dict.fromkeys(("env", "namespace", "service_account", "cpu", "memory", "node_selector", "kube_context"))
    return {**k8s, **given}


def test_the_old_backend_name_is_gone_and_an_unknown_one_is_refused(cfg):
    for backend in ("kubernetes", "slurm"):
        result = invoke("--model", "Churn_v2", "--config", cfg, "--backend", backend)
        assert result.exit_code == 2 and f"'{backend}' is not one of" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--backend", "local", "--cpu", "2"], "--cpu does not apply to --backend local"),
        (["--backend", "sagemaker", "--node-selector", "a=b"], "--node-selector does not apply to --backend sagemaker"),
        (["--backend", "k8s", "--image", "i", "--env", "dev", "--instance-type", "ml.m5.large"],
         "--instance-type does not apply to --backend k8s"),
        (["--backend", "local", "--image", "i"], "apply to --backend sagemaker or k8s, not local"),
        (["--backend", "k8s", "--env", "dev"], "needs an image"),
        (["--backend", "k8s", "--image", "i"], "needs an env"),
        (["--backend", "k8s", "--image", "i", "--env", "prod", "--namespace", "mlops"],
         "trusts namespace 'mlops-prod'"),
        (["--backend", "k8s", "--image", "i", "--env", "prod", "--service-account", "default"],
         "mlops-prod/mlops-retrain only"),
        (["--backend", "k8s", "--image", "i", "--env", "dev", "--node-selector", "nokey"], "is not KEY=VALUE"),
        (["--backend", "sagemaker", "--instance-type", "m5.large"], "instance_type"),
    ],
)  # fmt: skip
def test_bad_backend_options_are_usage_errors_naming_what_is_wrong(cfg, args, named):
    result = invoke("--model", "Churn_v2", "--config", cfg, *args)
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output


def test_flags_go_over_the_config_and_fill_exactly_k8s_options(tmp_path):
    from dataclasses import fields

    from mlops.retraining.k8s import K8sOptions

    path = tmp_path / "retrain.yaml"
    k8s = {"image": "ecr/ops:1", "env": "staging", "memory": "16Gi", "node_selector": {"pool": "cpu"}}
    model = {"name": "churn", "project": "/p", "backend": "k8s", "k8s": k8s}
    path.write_text(yaml.safe_dump({"models": [model]}))
    configured = load_config(path).get("churn")
    chosen = _with_backend(configured, None, None, 600, flags(cpu="4", node_selector={"pool": "big"}), {})
    options = chosen.k8s.options()
    assert set(options) <= {f.name for f in fields(K8sOptions)}
    assert options == {"image": "ecr/ops:1", "namespace": "mlops-staging", "service_account": "mlops-retrain",
                       "cpu": "4", "memory": "16Gi", "node_selector": {"pool": "big"}, "timeout_seconds": 600,
                       "kube_context": None}  # fmt: skip
    K8sOptions(**options)  # the dataclass accepts them as they are


def test_sagemaker_options_of_the_config_and_flags_go_over_the_settings():
    model = ModelConfig(name="churn", project="/p", backend="sagemaker",
                        sagemaker={"instance_type": "ml.c5.9xlarge", "timeout_seconds": 60})  # fmt: skip
    chosen = _with_backend(model, None, "ecr/training:2", 120, flags(), {"instance_type": None})
    settings = chosen.sagemaker.apply(get_settings())
    assert settings.retrain_sagemaker_instance_type == "ml.c5.9xlarge"
    assert settings.retrain_sagemaker_image == "ecr/training:2" and settings.retrain_sagemaker_timeout_seconds == 120
    assert _with_backend(model, "local", None, None, flags(), {}).backend == "local"  # the flag over the config


def test_a_k8s_model_without_its_image_is_a_config_error(tmp_path):
    path = tmp_path / "retrain.yaml"
    path.write_text("models:\n  - {name: churn, project: /p, backend: k8s, k8s: {env: dev}}\n")
    with pytest.raises(Exception, match=r"models\.0.*needs an image"):
        load_config(path)
