"""`mlops retrain run --backend k8s`: the real `kubernetes` client, configured from a kubeconfig file as a user's
would be, submits and watches the Job against a loopback API server that plays the Job's lifecycle
(tests/support/kube_apiserver.py; no cluster runs here, what only one proves is in mlops.retraining.k8s's docstring).
Covered: the submitted body is the rendered Job (schema-valid for the platform's EKS version), the watch to a
promotion or a rejection read back from the pod's termination message, a failure with its reason, the watch
reopened when the server ends it or its version expires, a timeout and Ctrl-C deleting the Job, a name conflict, and
an unreachable or silent server named within the timeout."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import kubernetes_validate
import pytest

from mlops.core.errors import MlopsError, TransientError
from mlops.core.settings import Settings
from mlops.retraining import k8s, k8s_job
from mlops.retraining.config import ModelConfig
from mlops.retraining.outcome import Outcome
from tests.support.kube_apiserver import KubeApiServer, PodScript
from tests.support.terraform import eks_version

pytestmark = pytest.mark.integration

NAMESPACE = "mlops-dev"
LOG = ["cloning churn@main", "dvc pull: 3 files", "dvc repro: train", "registered churn v7"]


@pytest.fixture
def kube(tmp_path, monkeypatch):
    """Start a stand-in API server playing `script`, with KUBECONFIG naming it (and no in-cluster account)."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    servers = []

    def start(script: PodScript, **kwargs) -> KubeApiServer:
        server = KubeApiServer(script, **kwargs).__enter__()
        servers.append(server)
        monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "kubeconfig")))
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def settings(tmp_path):
    return Settings(state_dir=tmp_path / "state", actor="ci-bot")


MODEL = ModelConfig(name="churn", project="https://git.example.com/churn.git")
OPTIONS = k8s_job.K8sOptions(image="111122223333.dkr.ecr.us-east-1.amazonaws.com/mlops-ops:0.2.0", namespace=NAMESPACE,
                         service_account="mlops-retrain", node_selector={"karpenter.sh/nodepool": "general-purpose"},
                         timeout_seconds=60)  # fmt: skip


def _written(status: str, **fields) -> str:
    """What `mlops retrain run` in the pod writes to its termination message."""
    return k8s_job.outcome_message(Outcome("churn", "drift", status, **fields))


def _run(settings, options=OPTIONS, run_id="r1"):
    lines: list[str] = []
    outcome = k8s.retrain_on_kubernetes(settings, MODEL, "drift", options, run_id=run_id, echo=lines.append)
    return outcome, lines


def _calls(server: KubeApiServer, method: str, suffix: str = "") -> list:
    return [r for r in server.requests if r.method == method and r.path.endswith(suffix)]


@pytest.mark.parametrize(
    ("status", "fields"),
    [("promoted", {"version": "7", "champion": "7"}),
     ("rejected", {"version": "7", "champion": "5", "reasons": ["accuracy 0.81 < champion 0.84 - 0.01"]})],
    ids=["promoted", "rejected"],
)  # fmt: skip
def test_submits_the_rendered_job_watches_it_and_reads_back_the_pods_outcome(kube, settings, status, fields):
    # the watch is ended by the server every 0.2 s and the pod starts after 0.5 s: the watch is reopened
    server = kube(PodScript(LOG, termination_message=_written(status, attempts=1, **fields), pending_seconds=0.5),
                  max_watch_seconds=0.2)  # fmt: skip
    outcome, lines = _run(settings)
    assert (outcome.status, outcome.version, outcome.champion) == (status, fields["version"], fields["champion"])
    assert outcome.reasons == fields.get("reasons", []) and outcome.attempts == 1
    assert (outcome.model, outcome.trigger) == ("churn", "drift")
    (create,) = _calls(server, "POST")
    expected = k8s_job.render_job("churn", "drift", OPTIONS, "r1", submitted_by="ci-bot")
    assert create.path == f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs" and create.body == expected
    kubernetes_validate.validate(create.body, eks_version(), strict=True)
    assert all(r.authorization == f"Bearer {server.token}" for r in server.requests)  # the kubeconfig's user
    watches = [r for r in _calls(server, "GET", "/jobs") if r.query.get("watch") == ["true"]]
    assert len(watches) >= 2, "the watch was not reopened after the server ended it"
    assert all(int(w.query["timeoutSeconds"][0]) <= OPTIONS.timeout_seconds for w in watches)
    assert [line for line in lines if not line.startswith("k8s: ")] == LOG  # each log line once, in order
    assert not _calls(server, "DELETE")  # the TTL controller removes a finished Job, not the submitter


def test_an_expired_watch_is_resumed_from_a_fresh_read(kube, settings):
    server = kube(PodScript(LOG, termination_message=_written("promoted", version="7", champion="7")))
    server.expire_watches = 2
    outcome, _ = _run(settings)
    assert outcome.status == "promoted"
    reads = _calls(server, "GET", "/jobs/retrain-churn-r1")
    assert len(reads) >= 3  # the first read, and one after each 410 Expired


@pytest.mark.parametrize(
    ("script", "named"),
    [
        # the retrain ran and failed: its own reasons, from the outcome it wrote
        (PodScript(LOG, exit_code=1, termination_message=_written("failed", reasons=["md5 mismatch: data/x.csv"])),
         ["BackoffLimitExceeded", "md5 mismatch: data/x.csv"]),
        # the process died before writing one: the kubelet's tail of its log (FallbackToLogsOnError)
        (PodScript([*LOG, "Killed: out of memory in train"], exit_code=137, reason="OOMKilled"),
         ["BackoffLimitExceeded", "exited 137 (OOMKilled)", "Killed: out of memory in train"]),
    ],
    ids=["retrain-failed", "pod-killed"],
)  # fmt: skip
def test_a_failed_job_fails_the_retrain_with_its_reason(kube, settings, script, named):
    server = kube(script)
    outcome, _ = _run(settings)
    assert outcome.status == "failed" and outcome.version is None
    text = " | ".join(outcome.reasons)
    assert all(part in text for part in named), text
    assert f"Job {NAMESPACE}/retrain-churn-r1" in text
    assert not _calls(server, "DELETE")


def test_a_job_completed_without_an_outcome_is_not_taken_for_a_success(kube, settings):
    kube(PodScript(LOG, termination_message=""))  # an image whose mlops does not write the outcome
    outcome, _ = _run(settings)
    assert outcome.status == "failed" and k8s_job.OUTCOME_FILE_ENV in outcome.reasons[0]


def test_a_timeout_deletes_the_job_and_its_pod(kube, settings):
    server = kube(PodScript(LOG, exit_code=None))  # runs until deleted
    options = k8s_job.K8sOptions(image="img:1", namespace=NAMESPACE, service_account="mlops-retrain", timeout_seconds=1)
    started = time.monotonic()
    outcome, _ = _run(settings, options)
    assert time.monotonic() - started < 5
    assert outcome.status == "failed" and "timed out after 1 s and was deleted" in outcome.reasons[0]
    (delete,) = _calls(server, "DELETE")
    assert delete.path.endswith(f"/namespaces/{NAMESPACE}/jobs/retrain-churn-r1")
    assert delete.body["propagationPolicy"] == "Background"
    assert not server.jobs and not server.pods


def test_ctrl_c_deletes_the_job_and_goes_on(kube, settings):
    server = kube(PodScript(LOG, exit_code=None))

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 30
        while not server.logs or not next(iter(server.logs.values())):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        _run(settings)
    (delete,) = _calls(server, "DELETE")
    assert delete.body["propagationPolicy"] == "Background" and not server.jobs


def test_a_job_of_the_same_name_is_a_conflict_and_is_left_alone(kube, settings):
    server = kube(PodScript(LOG))
    existing = server.add_job(k8s_job.render_job("churn", "drift", OPTIONS, "r1"))
    with pytest.raises(MlopsError, match=f"{NAMESPACE}/retrain-churn-r1 on {server.url} already exists"):
        _run(settings)
    assert server.jobs[NAMESPACE, "retrain-churn-r1"] is existing and not _calls(server, "DELETE")


def test_a_job_deleted_by_someone_else_fails_the_retrain(kube, settings):
    server = kube(PodScript(LOG, exit_code=None, pending_seconds=0.3))
    threading.Timer(1.0, server.delete_job, args=(NAMESPACE, "retrain-churn-r1", "Background")).start()
    outcome, _ = _run(settings)
    assert outcome.status == "failed" and "deleted before it finished" in outcome.reasons[0]


def test_an_unknown_context_is_named(kube, settings):
    kube(PodScript(LOG))
    options = k8s_job.K8sOptions(
        image="img:1", namespace=NAMESPACE, service_account="mlops-retrain", kube_context="prod"
    )
    with pytest.raises(MlopsError, match="context 'prod'"):
        _run(settings, options)


def test_an_unreachable_server_is_named_within_seconds(tmp_path, monkeypatch, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "kubeconfig").write_text(
        f"apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: c, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: c}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    started = time.monotonic()
    with pytest.raises(TransientError, match=f"cannot reach the API server http://127.0.0.1:{port}"):
        _run(settings)
    assert time.monotonic() - started < 5


def test_a_server_that_does_not_answer_is_named_within_the_read_timeout(tmp_path, monkeypatch, settings):
    monkeypatch.setattr(k8s, "READ_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        (tmp_path / "kubeconfig").write_text(
            f"apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: c, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: c}}]\n"
        )
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
        started = time.monotonic()
        with pytest.raises(MlopsError, match=f"{url} did not answer") as error:
            _run(settings)
        assert time.monotonic() - started < 5
    assert not isinstance(error.value, TransientError)  # it may have been created: not retried blindly
