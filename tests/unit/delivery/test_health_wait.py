"""The wait for the new color's healthy targets before any traffic moves (mlops.delivery.health, run_rollout): the
budget comes from the group's and the target group's own settings, one line while waiting and one when ready, a
timeout names the color, the target group and the counts, and moves no traffic. On moto:
tests/integration/test_deploy_canary.py."""

from __future__ import annotations

import json
import subprocess

import pytest

from mlops.core.settings import get_settings
from mlops.delivery import deploy
from mlops.delivery.health import Refresh, wait_budget, wait_until_ready
from mlops.delivery.targets import DeployError
from tests.support.deploy_fakes import TARGETS, Clock, FakeAws, patch_deploy

pytestmark = pytest.mark.unit
ALB = {"HealthyThresholdCount": 2, "HealthCheckIntervalSeconds": 15}


@pytest.mark.parametrize(
    ("group", "target_group", "refresh", "seconds", "basis"),
    [
        # no warmup set anywhere: AWS's own fallback, the grace period
        ({"HealthCheckGracePeriod": 300}, ALB, None, 300 + 300 + 2 * 15, "warmup 300s (none set: the grace period)"),
        ({"HealthCheckGracePeriod": 120, "DefaultInstanceWarmup": 45}, ALB, None, 120 + 45 + 30, "group's default"),
        # the refresh's own warmup wins; 10 instances at 90% healthy go one at a time
        (
            {"HealthCheckGracePeriod": 120, "DefaultInstanceWarmup": 45, "DesiredCapacity": 10},
            ALB,
            Refresh("r-1", 90, 60),
            10 * (120 + 60 + 30),
            "10 refresh batches",
        ),
        ({"HealthCheckGracePeriod": 0, "DesiredCapacity": 10}, ALB, Refresh("r-1", 50, 0), 2 * 30, "2 refresh"),
        # fields left out: AWS's defaults (console grace 300 s, the ALB's 5 checks 30 s apart)
        ({}, {}, None, 300 + 300 + 5 * 30, "ALB 5x30s"),
    ],
)
def test_the_budget_comes_from_the_groups_and_the_target_groups_settings(group, target_group, refresh, seconds, basis):
    budget = wait_budget(group, target_group, refresh, poll_cap=100)
    assert budget.seconds == seconds and basis in budget.basis
    assert budget.poll_seconds == target_group.get("HealthCheckIntervalSeconds", 30)  # the ALB's own pace
    assert wait_budget(group, target_group, refresh, poll_cap=0.1).poll_seconds == 0.1  # MLOPS_CANARY_POLL_SECONDS


def test_one_line_while_waiting_and_one_when_ready():
    aws, clock, lines = FakeAws(healthy_after=3), Clock(), list[str]()
    result = wait_until_ready(aws, aws, TARGETS, "green", None, 1.0, lines.append, sleep=clock.sleep, clock=clock)
    assert result.ready and result.state.healthy == 1
    assert lines == [
        "dev: waiting for green: 1/1 in service, 0/1 healthy in svc-green "
        "(up to 10s: grace 0s + warmup 0s (none set: the grace period) + ALB 2x5s)",
        "dev: green ready: 1/1 in service, 1/1 healthy in svc-green",
    ]
    assert clock.sleeps == [1.0] * 3  # healthy on the fourth read: polled at min(ALB interval, the cap)


def test_out_of_budget_says_which_color_target_group_and_counts():
    aws, clock, lines = FakeAws(healthy_after=None, grace=20), Clock(), list[str]()
    result = wait_until_ready(aws, aws, TARGETS, "green", None, 5.0, lines.append, sleep=clock.sleep, clock=clock)
    assert not result.ready and result.budget.seconds == 20 + 20 + 10
    assert 50 <= clock.now <= 55 and len(lines) == 1  # the budget, no more; one line however many polls
    assert result.failure("dev", "green", "blue") == (
        "dev: green not ready after 50s: 1/1 in service, 0/1 healthy in svc-green "
        "(i-green initial (Elb.RegistrationInProgress)); no traffic moved, blue stays live"
    )


def test_a_refresh_is_waited_for_and_a_failed_one_ends_the_wait_at_once():
    aws, clock = FakeAws(), Clock()
    aws.refresh_statuses = ["InProgress", "InProgress", "Successful"]
    refresh = Refresh("refresh-1", 90, 60)
    done = wait_until_ready(aws, aws, TARGETS, "green", refresh, 5.0, lambda _: None, sleep=clock.sleep, clock=clock)
    assert done.ready and done.state.refresh_status == "Successful" and len(clock.sleeps) == 2

    aws, clock = FakeAws(), Clock()
    aws.refresh_statuses = ["InProgress", "Failed"]
    failed = wait_until_ready(aws, aws, TARGETS, "green", refresh, 5.0, lambda _: None, sleep=clock.sleep, clock=clock)
    assert not failed.ready and clock.now == 5.0  # not the 13 batches' budget
    assert failed.failure("dev", "green", "blue").startswith("dev: green not ready: 1/1 in service, 1/1 healthy in ")
    assert "instance refresh Failed" in failed.failure("dev", "green", "blue")


def _rollout(tmp_path, lines, **kwargs):
    settings = get_settings(canary_watch_seconds=0, canary_poll_seconds=0.5, state_dir=tmp_path / "state")
    return deploy.run_rollout(
        settings, "dev", "churn", "7", deploy.ImageRef("mlops-serve", tag="abc123"), targets_file=None,
        instance_refresh=False, record_dir=tmp_path, say=lines.append, **kwargs,
    )  # fmt: skip


def test_traffic_moves_only_after_the_new_color_is_healthy(monkeypatch, tmp_path):
    aws, clock, lines = FakeAws(healthy_after=2), Clock(), list[str]()
    patch_deploy(monkeypatch, aws, clock)
    assert _rollout(tmp_path, lines) is not None  # its record: it went live
    last_health_read = len(aws.calls) - 1 - aws.calls[::-1].index("describe_target_health")
    assert last_health_read < aws.calls.index("modify_listener")
    assert aws.writes[:2] == ["create_launch_template_version", "update_auto_scaling_group"]
    steps = [i for i, line in enumerate(lines) if "% to green" in line]
    ready = next(i for i, line in enumerate(lines) if line.startswith("dev: green ready:"))
    assert ready < steps[0] and len(steps) == 3 and aws.weights == {"blue": 0, "green": 100}


def test_a_new_color_that_never_gets_healthy_moves_no_traffic_and_says_so(monkeypatch, tmp_path):
    aws, clock, lines = FakeAws(healthy_after=None), Clock(), list[str]()
    patch_deploy(monkeypatch, aws, clock)
    with pytest.raises(DeployError) as failed:
        _rollout(tmp_path, lines)
    assert str(failed.value) == (
        "dev: green not ready after 10s: 1/1 in service, 0/1 healthy in svc-green "
        "(i-green initial (Elb.RegistrationInProgress)); no traffic moved, blue stays live"
    )
    assert "modify_listener" not in aws.calls and aws.weights == {"blue": 100, "green": 0}
    (record,) = [json.loads(body) for body in aws.records]
    assert record["outcome"] == "unhealthy" and record["live_color"] == "blue" and record["weights"] == []
    assert record["unhealthy"] == ["i-green initial (Elb.RegistrationInProgress)"]
    assert json.loads(next(tmp_path.glob("*.json")).read_text()) == record  # the local copy Jenkins archives


def test_an_idle_color_without_instances_is_refused_before_anything_changes(monkeypatch, tmp_path):
    aws = FakeAws(desired=0)
    patch_deploy(monkeypatch, aws, Clock())
    with pytest.raises(DeployError, match="'svc-green' \\(green, idle\\) has desired capacity 0"):
        _rollout(tmp_path, [])
    assert aws.writes == []


def test_on_eks_the_wait_is_the_rollout_of_the_colors_own_deployments(monkeypatch):
    """kubectl itself needs a cluster (Jenkins agents on AWS): here, what the deploy asks it, and the bounds."""
    from mlops.delivery import rollout

    manifests = """
kind: Deployment
metadata: {name: mlops-serve-green}
spec: {replicas: 3, progressDeadlineSeconds: 120}
---
kind: Service
metadata: {name: mlops-serve-green}
---
kind: Deployment
metadata: {name: sidecar-green}
spec: {}
"""
    ran = []

    def run(argv, input, capture_output, text, check, timeout):
        ran.append((argv, timeout))
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(rollout.subprocess, "run", run)
    rollout.apply_manifests(manifests, namespace="mlops-dev")
    assert [argv for argv, _ in ran] == [
        ["kubectl", "apply", "-n", "mlops-dev", "-f", "-"],
        ["kubectl", "rollout", "status", "-n", "mlops-dev", "deployment/mlops-serve-green", "--timeout", "360s"],
        ["kubectl", "rollout", "status", "-n", "mlops-dev", "deployment/sidecar-green", "--timeout", "600s"],
    ]
    assert all(timeout is not None for _, timeout in ran)  # a hung kubectl cannot hold the deploy forever

    def stalled(argv, input, capture_output, text, check, timeout):
        if argv[1] == "rollout":
            return subprocess.CompletedProcess(
                argv, 1, "", 'deployment "mlops-serve-green" exceeded its progress deadline'
            )
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(rollout.subprocess, "run", stalled)
    with pytest.raises(DeployError, match="kubectl rollout status failed: .* exceeded its progress deadline"):
        rollout.apply_manifests(manifests, namespace="mlops-dev")
