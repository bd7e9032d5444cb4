"""The Job of `mlops retrain run --backend k8s` (mlops.retraining.k8s_job): schema-valid for the platform's EKS version,
running the local retrain with the IRSA service account of retraining, the sizes, node selector and tolerations
asked for, and handing its outcome back through its termination message. Submitting and watching it with the real
client: tests/integration/test_retrain_k8s.py. And `--backend k8s` and the config's `backend: k8s`: options checked
before anything runs (exit 2 naming the flag or key), filling exactly K8sOptions' fields."""

from __future__ import annotations

import json
import re
from dataclasses import fields

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.contracts import eks_namespace, eks_service_accounts
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.retraining import k8s, k8s_job
from mlops.retraining.cli import _with_backend
from mlops.retraining.config import ModelConfig, ReleaseTarget, load_config
from mlops.retraining.outcome import Outcome
from tests.support.mlops_cli import parse
from tests.support.terraform import eks_version

pytestmark = pytest.mark.unit

RETRAIN_ACCOUNT = eks_service_accounts("retraining")[0]
GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _options(**changes) -> k8s_job.K8sOptions:
    given = {"image": "ecr/mlops-ops:0.2.0", "namespace": eks_namespace("prod"), "service_account": RETRAIN_ACCOUNT}
    return k8s_job.K8sOptions(**{**given, **changes})


def test_the_job_is_schema_valid_and_runs_the_local_retrain_in_the_cluster():
    options = _options(cpu="4", memory="16Gi", node_selector={"karpenter.sh/nodepool": "general-purpose"},
                       tolerations=(GPU,), timeout_seconds=7200)  # fmt: skip
    job = k8s_job.render_job("Churn_v2", "drift", options, "ab12cd34", release_env="staging", submitted_by="ci-bot")
    kubernetes_validate.validate(job, eks_version(), strict=True)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    program, *args = container["command"]
    run = parse(args)  # as the console script in the image parses it
    assert program == "mlops" and run.name == "retrain run"
    assert (run.params["model_name"], run.params["trigger"], run.params["backend"]) == ("Churn_v2", "drift", "local")
    assert run.params["release_env"] == "staging"
    # where the IRSA role of retraining trusts it (core/src/mlops/core/contracts_eks.json)
    assert job["metadata"]["namespace"] == "mlops-prod" and pod["serviceAccountName"] == "mlops-retrain"
    assert pod["automountServiceAccountToken"] is False  # IRSA projects its own token
    assert job["metadata"]["annotations"][k8s_job.SUBMITTED_BY_ANNOTATION] == "ci-bot"
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (0, 7200, 86400)
    assert pod["restartPolicy"] == "Never"
    assert container["resources"] == {"requests": {"cpu": "4", "memory": "16Gi"},
                                      "limits": {"cpu": "4", "memory": "16Gi"}}  # fmt: skip
    assert pod["nodeSelector"] == {"karpenter.sh/nodepool": "general-purpose"} and pod["tolerations"] == [GPU]
    assert job["spec"]["template"]["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    # the outcome comes back as the termination message: the file the retrain writes is the one the kubelet reads
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[k8s_job.OUTCOME_FILE_ENV] == container["terminationMessagePath"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["capabilities"] == {"drop": ["ALL"]}


def test_without_a_node_selector_or_tolerations_the_fields_are_left_out():
    job = k8s_job.render_job("churn", "manual", _options(), "r1")
    pod = job["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod and "annotations" not in job["metadata"]
    assert "--release-env" not in pod["containers"][0]["command"]
    kubernetes_validate.validate(job, eks_version(), strict=True)


def test_the_job_reads_the_configmaps_of_the_retraining_service():
    job = k8s_job.render_job("churn", "manual", _options(), "r1")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["envFrom"] == [{"configMapRef": {"name": k8s_job.SETTINGS_CONFIG_MAP}}]
    (config,) = [v for v in pod["volumes"] if "configMap" in v]
    assert config["configMap"]["name"] == k8s_job.CONFIG_MAP
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == config["name"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert f"{mount['mountPath']}/{config['configMap']['items'][0]['path']}" == env["MLOPS_RETRAIN_CONFIG"]
    assert job["metadata"]["labels"]["app.kubernetes.io/name"] == k8s_job.APP_LABEL  # the overlay's NetworkPolicy


@pytest.mark.parametrize("model", ["churn", "A" * 80, "x.y_Z-1"])
def test_job_names_are_dns_labels_that_keep_the_run_id(model):
    name = k8s_job.job_name(model, "ab12cd34")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name) and name.endswith("-ab12cd34"), name
    assert k8s_job.job_name(model, "ab12cd34") != k8s_job.job_name(model, "ab12cd35")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"namespace": "Mlops_Dev"}, "namespace 'Mlops_Dev'"),
        ({"service_account": "Bad Account"}, "service account 'Bad Account'"),
        ({"cpu": "two"}, "cpu 'two'"),
        ({"memory": "8GB"}, "memory '8GB'"),
        ({"image": " "}, "image ' '"),
        ({"timeout_seconds": 0}, "timeout_seconds 0"),
        ({"node_selector": {"karpenter.sh/nodepool": "general purpose"}}, "node selector 'karpenter.sh/nodepool'"),
        ({"tolerations": ({"key": "gpu", "operator": "Maybe"},)}, "operator must be one of"),
        ({"tolerations": ({"key": "gpu", "effect": "Never"},)}, "effect must be one of"),
        ({"tolerations": ({"key": "gpu", "tolerationSecond": "5"},)}, "unknown field(s) ['tolerationSecond']"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_options_are_refused_naming_the_field(changes, named):
    with pytest.raises(MlopsError) as error:
        _options(**changes)
    assert named in str(error.value) and str(error.value).startswith("k8s backend: ")


def test_the_options_do_not_change_with_the_callers_dict():
    selector = {"karpenter.sh/nodepool": "general-purpose"}
    options = _options(node_selector=selector)
    selector["karpenter.sh/nodepool"] = "gpu"
    assert options.node_selector == {"karpenter.sh/nodepool": "general-purpose"}


def test_the_outcome_goes_through_the_termination_message_and_fits_it():
    outcome = Outcome("churn", "drift", "rejected", "7", "5", ["f1 0.70 < champion 0.74", "x" * 10_000], attempts=2)
    message = k8s_job.outcome_message(outcome)
    assert len(message.encode()) <= k8s_job.TERMINATION_MESSAGE_MAX_BYTES
    body = json.loads(message)
    assert (body["status"], body["version"], body["champion"], body["attempts"]) == ("rejected", "7", "5", 2)
    assert body["reasons"][0] == "f1 0.70 < champion 0.74" and body["reasons"][1].endswith("[cut]")
    read = k8s_job.outcome_from_message(message, "churn", "drift")
    assert read is not None and (read.status, read.version, read.champion) == ("rejected", "7", "5")
    # a log tail the kubelet put there instead, or nothing: not an outcome
    assert k8s_job.outcome_from_message("Traceback ...\nKilled", "churn", "drift") is None
    assert k8s_job.outcome_from_message(None, "churn", "drift") is None
    assert k8s_job.outcome_from_message('{"status": "done"}', "churn", "drift") is None


def test_release_evidence_on_this_machine_is_refused_before_anything_is_submitted(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "never-read"))
    model = ModelConfig(name="churn", project="p", release=ReleaseTarget(env="staging", evidence=tmp_path / "scans"))
    with pytest.raises(MlopsError, match="release evidence .*scans is a path on this machine"):
        k8s.retrain_on_kubernetes(Settings(state_dir=tmp_path), model, "manual", _options())


def test_no_cluster_configured_is_named_before_any_connection(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    model = ModelConfig(name="churn", project="p")
    with pytest.raises(MlopsError, match="no Kubernetes cluster configured") as error:
        k8s.retrain_on_kubernetes(Settings(state_dir=tmp_path), model, "manual", _options())
    assert str(tmp_path / "missing") in str(error.value)
    with pytest.raises(MlopsError, match="kube context 'prod' asked for, but there is no kubeconfig"):
        k8s.retrain_on_kubernetes(Settings(state_dir=tmp_path), model, "manual", _options(kube_context="prod"))


# ---- choosing the backend: `mlops retrain run --backend k8s` and `backend: k8s` -------------------------------


def _invoke(tmp_path, *args):
    path = tmp_path / "retrain.yaml"
    path.write_text("models:\n  - {name: Churn_v2, project: https://git.example.com/churn.git}\n")
    return CliRunner().invoke(cli, ["retrain", "run", "--model", "Churn_v2", "--config", str(path), *args],
                              catch_exceptions=False)  # fmt: skip


def _flags(**given):
    k8s_flags = dict.fromkeys(("env", "namespace", "service_account", "cpu", "memory", "node_selector", "kube_context"))
    return {**k8s_flags, **given}


def test_the_old_backend_name_is_gone_and_an_unknown_one_is_refused(tmp_path):
    for backend in ("kubernetes", "slurm"):
        result = _invoke(tmp_path, "--backend", backend)
        assert result.exit_code == 2 and f"'{backend}' is not one of" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--backend", "local", "--cpu", "2"], "--cpu does not apply to --backend local"),
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
    ],
)  # fmt: skip
def test_bad_k8s_options_are_usage_errors_naming_what_is_wrong(tmp_path, args, named):
    result = _invoke(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output


def test_flags_go_over_the_config_and_fill_exactly_k8s_options(tmp_path):
    path = tmp_path / "retrain.yaml"
    configured_k8s = {"image": "ecr/ops:1", "env": "staging", "memory": "16Gi", "node_selector": {"pool": "cpu"}}
    model = {"name": "churn", "project": "/p", "backend": "k8s", "k8s": configured_k8s}
    path.write_text(yaml.safe_dump({"models": [model]}))
    configured = load_config(path).get("churn")
    chosen = _with_backend(configured, None, None, 600, _flags(cpu="4", node_selector={"pool": "big"}), {})
    options = chosen.k8s.options()
    assert set(options) <= {f.name for f in fields(k8s_job.K8sOptions)}
    assert options == {"image": "ecr/ops:1", "namespace": "mlops-staging", "service_account": "mlops-retrain",
                       "cpu": "4", "memory": "16Gi", "node_selector": {"pool": "big"}, "timeout_seconds": 600,
                       "kube_context": None}  # fmt: skip
    k8s_job.K8sOptions(**options)  # the dataclass accepts them as they are


def test_a_k8s_model_without_its_image_is_a_config_error(tmp_path):
    path = tmp_path / "retrain.yaml"
    path.write_text("models:\n  - {name: churn, project: /p, backend: k8s, k8s: {env: dev}}\n")
    with pytest.raises(Exception, match=r"models\.0.*needs an image"):
        load_config(path)
