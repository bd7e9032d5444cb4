"""envs/dev applied for real on the local stack's moto server through `mlops infra --local`: bad variables fail
at plan before anything exists; then apply, check with boto3 what was built, re-plan with no changes, destroy.

EKS is left out here (`enable_eks=false`) to keep the run inside the test budget: moto's EKS cluster delete alone
waits ~50 s. The EKS module is validated and plan-checked by the unit tests; set MLOPS_TEST_EKS=1 to apply it too.
"""

import os

import pytest

from tests.conftest import run_mlops

pytestmark = pytest.mark.integration

TIMEOUT = 600
EKS = os.environ.get("MLOPS_TEST_EKS") == "1"
EXTRA = [] if EKS else ["--var", "enable_eks=false"]


def _vpcs(stack) -> set[str]:
    return {v["VpcId"] for v in stack.boto3_client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")}


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("vpc_cidr=10.0.0.0/33", "vpc_cidr must be a valid IPv4 CIDR block"),
        ("environment=qa", "environment must be one of dev, staging, prod"),
    ],
)
def test_invalid_variable_fails_at_plan_with_its_message(local_stack, variable, message):
    before = _vpcs(local_stack)
    result = run_mlops("infra", "plan", "--env", "dev", "--local", "--var", variable, *EXTRA, timeout=TIMEOUT)
    assert result.returncode == 1, result.stdout[-2000:]
    assert message in " ".join((result.stdout + result.stderr).split())
    assert "Traceback" not in result.stderr
    assert _vpcs(local_stack) == before


def test_min_greater_than_max_fails_at_plan(local_stack):
    before = _vpcs(local_stack)
    result = run_mlops(
        "infra", "plan", "--env", "dev", "--local", "--var", "serving_min_size=3", "--var", "serving_max_size=2",
        *EXTRA, timeout=TIMEOUT,
    )  # fmt: skip
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert "min_size (3) must not be greater than max_size (2)" in output
    assert _vpcs(local_stack) == before


def test_dev_applies_checks_out_replans_clean_and_destroys(local_stack):
    apply = run_mlops("infra", "apply", "--env", "dev", "--local", "--auto-approve", *EXTRA, timeout=TIMEOUT)
    assert apply.returncode == 0, apply.stdout[-3000:] + apply.stderr[-3000:]
    try:
        _check_what_exists(local_stack)
        replan = run_mlops("infra", "plan", "--env", "dev", "--local", "--detailed-exitcode", *EXTRA, timeout=TIMEOUT)
        assert replan.returncode == 0, "second plan is not empty:\n" + replan.stdout[-4000:]
    finally:
        destroy = run_mlops("infra", "destroy", "--env", "dev", "--local", "--auto-approve", *EXTRA, timeout=TIMEOUT)
    assert destroy.returncode == 0, destroy.stdout[-3000:] + destroy.stderr[-3000:]
    assert not [v for v in _vpcs(local_stack) if _tag(local_stack, v) == "mlops-dev"]


def _tag(stack, vpc_id: str) -> str | None:
    vpc = stack.boto3_client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return {t["Key"]: t["Value"] for t in vpc.get("Tags", [])}.get("Name")


def _check_what_exists(stack) -> None:
    kms, s3, logs = stack.boto3_client("kms"), stack.boto3_client("s3"), stack.boto3_client("logs")
    account = stack.boto3_client("sts").get_caller_identity()["Account"]

    keys = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if "TargetKeyId" in a}
    data_key = kms.describe_key(KeyId=keys["alias/mlops-dev-data"])["KeyMetadata"]["Arn"]
    logs_key = kms.describe_key(KeyId=keys["alias/mlops-dev-logs"])["KeyMetadata"]["Arn"]
    for key in (data_key, logs_key):
        assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
        assert '"AWS":"*"' not in kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"].replace(" ", "")

    for purpose in ("data", "artifacts", "capture"):
        bucket = f"mlops-dev-{purpose}-{account}"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": data_key}
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]["TargetBucket"] == f"mlops-dev-logs-{account}"
        assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
        assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]

    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/")["logGroups"]}
    for name in ("/mlops/dev/serving", "/mlops/dev/drift", "/mlops/dev/retraining", "/vpc/mlops-dev/flow-logs"):
        assert groups[name]["kmsKeyId"] == logs_key
        assert groups[name]["retentionInDays"] == 365

    asg_client = stack.boto3_client("autoscaling")
    (asg,) = [g for g in asg_client.describe_auto_scaling_groups()["AutoScalingGroups"]
              if g["AutoScalingGroupName"].startswith("mlops-dev-serving-")]  # fmt: skip
    assert (asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"]) == (1, 2, 1)
    assert asg["HealthCheckType"] == "ELB" and len(asg["TargetGroupARNs"]) == 1
    policies = asg_client.describe_policies(AutoScalingGroupName=asg["AutoScalingGroupName"])["ScalingPolicies"]
    metrics = {
        p["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] for p in policies
    }
    assert metrics == {"ASGAverageCPUUtilization", "ALBRequestCountPerTarget"}

    ec2 = stack.boto3_client("ec2")
    template = ec2.describe_launch_template_versions(
        LaunchTemplateId=asg["LaunchTemplate"]["LaunchTemplateId"], Versions=["$Latest"]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert template["MetadataOptions"]["HttpTokens"] == "required"
    assert template["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert template["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False

    elb = stack.boto3_client("elbv2")
    (lb,) = [b for b in elb.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == "mlops-dev"]
    listeners = {li["Port"]: li for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    attributes = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}  # fmt: skip
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == f"mlops-dev-logs-{account}"

    alarms = {a["AlarmName"] for a in stack.boto3_client("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert {
        "mlops-dev-5xx-rate",
        "mlops-dev-latency-p99",
        "mlops-dev-healthy-hosts",
        "mlops-dev-drift-demo-model",
    } <= alarms
    topics = stack.boto3_client("sns").list_topics()["Topics"]
    (topic,) = [t["TopicArn"] for t in topics if t["TopicArn"].endswith(":mlops-dev-alerts")]
    assert stack.boto3_client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == logs_key

    if EKS:
        cluster = stack.boto3_client("eks").describe_cluster(name="mlops-dev")["cluster"]
        assert cluster["resourcesVpcConfig"]["endpointPublicAccess"] is False
        assert cluster["encryptionConfig"][0]["provider"]["keyArn"] == data_key
