"""The Kubernetes names on EKS, defined once (core/src/mlops/core/contracts_eks.json, read by mlops.core.contracts
and by Terraform's platform module), and the env's `eks_workloads` Terraform output the deploy reads them back from
(mlops.delivery.targets). The rendered overlays against a plan of the platform: tests/integration/test_eks_names.py."""

import re

import pytest
import yaml
from pydantic import ValidationError

from mlops.core import terraform as tf
from mlops.core.contracts import (
    EKS_NAMES_FILE,
    ENVIRONMENTS,
    IRSA_ROLE_ANNOTATION,
    IRSA_ROLE_PLACEHOLDER,
    EksWorkload,
    eks_namespace,
    eks_service_accounts,
    eks_workload_names,
)
from mlops.core.paths import REPO_ROOT, SERVING_OVERLAYS, TERRAFORM_DIR
from mlops.delivery.targets import DeployError, load_eks_workloads, serving_workload

pytestmark = pytest.mark.unit

K8S = SERVING_OVERLAYS.parent
ROLE = "arn:aws:iam::123456789012:role/mlops-dev-serving-20260101"


def test_the_names_are_mlops_env_and_one_serving_account_per_color():
    assert [eks_namespace(env) for env in ENVIRONMENTS] == ["mlops-dev", "mlops-staging", "mlops-prod"]
    assert eks_service_accounts("serving") == ("mlops-serve-blue", "mlops-serve-green")
    assert set(eks_workload_names()) == {"serving", "drift", "retraining"}
    with pytest.raises(KeyError, match="no EKS workload 'nope'.*serving, drift, retraining"):
        eks_service_accounts("nope")


def test_terraform_reads_the_same_file_for_the_irsa_trust():
    main = (TERRAFORM_DIR / "modules" / "platform" / "main.tf").read_text()
    block = main.split('module "eks" {', 1)[1].split("\n}\n", 1)[0]
    (path,) = re.findall(r'file\("\$\{path\.module\}/([^"]+)"\)', block)
    assert (TERRAFORM_DIR / "modules" / "platform" / path).resolve() == EKS_NAMES_FILE
    assert 'replace(names.namespace, "{environment}", var.environment)' in block  # the format, filled the same way
    assert "{environment}" in EKS_NAMES_FILE.read_text()


def test_the_serving_manifests_carry_the_placeholder_and_no_role_arn():
    account = yaml.safe_load((K8S / "base" / "serviceaccount.yaml").read_text())
    assert account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION] == IRSA_ROLE_PLACEHOLDER
    arns = [str(p.relative_to(REPO_ROOT)) for p in K8S.rglob("*.yaml") if ":role/" in p.read_text()]
    assert not arns, f"role ARNs written in Git: {arns}"
    for env in ENVIRONMENTS:
        overlay = yaml.safe_load((SERVING_OVERLAYS / env / "kustomization.yaml").read_text())
        assert overlay["namespace"] == eks_namespace(env)


def test_the_placeholder_is_never_a_role_arn():
    with pytest.raises(ValidationError, match="role_arn"):
        EksWorkload(namespace="mlops-dev", service_accounts=["mlops-serve-blue"], role_arn=IRSA_ROLE_PLACEHOLDER)


class FakeTerraform:
    def __init__(self, outputs):
        self.outputs, self.workdir = outputs, "terraform/envs/dev"

    def output(self, name):
        if name not in self.outputs:
            raise tf.TerraformFailed(f"terraform output {name} is missing in {self.workdir}: apply the configuration")
        return self.outputs[name]


@pytest.fixture
def outputs(monkeypatch):
    found = {}
    monkeypatch.setattr(tf.Terraform, "for_env", classmethod(lambda cls, *_: FakeTerraform(found)))
    return found


def _entry(**changes):
    return {"namespace": "mlops-dev", "service_accounts": ["mlops-serve-blue", "mlops-serve-green"], "role_arn": ROLE,
            **changes}  # fmt: skip


def test_the_eks_workloads_output_is_read_per_workload(outputs):
    outputs["eks_workloads"] = {"serving": _entry(), "drift": _entry(service_accounts=["mlops-drift"])}
    workloads = load_eks_workloads("dev")
    assert workloads["drift"].subjects == ["system:serviceaccount:mlops-dev:mlops-drift"]
    assert serving_workload("dev").role_arn == ROLE


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "terraform output eks_workloads is missing"),
        ({}, "is empty: dev has no EKS cluster"),
        ([], "is not a JSON object"),
        ({"serving": _entry(role_arn="")}, "serving.role_arn"),
        ({"serving": _entry(service_accounts=[])}, "serving.service_accounts"),
        ({"drift": _entry()}, "has no serving workload"),
    ],
    ids=["missing", "empty", "not-an-object", "no-arn", "no-accounts", "no-serving"],
)
def test_a_missing_or_bad_eks_workloads_output_is_named(outputs, value, message):
    if value is not None:
        outputs["eks_workloads"] = value
    with pytest.raises(DeployError, match=re.escape(message)):
        serving_workload("dev")


def test_an_unknown_env_is_refused_before_terraform_runs(outputs):
    with pytest.raises(DeployError, match="unknown env 'qa'"):
        load_eks_workloads("qa")
