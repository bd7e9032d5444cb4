"""Canary rollout: shift ALB traffic step by step to the idle color, watch the alarms, finish or roll back.

Blue/green with weights: the live color takes all traffic; the new version is put on the idle color, which then
gets each share in `steps` (e.g. 10, 50, 100 percent) for `watch_seconds` while the alarms are polled. Any alarm
in ALARM state sends all traffic back to the live color and the rollout ends as rolled back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlops.delivery.targets import COLORS, Color, DeployTargets

log = logging.getLogger("mlops.deploy")


@dataclass
class CanaryPlan:
    steps: list[int]  # percent of traffic on the new color, ending at 100
    watch_seconds: float
    poll_seconds: float

    def __post_init__(self) -> None:
        if not self.steps or self.steps[-1] != 100 or any(not 0 < s <= 100 for s in self.steps):
            raise ValueError(f"canary steps must be percentages in (0, 100] ending at 100, got {self.steps}")
        if self.steps != sorted(self.steps):
            raise ValueError(f"canary steps must increase, got {self.steps}")


@dataclass
class CanaryResult:
    outcome: str  # "promoted" | "rolled_back"
    live_color: str
    new_color: str
    weights: list[dict[str, int]] = field(default_factory=list)  # every weight setting applied, in order
    alarm: str | None = None


def current_weights(elbv2, targets: DeployTargets) -> dict[str, int]:
    listener = elbv2.describe_listeners(ListenerArns=[targets.listener_arn])["Listeners"][0]
    by_arn = {arn: color for color, arn in targets.target_groups.items()}
    weights: dict[str, int] = dict.fromkeys(COLORS, 0)
    for action in listener["DefaultActions"]:
        if action["Type"] != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if groups is None and action.get("TargetGroupArn"):
            groups = [{"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}]
        for group in groups or []:
            if group["TargetGroupArn"] in by_arn:
                weights[by_arn[group["TargetGroupArn"]]] = int(group.get("Weight", 1))
    return weights


def live_color(weights: dict[str, int]) -> Color:
    """The color with the larger share; blue when nothing is live yet."""
    return "green" if weights["green"] > weights["blue"] else "blue"


def set_weights(elbv2, targets: DeployTargets, weights: dict[str, int]) -> None:
    elbv2.modify_listener(
        ListenerArn=targets.listener_arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": targets.target_groups[color], "Weight": weights[color]} for color in COLORS
                    ]
                },
            }
        ],
    )


def alarm_firing(cloudwatch, alarm_names: list[str]) -> str | None:
    if not alarm_names:
        return None
    alarms = cloudwatch.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    return next((a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"), None)


def run_canary(
    elbv2,
    cloudwatch,
    targets: DeployTargets,
    plan: CanaryPlan,
    new_color: Color,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda _: None,
) -> CanaryResult:
    """Only call this once the new color is ready (mlops.delivery.health): each step watches real traffic on it."""
    live = "blue" if new_color == "green" else "green"
    result = CanaryResult(outcome="promoted", live_color=live, new_color=new_color)
    alarms = targets.alarms_for(new_color)
    for share in plan.steps:
        weights = {new_color: share, live: 100 - share}
        set_weights(elbv2, targets, weights)
        result.weights.append(weights)
        log.info("canary step", extra={"env": targets.environment, "new_color": new_color, "share": share})
        watch = f"watching {len(alarms)} alarm(s) for {plan.watch_seconds:g}s"
        say(f"{targets.environment}: {share}% to {new_color}, {watch}")
        deadline = time.monotonic() + plan.watch_seconds
        while True:
            firing = alarm_firing(cloudwatch, alarms)
            if firing:
                rollback = {new_color: 0, live: 100}
                set_weights(elbv2, targets, rollback)
                result.weights.append(rollback)
                result.outcome, result.alarm = "rolled_back", firing
                log.warning("canary rolled back", extra={"env": targets.environment, "alarm": firing})
                return result
            if time.monotonic() >= deadline:
                break
            sleep(plan.poll_seconds)
    result.live_color = new_color
    return result
