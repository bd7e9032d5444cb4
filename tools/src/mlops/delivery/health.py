"""Before any traffic moves: the idle color's instances must be in service and healthy behind its target group.

EC2 (asg): after the idle color's group moved to the new launch template version (and, with an instance refresh,
once the refresh is Successful), the group must have at least its desired capacity of instances InService and as
many of them `healthy` in the color's target group. How long to wait comes from the group's and the target group's
own settings (`wait_budget`), never from a constant; out of budget, the deploy moves no traffic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops.delivery.targets import Color, DeployError, DeployTargets

Say = Callable[[str], None]

# AWS defaults for fields a group or target group may leave out (the console's grace period; the ALB's health check)
DEFAULT_GRACE_SECONDS = 300
DEFAULT_HEALTHY_THRESHOLD = 5
DEFAULT_INTERVAL_SECONDS = 30
# instance refresh statuses from which it will not become Successful: no point waiting out the budget
REFRESH_FAILED = frozenset(
    {"Failed", "Cancelling", "Cancelled", "RollbackInProgress", "RollbackSuccessful", "RollbackFailed"}
)
MAX_NAMED = 5  # instances named in a one-line message; the record lists them all


@dataclass(frozen=True)
class Refresh:
    """The instance refresh a deploy started, with the preferences it asked for."""

    refresh_id: str
    min_healthy_percentage: int
    warmup_seconds: int | None


@dataclass(frozen=True)
class Budget:
    seconds: float
    poll_seconds: float
    basis: str  # how `seconds` was reached, for the waiting line


@dataclass
class Readiness:
    desired: int
    in_service: int
    healthy: int
    target_group: str  # its name, for people
    refresh_status: str | None = None  # None: no refresh to wait for
    not_healthy: list[str] = field(default_factory=list)  # "i-... unused (Target.InvalidState)", ...

    @property
    def ready(self) -> bool:
        refreshed = self.refresh_status in (None, "Successful")
        return refreshed and self.in_service >= self.desired and self.healthy >= self.desired

    @property
    def refresh_failed(self) -> bool:
        return self.refresh_status in REFRESH_FAILED

    def summary(self) -> str:
        text = (
            f"{self.in_service}/{self.desired} in service, {self.healthy}/{self.desired} healthy in {self.target_group}"
        )
        if self.refresh_status is not None:
            text += f", instance refresh {self.refresh_status}"
        return text


def check_idle_group(autoscaling: Any, targets: DeployTargets, color: Color) -> None:
    """A preflight: the idle color's group exists and runs instances, else no one would take the canary's share."""
    name = targets.asg_names[color]
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise DeployError(f"autoscaling group {name!r} ({color}) does not exist")
    if int(groups[0].get("DesiredCapacity", 0)) < 1:
        raise DeployError(
            f"autoscaling group {name!r} ({color}, idle) has desired capacity 0: no instance would take the canary's "
            "traffic; give it the env's size (both colors run warm) and deploy again"
        )


def wait_budget(
    group: dict[str, Any], target_group: dict[str, Any], refresh: Refresh | None, poll_cap: float
) -> Budget:
    """How long the idle color may take to become ready, from its own settings.

    One batch of new instances needs the group's HealthCheckGracePeriod (boot), then its warmup (the refresh's
    InstanceWarmup when the deploy set one, else the group's DefaultInstanceWarmup, else the grace period: AWS's own
    fallback), then the margin the ALB needs to call a target healthy (HealthyThresholdCount checks
    HealthCheckIntervalSeconds apart). A refresh replaces instances in batches that keep MinHealthyPercentage in
    service, one batch after another. The poll follows the ALB's check interval, capped by MLOPS_CANARY_POLL_SECONDS.
    """
    grace = int(group.get("HealthCheckGracePeriod", DEFAULT_GRACE_SECONDS))
    if refresh is not None and refresh.warmup_seconds is not None:
        warmup, source = refresh.warmup_seconds, "the refresh's"
    elif group.get("DefaultInstanceWarmup") is not None:
        warmup, source = int(group["DefaultInstanceWarmup"]), "the group's default"
    else:
        warmup, source = grace, "none set: the grace period"
    threshold = int(target_group.get("HealthyThresholdCount", DEFAULT_HEALTHY_THRESHOLD))
    interval = int(target_group.get("HealthCheckIntervalSeconds", DEFAULT_INTERVAL_SECONDS))
    batch = grace + warmup + threshold * interval
    basis = f"grace {grace}s + warmup {warmup}s ({source}) + ALB {threshold}x{interval}s"
    batches = 1
    if refresh is not None:
        desired = max(1, int(group.get("DesiredCapacity", 1)))
        per_batch = max(1, math.floor(desired * (100 - refresh.min_healthy_percentage) / 100))
        batches = math.ceil(desired / per_batch)
    if batches > 1:
        basis = f"{batches} refresh batches x ({basis})"
    return Budget(seconds=float(batches * batch), poll_seconds=min(float(interval), poll_cap), basis=basis)


def readiness(
    autoscaling: Any, elbv2: Any, group_name: str, target_group_arn: str, target_group: str, refresh_id: str | None
) -> Readiness:
    """Where the idle color stands now: its group's in-service instances and their health in its target group."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    if not groups:
        raise DeployError(f"autoscaling group {group_name!r} disappeared during the deploy")
    group = groups[0]
    instances = group.get("Instances", [])
    in_service = [i["InstanceId"] for i in instances if i.get("LifecycleState") == "InService"]
    health = {
        d["Target"]["Id"]: d.get("TargetHealth", {})
        for d in elbv2.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
    }
    # only the group's own instances count: a target registered by hand says nothing about the new version
    healthy = [i for i in in_service if health.get(i, {}).get("State") == "healthy"]
    not_healthy = [
        f"{i['InstanceId']} {i.get('LifecycleState', '?')}" for i in instances if i["InstanceId"] not in in_service
    ]
    for instance in in_service:
        if instance not in healthy:
            state = health.get(instance)
            reason = f" ({state['Reason']})" if state and state.get("Reason") else ""
            not_healthy.append(f"{instance} {state['State'] if state else 'not registered'}{reason}")
    status = None
    if refresh_id is not None:
        found = autoscaling.describe_instance_refreshes(
            AutoScalingGroupName=group_name, InstanceRefreshIds=[refresh_id]
        )["InstanceRefreshes"]
        status = found[0]["Status"] if found else "not found"
        if status in REFRESH_FAILED and found and found[0].get("StatusReason"):
            not_healthy.append(f"refresh {refresh_id}: {found[0]['StatusReason']}")
    return Readiness(
        desired=int(group.get("DesiredCapacity", 0)),
        in_service=len(in_service),
        healthy=len(healthy),
        target_group=target_group,
        refresh_status=status,
        not_healthy=not_healthy,
    )


@dataclass
class WaitResult:
    ready: bool
    state: Readiness
    budget: Budget

    def failure(self, environment: str, color: Color, live: Color) -> str:
        """The one-line reason a deploy stops here."""
        named = ", ".join(self.state.not_healthy[:MAX_NAMED])
        more = len(self.state.not_healthy) - MAX_NAMED
        named += f" and {more} more" if more > 0 else ""
        when = "" if self.state.refresh_failed else f" after {self.budget.seconds:.0f}s"
        return (
            f"{environment}: {color} not ready{when}: {self.state.summary()}"
            + (f" ({named})" if named else "")
            + f"; no traffic moved, {live} stays live"
        )


def wait_until_ready(
    autoscaling: Any,
    elbv2: Any,
    targets: DeployTargets,
    color: Color,
    refresh: Refresh | None,
    poll_cap: float,
    say: Say,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> WaitResult:
    """Poll until the idle color is ready or its budget runs out; one line when waiting starts, one when ready."""
    group_name, arn = targets.asg_names[color], targets.target_groups[color]
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"][0]
    target_group = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    budget = wait_budget(group, target_group, refresh, poll_cap)
    deadline = clock() + budget.seconds
    refresh_id = refresh.refresh_id if refresh else None
    name = str(target_group.get("TargetGroupName", arn))
    state = readiness(autoscaling, elbv2, group_name, arn, name, refresh_id)
    waiting = False
    while not state.ready:
        if state.refresh_failed or clock() >= deadline:
            return WaitResult(False, state, budget)
        if not waiting:
            limit = f"up to {budget.seconds:.0f}s: {budget.basis}"
            say(f"{targets.environment}: waiting for {color}: {state.summary()} ({limit})")
            waiting = True
        sleep(budget.poll_seconds)
        state = readiness(autoscaling, elbv2, group_name, arn, name, refresh_id)
    say(f"{targets.environment}: {color} ready: {state.summary()}")
    return WaitResult(True, state, budget)
