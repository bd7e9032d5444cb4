"""The ops workloads on EKS through the real tools: the drift CronJob (services/drift/k8s) and the retraining
service (services/retraining/k8s), every env's overlay rendered the way a deploy renders it (`render_workload`,
`kubectl kustomize`), validated against the Kubernetes schema of the cluster version the platform creates
(`kubernetes-validate`, strict), hardened, and wired to what the commands they run need: the CronJob's command is run
with `sh` against a stand-in `mlops` and its command lines are parsed by the real click commands; the retraining
Deployment's config file is the ConfigMap the Job of `mlops retrain run --backend k8s` mounts too.
(The names against a Terraform plan of the platform: tests/integration/test_eks_names.py. No API server here: what
only a cluster proves is listed in services/drift/README.md and services/retraining/README.md.)"""

from __future__ import annotations

import copy
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from mlops.core.contracts import (
    ENVIRONMENTS,
    IRSA_ROLE_ANNOTATION,
    IRSA_ROLE_PLACEHOLDER,
    EksWorkload,
    eks_namespace,
    eks_service_accounts,
)
from mlops.delivery.rollout import (
    CONFIG_CHECKSUM_ANNOTATION,
    OPS_OVERLAYS,
    bind_service_account,
    pod_template,
    render_workload,
)
from mlops.delivery.targets import DeployError
from mlops.retraining import k8s_job
from mlops.retraining.config import load_config
from mlops.retraining.k8s_job import K8sOptions, render_job
from tests.support.mlops_cli import parse
from tests.support.terraform import eks_version

pytestmark = pytest.mark.integration

WORKLOADS = tuple(OPS_OVERLAYS)  # drift, retraining
CASES = [(workload, environment) for workload in WORKLOADS for environment in ENVIRONMENTS]
POD_KIND = {"drift": "CronJob", "retraining": "Deployment"}


def workload_of(name: str, environment: str, **changes) -> EksWorkload:
    """The env's `eks_workloads` entry of `name` as Terraform outputs it (a made-up role ARN)."""
    workload = EksWorkload(
        namespace=eks_namespace(environment),
        service_accounts=list(eks_service_accounts(name)),
        role_arn=f"arn:aws:iam::123456789012:role/mlops-{environment}-{name}-20260101",
    )
    return workload.model_copy(update=changes)


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict[str, list[dict]]]:
    """(workload, env) -> kind -> documents, each overlay rendered once."""
    found = {}
    for workload, environment in CASES:
        text = render_workload(OPS_OVERLAYS[workload] / environment, workload_of(workload, environment), name=workload)
        by_kind: dict[str, list[dict]] = {}
        for document in yaml.safe_load_all(text):
            by_kind.setdefault(document["kind"], []).append(document)
        found[workload, environment] = by_kind
    return found


def _one(documents: dict[str, list[dict]], kind: str, name: str | None = None) -> dict:
    (document,) = [d for d in documents.get(kind, []) if name is None or d["metadata"]["name"] == name]
    return document


def _container(document: dict) -> dict:
    (container,) = pod_template(document)["spec"]["containers"]
    return container


def _env(documents: dict[str, list[dict]], container: dict) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then env values."""
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values.update(_one(documents, "ConfigMap", source["configMapRef"]["name"])["data"])
    values.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return values


def test_overlays_exist_for_every_env():
    for workload in WORKLOADS:
        assert sorted(p.name for p in OPS_OVERLAYS[workload].iterdir() if p.is_dir()) == sorted(ENVIRONMENTS)


@pytest.mark.parametrize(("workload", "environment"), CASES)
def test_rendered_manifests_validate_against_the_clusters_kubernetes_schema(rendered, workload, environment):
    version = eks_version()
    for documents in rendered[workload, environment].values():
        for document in documents:
            assert kubernetes_validate.validate(document, version, strict=True) == version.rsplit(".", 1)[0]


@pytest.mark.parametrize(("workload", "environment"), CASES)
def test_every_env_renders_its_namespace_service_account_role_and_image(rendered, workload, environment):
    documents = rendered[workload, environment]
    assert {"ServiceAccount", "ConfigMap", "NetworkPolicy", POD_KIND[workload]} <= set(documents)
    assert {d["metadata"]["namespace"] for ds in documents.values() for d in ds} == {eks_namespace(environment)}
    account = _one(documents, "ServiceAccount")
    assert account["metadata"]["name"] == eks_service_accounts(workload)[0]
    assert account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION] == workload_of(workload, environment).role_arn
    assert IRSA_ROLE_PLACEHOLDER not in yaml.safe_dump_all([d for ds in documents.values() for d in ds])
    pod = pod_template(_one(documents, POD_KIND[workload]))
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    image = _container(_one(documents, POD_KIND[workload]))["image"]
    assert re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/mlops-ops:\d+\.\d+\.\d+", image), image
    # a changed config restarts the pods: they carry the digest of the ConfigMaps they read
    assert re.fullmatch(r"[0-9a-f]{64}", pod["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION])


@pytest.mark.parametrize(("workload", "environment"), CASES)
def test_pods_are_locked_down_with_limits_and_a_network_policy(rendered, workload, environment):
    documents = rendered[workload, environment]
    pod = pod_template(_one(documents, POD_KIND[workload]))
    spec, container = pod["spec"], _container(_one(documents, POD_KIND[workload]))
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] >= 10000
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False  # IRSA projects its own token
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
    assert ctx["privileged"] is False and ctx["capabilities"]["drop"] == ["ALL"]
    assert ctx["seccompProfile"]["type"] == "RuntimeDefault"
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])
    volumes = {v["name"]: v for v in spec["volumes"]}
    (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert "emptyDir" in volumes[tmp["name"]] and volumes[tmp["name"]]["emptyDir"]["sizeLimit"]
    assert all("emptyDir" in volumes[m["name"]] or m.get("readOnly") for m in container["volumeMounts"])
    policy = _one(documents, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def _period_seconds(schedule: str) -> float:
    import datetime as dt

    from croniter import croniter

    times = croniter(schedule, dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    first, second, third = (times.get_next(dt.datetime) for _ in range(3))
    assert second - first == third - second, f"{schedule!r} does not fire at a steady period"
    return (second - first).total_seconds()


def _window_seconds(window: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([mhd])", window).groups()
    return int(number) * {"m": 60, "h": 3600, "d": 86400}[unit]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_drift_cronjob_checks_the_window_since_the_previous_run_once_at_a_time(rendered, environment):
    documents = rendered["drift", environment]
    cronjob = _one(documents, "CronJob")
    spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timeZone"] == "Etc/UTC"
    assert 0 < spec["startingDeadlineSeconds"] <= 900
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    assert 0 <= job["backoffLimit"] <= 3 and job["ttlSecondsAfterFinished"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    env = _env(documents, _container(cronjob))
    period = _period_seconds(spec["schedule"])
    # the windows tile time (no gap, no overlap), and a hung check ends before the next slot, which Forbid would skip
    assert _window_seconds(env["DRIFT_WINDOW"]) == period
    assert job["activeDeadlineSeconds"] < period
    assert env["MLOPS_CHAMPION_ALIAS"] == {"dev": "champion"}.get(environment, environment)  # the alias it serves
    # every model checked is one retraining looks after in the env, so its drift events are consumed
    config = _one(rendered["retraining", environment], "ConfigMap", k8s_job.CONFIG_MAP)
    retrained = {m["name"] for m in yaml.safe_load(config["data"][k8s_job.CONFIG_KEY])["models"]}
    assert set(env["DRIFT_MODELS"].split()) <= retrained


def _fake_mlops(where: Path, fails: dict[str, int]) -> Path:
    """A stand-in `mlops` that records its arguments and exits with fails[model] (0 by default)."""
    script = where / "mlops"
    cases = "".join(f'  *"--model {model} "*) exit {code} ;;\n' for model, code in fails.items())
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{where}/calls"\ncase "$* " in\n{cases}esac\nexit 0\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _run_drift_command(documents, tmp_path: Path, models: str, fails: dict[str, int]):
    container = _container(_one(documents, "CronJob"))
    _fake_mlops(tmp_path, fails)
    env = {**_env(documents, container), "DRIFT_MODELS": models, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    shell = shutil.which(container["command"][0]) or container["command"][0]
    result = subprocess.run([shell, *container["command"][1:], *container["args"]], env=env, capture_output=True,
                            text=True, timeout=30, check=False)  # fmt: skip
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return result, calls


def test_the_drift_cronjob_runs_mlops_drift_run_for_each_model(rendered, tmp_path):
    documents = rendered["drift", "prod"]
    result, calls = _run_drift_command(documents, tmp_path, "churn fraud", {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == ["drift run --model churn --window 1h", "drift run --model fraud --window 1h"]
    for call in calls:  # what the real console script would run, options accepted
        run = parse(call.split())
        assert run.name == "drift run" and run.params["window"] == "1h" and run.params["rows"] is None
        assert run.params["no_event"] is False  # on drift it writes the event retraining consumes


@pytest.mark.parametrize(
    ("fails", "code"),
    [({"churn": 1}, 1), ({"churn": 2, "fraud": 2}, 2), ({"churn": 2, "fraud": 1}, 1)],
    ids=["one-failed", "all-usage-errors", "usage-and-error"],
)
def test_a_failing_model_does_not_stop_the_others_and_fails_the_job(rendered, tmp_path, fails, code):
    documents = rendered["drift", "dev"]
    result, calls = _run_drift_command(documents, tmp_path, "churn fraud", fails)
    assert len(calls) == 2 and result.returncode == code, result.stdout + result.stderr
    assert f'"model": "churn", "exit_code": {fails["churn"]}' in result.stdout
    # exit 2 (a usage error) fails the Job at once; anything else gets the Job's retry
    rules = _one(documents, "CronJob")["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    fail_job = [r for r in rules if r["action"] == "FailJob"]
    assert fail_job[0]["onExitCodes"]["values"] == [2]


def test_the_drift_cronjob_refuses_an_empty_model_list(rendered, tmp_path):
    result, calls = _run_drift_command(rendered["drift", "dev"], tmp_path, " ", {})
    assert result.returncode == 2 and not calls and "DRIFT_MODELS is empty" in result.stdout


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_retraining_service_is_one_pod_reading_its_config_with_probes_on_its_metrics(
    rendered, environment, tmp_path
):
    documents = rendered["retraining", environment]
    deployment = _one(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "PodDisruptionBudget" not in documents  # kustomization.yaml says why
    container = _container(deployment)
    program, *args = [*container["command"], *container["args"]]
    serve = parse(args)
    assert program == "mlops" and serve.name == "retrain serve"
    # the config the command reads is the ConfigMap mlops-retrain-config, mounted where it looks
    config_path = serve.params["config_path"]
    env = _env(documents, container)
    assert str(config_path) == env["MLOPS_RETRAIN_CONFIG"] == k8s_job.CONFIG_PATH
    volumes = {v["name"]: v for v in pod_template(deployment)["spec"]["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    source = volumes[mount["name"]]["configMap"]
    assert source["name"] == k8s_job.CONFIG_MAP and source["items"] == [
        {"key": k8s_job.CONFIG_KEY, "path": config_path.name}
    ]
    config_map = _one(documents, "ConfigMap", k8s_job.CONFIG_MAP)
    (tmp_path / "retrain.yaml").write_text(config_map["data"][k8s_job.CONFIG_KEY])
    assert load_config(tmp_path / "retrain.yaml").models  # a config the service accepts
    assert container["envFrom"] == [{"configMapRef": {"name": k8s_job.SETTINGS_CONFIG_MAP}}]
    # no health route: the probes ask the metrics endpoint, which listens beyond loopback on the declared port
    port = int(env["MLOPS_RETRAIN_METRICS_PORT"])
    assert env["MLOPS_RETRAIN_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - inside the pod, for the kubelet and Prometheus
    assert container["ports"] == [{"name": "metrics", "containerPort": port}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert pod_template(deployment)["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    (ingress,) = _one(documents, "NetworkPolicy")["spec"]["ingress"]
    assert ingress["ports"] == [{"port": port, "protocol": "TCP"}]
    # state, git's and dvc's homes on the scratch volume, not on the read-only root filesystem
    (scratch,) = [m for m in container["volumeMounts"] if "emptyDir" in volumes[m["name"]] and m["mountPath"] != "/tmp"]
    for variable in ("MLOPS_STATE_DIR", "HOME", "DVC_SITE_CACHE_DIR"):
        assert env[variable].startswith(scratch["mountPath"]), variable


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_k8s_backend_job_runs_beside_the_service_with_its_config_and_role(rendered, environment):
    """`mlops retrain run --backend k8s --env ENV` renders a Job that the IRSA role of retraining trusts, in
    the namespace of the env's retraining overlay, reading the ConfigMaps that overlay creates."""
    documents = rendered["retraining", environment]
    options = K8sOptions(image="ecr/mlops-ops:1", namespace=eks_namespace(environment),
                         service_account=eks_service_accounts("retraining")[0])  # fmt: skip
    job = render_job("churn", "scaled", options, "abc12345")
    kubernetes_validate.validate(job, eks_version(), strict=True)
    # bound with the rendered overlay, as one apply: namespace and service account are what the role trusts
    together = [*copy.deepcopy([d for ds in documents.values() for d in ds]), job]
    bind_service_account(together, workload_of("retraining", environment), "overlay + job", name="retraining")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    read = {ref["configMapRef"]["name"] for ref in container["envFrom"]}
    read |= {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    assert (
        read
        == {d["metadata"]["name"] for d in documents["ConfigMap"]}
        == {k8s_job.CONFIG_MAP, k8s_job.SETTINGS_CONFIG_MAP}
    )
    service = _container(_one(documents, "Deployment"))
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["config"] == next(m["mountPath"] for m in service["volumeMounts"] if m["name"] == "config")
    # its pods fall under the overlay's NetworkPolicy, but not under the Deployment's selector
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert _one(documents, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert not _one(documents, "Deployment")["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_terraform_settings_reach_the_configmap_and_change_the_checksum():
    overlay = OPS_OVERLAYS["drift"] / "dev"
    plain = list(yaml.safe_load_all(render_workload(overlay, workload_of("drift", "dev"), name="drift")))
    settings = {"MLOPS_DATA_BUCKET": "mlops-dev-data-444455556666", "MLOPS_REGION": "eu-west-1"}
    filled = list(yaml.safe_load_all(render_workload(overlay, workload_of("drift", "dev"), name="drift",
                                                     settings=settings)))  # fmt: skip
    (config,) = [d for d in filled if d["kind"] == "ConfigMap"]
    assert config["data"]["MLOPS_DATA_BUCKET"] == "mlops-dev-data-444455556666"
    assert config["data"]["DRIFT_WINDOW"] == "6h"  # the rest of the overlay stays

    def checksum(documents):
        (cronjob,) = [d for d in documents if d["kind"] == "CronJob"]
        return pod_template(cronjob)["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]

    assert checksum(plain) != checksum(filled)
    with pytest.raises(DeployError, match="not environment variables: bad-name"):
        render_workload(overlay, workload_of("drift", "dev"), name="drift", settings={"bad-name": "x"})
    with pytest.raises(DeployError, match="without a value: MLFLOW_TRACKING_URI"):  # a null Terraform output
        render_workload(overlay, workload_of("drift", "dev"), name="drift", settings={"MLFLOW_TRACKING_URI": None})


@pytest.mark.parametrize(
    ("workload", "changes", "named"),
    [
        ("drift", {"namespace": "mlops"}, ["'mlops-prod'", "mlops/mlops-drift", "IRSA role of drift"]),
        (
            "retraining",
            {"service_accounts": ["mlops-retraining"]},
            ["mlops-prod/mlops-retrain,", "trusts mlops-prod/mlops-retraining", "IRSA role of retraining"],
        ),
    ],  # fmt: skip
    ids=["namespace", "service-account"],
)
def test_names_the_role_does_not_trust_are_refused_naming_both_sides(workload, changes, named):
    with pytest.raises(DeployError) as error:
        render_workload(OPS_OVERLAYS[workload] / "prod", workload_of(workload, "prod", **changes), name=workload)
    assert all(part in str(error.value) for part in named), str(error.value)
    assert f"arn:aws:iam::123456789012:role/mlops-prod-{workload}" in str(error.value)


def test_a_placeholder_left_anywhere_is_refused(tmp_path):
    overlay = tmp_path / "dev"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(OPS_OVERLAYS["retraining"] / "dev", overlay)],
                "commonAnnotations": {"copied": IRSA_ROLE_PLACEHOLDER},
            }
        )
    )
    with pytest.raises(DeployError, match="still carries the role placeholder"):
        render_workload(overlay, workload_of("retraining", "dev"), name="retraining")
