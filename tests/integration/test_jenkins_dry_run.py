"""The Jenkins dry run of a pull request (tests/support/jenkins_dryrun.py): the PR's build in a clean clone of the
checkout on the local stack, with exactly the environment the Jenkinsfile, the library and the JCasC give it. The
dry run of a merge (plan, apply, canary) is the dev apply test in test_infra_dev_env.py."""

from __future__ import annotations

import pytest

from mlops.core.terraform import terraform_env
from mlops.infra.local import bootstrap
from tests.support.jenkins_dryrun import LocalAgent, node_environment, snapshot_origin
from tests.support.jenkins_pipeline import Build, Trigger

pytestmark = pytest.mark.integration

ENVS = ("dev", "staging", "prod")


def test_a_pull_request_sets_up_a_clean_clone_and_saves_a_plan_per_env_under_read_only_roles(local_stack, tmp_path):
    ec2 = local_stack.boto3_client("ec2")
    vpcs_before = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    bootstrap(local_stack.settings, terraform_env())  # the account as its admin leaves it: state, Jenkins roles
    agent = LocalAgent(local_stack, snapshot_origin(tmp_path), tmp_path)
    controller = {"MLOPS_GITHUB_ORG": "acme", "MLOPS_NOTIFY_TO": "mlops@acme.example",
                  **{f"MLOPS_ACCOUNT_{e.upper()}": agent.account for e in ENVS}}  # fmt: skip
    node = {**agent.process_env(), **node_environment(controller)}

    build = Build(Trigger("PR-7", ["jenkins/vars/mlopsPlan.groovy"], change_target="main"), agent, node).run()

    assert build.result == "SUCCESS", agent.failures() or build.failure
    real = [command for _, command, _, _ in agent.log if not command.startswith("make -n")]
    # the three plans run in parallel: in any order
    planned = sorted(f"make plan ENV={e} IMAGE_TAG={build.env['GIT_COMMIT']}" for e in ENVS)
    assert [real[0], *sorted(real[1:])] == ["make setup", *planned], real
    assumed = sorted(arn for arn in agent.issued.values() if not arn.endswith(":role/mlops-jenkins"))
    assert assumed == sorted(f"arn:aws:iam::{agent.account}:role/mlops-{e}-terraform-plan" for e in ENVS)
    plans = build.stashes["terraform-plans"]
    for env in ENVS:
        assert f"reports/plans/{env}.tfplan" in plans
        assert "Plan: " in plans[f"reports/plans/{env}.txt"].decode(), plans[f"reports/plans/{env}.txt"][-2000:]
    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} == vpcs_before, "a PR build created something"
    assert not build.of("input") and not build.of("lock")
