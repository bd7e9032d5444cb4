"""The EKS path wired from one source of names: every serving overlay, rendered the way the deploy renders it (the
real `render_overlay`, `kubectl kustomize`), runs in the namespace and as the service accounts that the IRSA role of
serving trusts in a Terraform plan of the platform with EKS on, and carries that role's ARN; so does every overlay of
the ops workloads (the drift CronJob, the retraining service: the real `render_workload`) with its own role, and the
Job `mlops retrain run --backend k8s --env ENV` renders.

The plan comes from `terraform test -json -verbose` on a small root that calls modules/platform for each env, with
the AWS provider mocked (terraform/testing/aws: no account, no network). `-verbose` prints each run's plan as JSON:
the trust conditions are there (the `sub` values of each role's assume-role policy document), and so is the
`eks_workloads` output the deploy reads. The roles are created with a name prefix, so their ARNs are unknown at
plan; the run overrides them with a distinct made-up ARN per role, which is what an apply would put in the output.
The ALB's blue and green target groups get made-up ARNs the same way: the deploy reads them from the `deploy_targets`
output and binds each color's TargetGroupBinding to its own (`bind_color`), never from an overlay.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from mlops.core.contracts import (
    EKS_WORKLOADS_OUTPUT,
    ENVIRONMENTS,
    IRSA_ROLE_ANNOTATION,
    EksWorkload,
    eks_namespace,
    eks_service_accounts,
    eks_workload_names,
    irsa_subject,
)
from mlops.core.paths import SERVING_OVERLAYS, TERRAFORM_DIR
from mlops.delivery.deploy import bind_color
from mlops.delivery.preflight import Artifact
from mlops.delivery.rollout import OPS_OVERLAYS, pod_template, render_overlay, render_workload
from mlops.delivery.targets import COLORS, TERRAFORM_OUTPUT
from mlops.retraining.k8s_job import K8sOptions, render_job
from tests.support.terraform import init_and_run

pytestmark = pytest.mark.integration

PLATFORM = TERRAFORM_DIR / "modules" / "platform"
MOCKS = TERRAFORM_DIR / "testing" / "aws"
EKS = "module.platform.module.eks[0]"
ARTIFACT = Artifact(
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve:abc", "sha256:" + "cd" * 32, "demo-model", "3"
)
SUBJECT_PREFIX = "system:serviceaccount:"


def role_arn(environment: str, workload: str) -> str:
    return f"arn:aws:iam::111122223333:role/mlops-{environment}-{workload}-20260101000000000000000001"


def target_group_arn(environment: str, color: str) -> str:
    suffix = "00000000000000b1" if color == "blue" else "00000000000000e2"  # made up; a real one ends in a hex id
    return f"arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/mlops-{environment}-{color}/{suffix}"


def _root(where) -> None:
    """A root module calling the platform with EKS on, and a test file planning it once per env."""
    platform = os.path.relpath(PLATFORM, where)
    mocks = os.path.relpath(MOCKS, where)
    (where / "main.tf").write_text(f"""
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}

variable "environment" {{
  type = string
}}

module "platform" {{
  source                   = "{platform}"
  environment              = var.environment
  vpc_cidr                 = "10.30.0.0/16"
  certificate_arn          = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
  mlflow_tracking_uri      = "https://mlflow.internal.example"
  serving_min_size         = 1
  serving_max_size         = 2
  serving_desired_capacity = 1
  enable_eks               = true
}}

output "{EKS_WORKLOADS_OUTPUT}" {{
  value = module.platform.{EKS_WORKLOADS_OUTPUT}
}}

output "{TERRAFORM_OUTPUT}" {{
  value = module.platform.{TERRAFORM_OUTPUT}
}}
""")
    runs = []
    for environment in ENVIRONMENTS:
        overrides = "".join(
            f"""
  override_resource {{
    target          = {EKS}.aws_iam_role.workload["{workload}"]
    override_during = plan
    values          = {{ arn = "{role_arn(environment, workload)}" }}
  }}"""
            for workload in eks_workload_names()
        ) + "".join(
            f"""
  override_resource {{
    target          = module.platform.module.alb.aws_lb_target_group.this["{color}"]
    override_during = plan
    values          = {{ arn = "{target_group_arn(environment, color)}" }}
  }}"""
            for color in COLORS
        )
        runs.append(f"""
run "{environment}" {{
  command = plan
  variables {{
    environment = "{environment}"
  }}
{overrides}
}}
""")
    (where / "tests").mkdir()
    provider = f'mock_provider "aws" {{\n  source = "{mocks}"\n}}\n'
    (where / "tests" / "names.tftest.hcl").write_text(provider + "".join(runs))


def _trust(plan: dict) -> dict[str, set[str]]:
    """Workload -> the service-account subjects its IRSA role's trust policy lets in (the `sub` condition)."""
    trust: dict[str, set[str]] = {}
    for change in plan["resource_changes"]:
        address = change["address"]
        if not address.startswith(f"{EKS}.data.aws_iam_policy_document.workload_assume["):
            continue
        workload = address.split('["')[1].rstrip('"]')
        for statement in change["change"]["after"]["statement"]:
            assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"], statement
            for condition in statement["condition"]:
                if any(value.startswith(SUBJECT_PREFIX) for value in condition["values"]):
                    assert condition["test"] == "StringEquals", condition  # exact names, never a wildcard
                    trust.setdefault(workload, set()).update(condition["values"])
    return trust


def _role_arns(plan: dict) -> dict[str, str]:
    prefix = f"{EKS}.aws_iam_role.workload["
    return {
        change["address"][len(prefix) :].strip('"]['): change["change"]["after"]["arn"]
        for change in plan["resource_changes"]
        if change["address"].startswith(prefix)
    }


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict]:
    """Env -> {trust, role_arns, eks_workloads, target_groups} read from the platform's plan for that env."""
    root = tmp_path_factory.mktemp("eks-names")
    _root(root)
    code, out = init_and_run(root, tmp_path_factory.mktemp("eks-names-data"), "test", "-json", "-verbose")
    messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    failed = [m["@message"] for m in messages if m.get("@level") == "error" or m.get("type") == "diagnostic"]
    assert code == 0 and not failed, "\n".join(failed) or out[-3000:]
    found = {}
    for message in messages:
        if message.get("type") == "test_plan":
            plan = message["test_plan"]
            found[message["@testrun"]] = {
                "trust": _trust(plan),
                "role_arns": _role_arns(plan),
                "eks_workloads": plan["output_changes"][EKS_WORKLOADS_OUTPUT]["after"],
                "target_groups": plan["output_changes"][TERRAFORM_OUTPUT]["after"]["target_groups"],
            }
    assert set(found) == set(ENVIRONMENTS), f"no plan printed for {set(ENVIRONMENTS) - set(found)}"
    return found


def name_mismatches(
    environment: str, rendered: dict[str, list[dict]], trusted: set[str], arn: str, workload: str = "serving"
) -> list[str]:
    """What the manifests the deploy renders (render -> documents: serving's by color, an ops workload's as one) do
    differently from what the IRSA role of `workload` trusts and is; each problem names both sides."""
    problems = []
    namespaces = {subject.split(":")[2] for subject in trusted}
    subjects = {}
    for label, documents in rendered.items():
        for document in documents:
            kind, metadata = document["kind"], document["metadata"]
            if metadata.get("namespace") not in namespaces:
                problems.append(
                    f"{environment}/{label}: the deploy renders {kind} {metadata['name']} in namespace "
                    f"{metadata.get('namespace')!r}, but the IRSA role of {workload} trusts namespace(s) "
                    f"{sorted(namespaces)}"
                )
            if kind == "ServiceAccount":
                subject = irsa_subject(metadata.get("namespace", ""), metadata["name"])
                subjects[subject] = label
                if subject not in trusted:
                    problems.append(
                        f"{environment}/{label}: the deploy renders service account {subject}, but the IRSA role of "
                        f"{workload} trusts {sorted(trusted)}"
                    )
                annotation = metadata.get("annotations", {}).get(IRSA_ROLE_ANNOTATION)
                if annotation != arn:
                    problems.append(
                        f"{environment}/{label}: ServiceAccount {metadata['name']} has {IRSA_ROLE_ANNOTATION} "
                        f"{annotation!r}, but the role that trusts it is {arn!r}"
                    )
            pod = pod_template(document)  # a Deployment's, a CronJob's, a Job's
            if pod is not None:
                runs_as = pod["spec"].get("serviceAccountName")
                if irsa_subject(metadata.get("namespace", ""), str(runs_as)) not in trusted:
                    problems.append(
                        f"{environment}/{label}: {kind} {metadata['name']} runs as {runs_as!r}, which the IRSA "
                        f"role of {workload} does not trust ({sorted(trusted)})"
                    )
    for subject in sorted(trusted - set(subjects)):
        problems.append(
            f"{environment}: the IRSA role of {workload} trusts {subject}, but no render renders it (rendered: "
            f"{sorted(subjects)})"
        )
    return problems


def _render_both_colors(environment: str, serving: EksWorkload) -> dict[str, list[dict]]:
    return {
        color: list(yaml.safe_load_all(render_overlay(SERVING_OVERLAYS / environment, color, ARTIFACT, serving)))
        for color in COLORS
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_overlays_run_as_what_the_irsa_role_of_serving_trusts(plans, environment):
    plan = plans[environment]
    # what the deploy reads after an apply: the env's eks_workloads output, with the role ARN Terraform made
    serving = EksWorkload.model_validate(plan["eks_workloads"]["serving"])
    assert serving.role_arn == plan["role_arns"]["serving"] == role_arn(environment, "serving")
    assert set(serving.subjects) == plan["trust"]["serving"]  # the output says what the trust says

    rendered = _render_both_colors(environment, serving)
    problems = name_mismatches(environment, rendered, plan["trust"]["serving"], plan["role_arns"]["serving"])
    assert not problems, "\n".join(problems)
    # and both are the one definition of the names: mlops-<env>, one service account per color
    expected = {irsa_subject(eks_namespace(environment), sa) for sa in eks_service_accounts("serving")}
    assert plan["trust"]["serving"] == expected and len(expected) == len(COLORS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_color_joins_the_target_group_terraform_outputs_for_it(plans, environment):
    """The deploy binds each rendered color to deploy_targets.target_groups[color] of the env's plan: blue's pods
    to the blue target group, green's to the green, and no ARN comes from the overlay."""
    plan = plans[environment]
    assert plan["target_groups"] == {color: target_group_arn(environment, color) for color in COLORS}
    serving = EksWorkload.model_validate(plan["eks_workloads"]["serving"])
    for color, documents in _render_both_colors(environment, serving).items():
        text = yaml.safe_dump_all(documents)
        bound = list(yaml.safe_load_all(bind_color(text, color, plan["target_groups"][color], environment)))
        (binding,) = [d for d in bound if d["kind"] == "TargetGroupBinding"]
        (service,) = [d for d in bound if d["kind"] == "Service"]
        assert binding["spec"]["targetGroupARN"] == target_group_arn(environment, color)
        assert binding["metadata"]["namespace"] == serving.namespace
        assert binding["spec"]["serviceRef"]["name"] == service["metadata"]["name"] == f"mlops-serve-{color}"


@pytest.mark.parametrize("workload", sorted(OPS_OVERLAYS))
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ops_overlays_run_as_what_their_irsa_roles_trust(plans, environment, workload):
    plan = plans[environment]
    # what the render is given after an apply: the workload's entry of the env's eks_workloads output
    output = EksWorkload.model_validate(plan["eks_workloads"][workload])
    assert output.role_arn == plan["role_arns"][workload] == role_arn(environment, workload)
    text = render_workload(OPS_OVERLAYS[workload] / environment, output, name=workload)
    rendered = {workload: list(yaml.safe_load_all(text))}
    trusted, arn = plan["trust"][workload], plan["role_arns"][workload]
    problems = name_mismatches(environment, rendered, trusted, arn, workload)
    assert not problems, "\n".join(problems)
    assert any(pod_template(d) for d in rendered[workload]), f"{workload} renders no pods"
    if workload == "retraining":
        # the Job `mlops retrain run --backend k8s --env ENV` renders: the same namespace and service account
        options = K8sOptions(image="img:1", namespace=eks_namespace(environment),
                             service_account=eks_service_accounts("retraining")[0])  # fmt: skip
        job = render_job("churn", "scaled", options, "abc12345")
        problems = name_mismatches(environment, {**rendered, "k8s-job": [job]}, trusted, arn, workload)
        assert not problems, "\n".join(problems)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_workload_role_trusts_exactly_its_contract_names_and_is_in_the_output(plans, environment):
    plan = plans[environment]
    assert set(plan["trust"]) == set(eks_workload_names()) == set(plan["eks_workloads"])
    for workload in eks_workload_names():
        expected = {irsa_subject(eks_namespace(environment), sa) for sa in eks_service_accounts(workload)}
        assert plan["trust"][workload] == expected, f"{workload}: trust {plan['trust'][workload]} != {expected}"
        output = EksWorkload.model_validate(plan["eks_workloads"][workload])
        assert (set(output.subjects), output.role_arn) == (expected, role_arn(environment, workload))


def test_a_mismatched_name_fails_the_comparison_naming_both_sides(plans):
    plan = plans["staging"]
    serving = EksWorkload.model_validate(plan["eks_workloads"]["serving"])
    rendered = _render_both_colors("staging", serving)
    trusted, arn = plan["trust"]["serving"], plan["role_arns"]["serving"]
    assert not name_mismatches("staging", rendered, trusted, arn)

    renamed = copy.deepcopy(rendered)
    (account,) = [d for d in renamed["blue"] if d["kind"] == "ServiceAccount"]
    account["metadata"]["name"] = "mlops-serving-blue"
    problems = "\n".join(name_mismatches("staging", renamed, trusted, arn))
    assert "system:serviceaccount:mlops-staging:mlops-serving-blue" in problems  # what was rendered
    assert "system:serviceaccount:mlops-staging:mlops-serve-blue" in problems  # what the role trusts

    moved = copy.deepcopy(rendered)
    for document in moved["green"]:
        document["metadata"]["namespace"] = "mlops"
    problems = "\n".join(name_mismatches("staging", moved, trusted, arn))
    assert "namespace 'mlops'" in problems and "mlops-staging" in problems

    other_role = name_mismatches("staging", rendered, trusted, plan["role_arns"]["drift"])
    assert other_role and all(arn in p and plan["role_arns"]["drift"] in p for p in other_role)

    # an ops workload: the drift CronJob moved to the retraining role's account, checked against drift's trust
    drift = EksWorkload.model_validate(plan["eks_workloads"]["drift"])
    ops = {"drift": list(yaml.safe_load_all(render_workload(OPS_OVERLAYS["drift"] / "staging", drift, name="drift")))}
    (cronjob,) = [d for d in ops["drift"] if d["kind"] == "CronJob"]
    pod_template(cronjob)["spec"]["serviceAccountName"] = "mlops-retrain"
    problems = "\n".join(name_mismatches("staging", ops, plan["trust"]["drift"], plan["role_arns"]["drift"], "drift"))
    assert "CronJob mlops-drift runs as 'mlops-retrain'" in problems  # what was rendered
    assert "system:serviceaccount:mlops-staging:mlops-drift" in problems  # what the role of drift trusts
