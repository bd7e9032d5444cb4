"""An env's serving resources made by hand on the moto server, for the deploy and release tests that need a
listener, blue/green target groups, two ASGs, an alarm and an image without a whole Terraform apply."""

from __future__ import annotations

import json
from dataclasses import dataclass

COLORS = ("blue", "green")


@dataclass
class MotoServing:
    listener: str
    groups: dict[str, str]  # color -> target group ARN
    template: str  # the launch template both ASGs start from
    asg_names: dict[str, str]
    alarm: str

    def targets(self) -> dict:
        """The deploy targets document (pipelines/deploy/targets.py) of these resources."""
        return {
            "listener_arn": self.listener,
            "target_groups": self.groups,
            "alarm_names": [self.alarm],
            "serving_target": "asg",
            "asg_names": self.asg_names,
        }

    def weights(self, elbv2) -> dict[str, int]:
        """color -> weight of the listener's forward action (a plain forward counts as weight 1)."""
        forward = elbv2.describe_listeners(ListenerArns=[self.listener])["Listeners"][0]["DefaultActions"][0]
        groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": forward["TargetGroupArn"], "Weight": 1}
        ]
        by_arn = {arn: color for color, arn in self.groups.items()}
        return {"blue": 0, "green": 0} | {by_arn[g["TargetGroupArn"]]: g["Weight"] for g in groups}


def make_serving(stack, prefix: str, second_octet: int) -> MotoServing:
    """A VPC 10.<second_octet>.0.0/16 with an ALB whose listener forwards to blue; ASGs `<prefix>-<color>` with one
    instance each, registered in their color's target group (moto calls every running instance there healthy at
    once; a stopped one `unused`, Target.InvalidState), as both colors run warm in an env."""
    ec2, elbv2, autoscaling = (stack.boto3_client(s) for s in ("ec2", "elbv2", "autoscaling"))
    vpc = ec2.create_vpc(CidrBlock=f"10.{second_octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{second_octet}.{i}.0/24", AvailabilityZone=f"us-east-1{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    alb = elbv2.create_load_balancer(Name=f"{prefix}-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    groups = {
        color: elbv2.create_target_group(Name=f"{prefix}-{color}", Protocol="HTTP", Port=8080, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for color in COLORS
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups["blue"]}],
    )["Listeners"][0]["ListenerArn"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{prefix}-serving",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg_names = {color: f"{prefix}-{color}" for color in COLORS}
    for color in COLORS:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg_names[color],
            LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
            MinSize=1,
            MaxSize=2,
            DesiredCapacity=1,
            VPCZoneIdentifier=",".join(subnets),
            TargetGroupARNs=[groups[color]],
        )
    alarm = f"{prefix}-5xx-rate"
    stack.boto3_client("cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        Namespace="MLOps",
        MetricName="Http5xxRate",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.01,
        ComparisonOperator="GreaterThanThreshold",
    )
    return MotoServing(listener, groups, template, asg_names, alarm)


def push_image(stack, repository: str, tag: str) -> str:
    """An image manifest pushed to (a new) ECR repository on moto; returns its digest."""
    ecr = stack.boto3_client("ecr")
    ecr.create_repository(repositoryName=repository)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    pushed = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    return pushed["image"]["imageId"]["imageDigest"]
