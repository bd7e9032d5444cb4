"""In-memory stand-ins for the AWS calls of a canary deploy on EC2, for unit tests of its decisions (the wait for
healthy targets, the no-op): an ALB listener with blue/green weights, two groups of one instance each behind their
target groups, launch template versions with their instance tags, alarms that never fire, S3 for the record.
The real calls run against moto in tests/integration/test_deploy_canary.py."""

from __future__ import annotations

import copy
import functools

from mlops.delivery import deploy, health
from mlops.delivery.targets import DeployTargets

COLORS = ("blue", "green")
TARGETS = DeployTargets(
    environment="dev",
    listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/alb/1/2",
    target_groups={c: f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-{c}/1" for c in COLORS},
    alarm_names=["svc-5xx-rate"],
    asg_names={c: f"svc-{c}" for c in COLORS},
)
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-serve:abc123"
DIGEST = "sha256:" + "d" * 64


class FakeAws:
    """One object answering every client the deploy makes. `calls` lists each call by name, in order; `writes` only
    the ones that change something. The idle (green) color's instance turns healthy in its target group after
    `healthy_after` health reads (None: never)."""

    WRITES = {"modify_listener", "create_launch_template_version", "update_auto_scaling_group", "put_object"}
    WRITES |= {"start_instance_refresh"}

    def __init__(self, *, healthy_after: int | None = 0, grace: int = 0, desired: int = 1, live_tags=None):
        self.weights = {"blue": 100, "green": 0}
        self.healthy_after = healthy_after
        self.health_reads = 0
        self.calls: list[str] = []
        self.records: list[bytes] = []
        self.refresh_statuses: list[str] = []
        tags = [{"Key": k, "Value": v} for k, v in (live_tags or {}).items()]
        self.versions = {
            "1": {"ImageId": "ami-1", "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]},
        }
        self.groups = {
            name: {
                "AutoScalingGroupName": name,
                "DesiredCapacity": desired,
                "HealthCheckGracePeriod": grace,
                "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "1"},
                "Instances": [{"InstanceId": f"i-{color}", "LifecycleState": "InService"} for _ in range(desired)],
            }
            for color, name in TARGETS.asg_names.items()
        }

    def __getattr__(self, name):  # every call is logged by name before it is answered
        method = getattr(type(self), f"_{name}", None)
        if method is None:
            raise AttributeError(name)

        def call(**kwargs):
            self.calls.append(name)
            return method(self, **kwargs)

        return call

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if c in self.WRITES]

    def _describe_listeners(self, ListenerArns):
        groups = [{"TargetGroupArn": arn, "Weight": self.weights[c]} for c, arn in TARGETS.target_groups.items()]
        return {"Listeners": [{"DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]}]}

    def _modify_listener(self, ListenerArn, DefaultActions):
        by_arn = {arn: c for c, arn in TARGETS.target_groups.items()}
        for group in DefaultActions[0]["ForwardConfig"]["TargetGroups"]:
            self.weights[by_arn[group["TargetGroupArn"]]] = group["Weight"]

    def _describe_auto_scaling_groups(self, AutoScalingGroupNames):
        return {"AutoScalingGroups": [copy.deepcopy(self.groups[n]) for n in AutoScalingGroupNames if n in self.groups]}

    def _describe_launch_template_versions(self, LaunchTemplateId, Versions):
        number = str(len(self.versions)) if Versions == ["$Latest"] else Versions[0]
        return {"LaunchTemplateVersions": [{"LaunchTemplateData": copy.deepcopy(self.versions[number])}]}

    def _create_launch_template_version(self, LaunchTemplateId, VersionDescription, LaunchTemplateData):
        number = str(len(self.versions) + 1)
        self.versions[number] = LaunchTemplateData
        return {"LaunchTemplateVersion": {"VersionNumber": int(number)}}

    def _update_auto_scaling_group(self, AutoScalingGroupName, LaunchTemplate):
        self.groups[AutoScalingGroupName]["LaunchTemplate"] = LaunchTemplate

    def _start_instance_refresh(self, AutoScalingGroupName, Preferences):
        return {"InstanceRefreshId": "refresh-1"}

    def _describe_instance_refreshes(self, AutoScalingGroupName, InstanceRefreshIds):
        status = self.refresh_statuses.pop(0) if len(self.refresh_statuses) > 1 else self.refresh_statuses[0]
        return {"InstanceRefreshes": [{"InstanceRefreshId": InstanceRefreshIds[0], "Status": status}]}

    def _describe_target_groups(self, TargetGroupArns):
        name = TargetGroupArns[0].split("/")[-2]
        found = {"TargetGroupName": name, "HealthyThresholdCount": 2, "HealthCheckIntervalSeconds": 5}
        return {"TargetGroups": [found]}

    def _describe_target_health(self, TargetGroupArn):
        color = next(c for c, arn in TARGETS.target_groups.items() if arn == TargetGroupArn)
        self.health_reads += 1
        ready = color == "blue" or (self.healthy_after is not None and self.health_reads > self.healthy_after)
        state = {"State": "healthy"} if ready else {"State": "initial", "Reason": "Elb.RegistrationInProgress"}
        return {"TargetHealthDescriptions": [{"Target": {"Id": f"i-{color}"}, "TargetHealth": state}]}

    def _describe_alarms(self, AlarmNames):
        return {"MetricAlarms": [{"AlarmName": n, "StateValue": "OK"} for n in AlarmNames]}

    def _put_object(self, Bucket, Key, Body, ContentType):
        self.records.append(Body)


class Clock:
    """time.monotonic and time.sleep for a wait that must not really wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def patch_deploy(monkeypatch, aws: FakeAws, clock: Clock) -> None:
    """Point run_rollout's checks and clients at the fakes: the image and a gated version exist, credentials are
    bound; the wait for healthy targets runs on `clock`."""
    monkeypatch.setattr(deploy, "load_targets", lambda environment, targets_file: TARGETS)
    monkeypatch.setattr(deploy, "check_credentials", lambda settings: "arn:aws:iam::123456789012:user/deployer")
    monkeypatch.setattr(deploy, "find_image", lambda ecr, repository, tag=None, digest=None: (IMAGE_URI, DIGEST))
    monkeypatch.setattr(deploy, "Registry", lambda settings: None)
    monkeypatch.setattr(deploy, "check_model_version", lambda registry, name, version: None)
    monkeypatch.setattr(deploy, "aws_client", lambda service, settings: aws)
    monkeypatch.setattr(deploy, "current_commit", lambda: "c" * 40)
    wait = functools.partial(health.wait_until_ready, sleep=clock.sleep, clock=clock)
    monkeypatch.setattr(deploy, "wait_until_ready", wait)
