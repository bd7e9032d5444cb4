"""Binding rendered manifests to an IRSA role (`bind_service_account`), for every kind of workload: serving's
Deployment, the drift CronJob, the retraining Deployment and the Job of `mlops retrain run --backend k8s`. The
renders themselves run kubectl: tests/integration/test_deploy_render.py and test_ops_manifests.py."""

import dataclasses

import pytest

from mlops.core.contracts import IRSA_ROLE_ANNOTATION, IRSA_ROLE_PLACEHOLDER, EksWorkload
from mlops.delivery.rollout import bind_service_account, pod_template
from mlops.delivery.targets import DeployError
from mlops.retraining.k8s_job import K8sOptions, render_job

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/mlops-dev-drift-20260101"
DRIFT = EksWorkload(namespace="mlops-dev", service_accounts=["mlops-drift"], role_arn=ROLE)


def _pod(account: str | None) -> dict:
    spec = {"containers": [{"name": "c", "image": "i"}]}
    if account is not None:
        spec["serviceAccountName"] = account
    return {"metadata": {}, "spec": spec}


def _documents(runs_as: str | None = "mlops-drift", namespace: str = "mlops-dev") -> list[dict]:
    account = {
        "kind": "ServiceAccount",
        "metadata": {"name": "mlops-drift", "namespace": namespace,
                     "annotations": {IRSA_ROLE_ANNOTATION: IRSA_ROLE_PLACEHOLDER}},
    }  # fmt: skip
    cronjob = {
        "kind": "CronJob",
        "metadata": {"name": "mlops-drift", "namespace": namespace},
        "spec": {"schedule": "5 * * * *", "jobTemplate": {"spec": {"template": _pod(runs_as)}}},
    }
    return [account, cronjob, {"kind": "ConfigMap", "metadata": {"name": "mlops-drift", "namespace": namespace}}]


def test_pod_templates_of_every_workload_kind_are_found():
    pod = _pod("x")
    assert pod_template({"kind": "Deployment", "spec": {"template": pod}}) is pod
    assert pod_template({"kind": "Job", "spec": {"template": pod}}) is pod
    assert pod_template({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": pod}}}}) is pod
    assert pod_template({"kind": "StatefulSet", "spec": {"template": pod}}) is pod
    assert pod_template({"kind": "ConfigMap", "data": {}}) is None
    assert pod_template({"kind": "ServiceAccount"}) is None


def test_a_cronjob_running_as_the_trusted_account_gets_the_role():
    documents = _documents()
    bind_service_account(documents, DRIFT, "overlays/dev", name="drift")
    assert documents[0]["metadata"]["annotations"][IRSA_ROLE_ANNOTATION] == ROLE


@pytest.mark.parametrize("runs_as", ["default", None], ids=["another-account", "no-account"])
def test_a_cronjob_running_as_another_account_is_refused_naming_both_sides(runs_as):
    with pytest.raises(DeployError) as error:
        bind_service_account(_documents(runs_as=runs_as), DRIFT, "overlays/dev", name="drift")
    message = str(error.value)
    assert f"CronJob mlops-drift runs as service account {runs_as!r}" in message
    assert "the IRSA role of drift" in message and "trusts mlops-dev/mlops-drift" in message and ROLE in message


def test_a_namespace_the_role_does_not_trust_is_refused():
    with pytest.raises(DeployError, match=r"in namespace 'mlops'.*IRSA role of drift.*\(namespace 'mlops-dev'\)"):
        bind_service_account(_documents(namespace="mlops"), DRIFT, "overlays/dev", name="drift")


def test_the_k8s_backend_job_is_checked_like_any_pod_template():
    retraining = EksWorkload(namespace="mlops-dev", service_accounts=["mlops-retrain"], role_arn=ROLE)
    account = {"kind": "ServiceAccount", "metadata": {"name": "mlops-retrain", "namespace": "mlops-dev"}}
    options = K8sOptions(image="img", namespace="mlops-dev", service_account="mlops-retrain", cpu="1", memory="1Gi")
    job = render_job("churn", "manual", options, "r1")
    bind_service_account([account, job], retraining, "job", name="retraining")
    assert account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION] == ROLE
    job = render_job("churn", "manual", dataclasses.replace(options, service_account="mlops"), "r1")
    with pytest.raises(DeployError, match="Job retrain-churn-r1 runs as service account 'mlops'"):
        bind_service_account([account, job], retraining, "job", name="retraining")


def test_serving_messages_are_unchanged_by_default():
    serving = EksWorkload(namespace="mlops-dev", service_accounts=["mlops-serve-blue"], role_arn=ROLE)
    with pytest.raises(DeployError, match="the IRSA role of serving"):
        bind_service_account(_documents(), serving, "overlays/dev")
