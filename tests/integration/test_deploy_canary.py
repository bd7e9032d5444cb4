"""Canary and rollback against the moto server: real ELBv2 listener weights, ASGs, launch templates, ECR, alarms,
target health, and a real MLflow registry for the gate decision.

What moto 5.2 does for target health, which the wait tests build on: an ASG created with TargetGroupARNs registers
the instances it launches in those target groups by itself, and every registered instance is `healthy` at once (moto
runs no health checks); a stopped instance is `unused` (Target.InvalidState) while its group still counts it
InService. So a new color is made unhealthy here by stopping its instance, and healthy again by starting it.
moto has no instance refresh (StartInstanceRefresh and DescribeInstanceRefreshes are not implemented), so the
deploys run with --no-instance-refresh; the refresh wait is unit-tested (tests/unit/delivery/test_health_wait.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_mlops
from tests.support.moto_serving import make_serving, push_image

pytestmark = pytest.mark.integration

FAST_CANARY = {"MLOPS_CANARY_WATCH_SECONDS": "0.3", "MLOPS_CANARY_POLL_SECONDS": "0.1"}


@pytest.fixture(scope="module")
def serving_env(local_stack, tmp_path_factory):
    """An env's serving resources made on moto: ALB with blue (live) and green target groups, two ASGs, an alarm,
    an image in ECR and two model versions, one gated (passed) and one rejected."""
    serving = make_serving(local_stack, "serving", 42)
    push_image(local_stack, "mlops-serve", "abc123")

    from mlflow import MlflowClient

    client = MlflowClient(local_stack.env["MLFLOW_TRACKING_URI"])
    client.create_registered_model("canary-model")
    for decision in ("passed", "rejected"):
        version = client.create_model_version("canary-model", source="s3://mlops-artifacts/none").version
        client.set_model_version_tag("canary-model", version, "mlops.gate.decision", decision)
    client.set_registered_model_alias("canary-model", "champion", "1")

    targets = tmp_path_factory.mktemp("deploy") / "dev.json"
    targets.write_text(json.dumps(serving.targets()))
    return {"targets": targets, "serving": serving, "template": serving.template}


def _weights(local_stack, serving_env):
    return serving_env["serving"].weights(local_stack.boto3_client("elbv2"))


def _records(local_stack):
    s3 = local_stack.boto3_client("s3")
    listing = s3.list_objects_v2(Bucket=local_stack.settings.artifact_bucket, Prefix="deploys/dev/")
    keys = sorted(o["Key"] for o in listing.get("Contents", []))
    return [json.loads(s3.get_object(Bucket=local_stack.settings.artifact_bucket, Key=k)["Body"].read()) for k in keys]


def _deploy(serving_env, tmp_path, *extra, env=None):
    args = ["deploy", "canary", "--env", "dev", "--model", "canary-model", "--targets", str(serving_env["targets"])]
    args += ["--no-instance-refresh", "--record-dir", str(tmp_path), *extra]
    return run_mlops(*args, env={**FAST_CANARY, **(env or {})})


def test_bad_inputs_fail_early_and_change_nothing(local_stack, serving_env, tmp_path):
    before = _weights(local_stack, serving_env)
    ec2 = local_stack.boto3_client("ec2")
    versions_before = len(
        ec2.describe_launch_template_versions(LaunchTemplateId=serving_env["template"])["LaunchTemplateVersions"]
    )

    unknown_env = run_mlops("deploy", "canary", "--env", "qa", "--image-tag", "abc123")
    assert unknown_env.returncode == 2 and "'qa' is not one of 'dev', 'staging', 'prod'" in unknown_env.stderr

    missing_image = _deploy(serving_env, tmp_path, "--image-tag", "does-not-exist")
    assert missing_image.returncode == 1
    assert "image tag 'does-not-exist' does not exist in ECR repository 'mlops-serve'" in missing_image.stderr

    ungated = _deploy(serving_env, tmp_path, "--image-tag", "abc123", "--model-version", "2")
    assert ungated.returncode == 1
    assert "canary-model/2 has no passing gate decision" in ungated.stderr

    no_credentials = _deploy(
        serving_env,
        tmp_path,
        "--image-tag",
        "abc123",
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "MLOPS_STATE_DIR": str(tmp_path / "empty")},
    )
    assert no_credentials.returncode == 1 and "no AWS credentials" in no_credentials.stderr

    for result in (missing_image, ungated, no_credentials):
        assert "Traceback" not in result.stderr
    assert _weights(local_stack, serving_env) == before
    versions_after = ec2.describe_launch_template_versions(LaunchTemplateId=serving_env["template"])
    assert len(versions_after["LaunchTemplateVersions"]) == versions_before
    assert not _records(local_stack)


def test_canary_shifts_traffic_step_by_step_and_records_the_deploy(local_stack, serving_env, tmp_path):
    assert _weights(local_stack, serving_env) == {"blue": 1, "green": 0}
    result = _deploy(serving_env, tmp_path, "--image-tag", "abc123")
    assert result.returncode == 0, result.stderr
    assert "dev: green is live with canary-model v1" in result.stdout
    assert _weights(local_stack, serving_env) == {"blue": 0, "green": 100}

    # the green ASG runs a new launch template version naming the image and the model version
    autoscaling, ec2 = local_stack.boto3_client("autoscaling"), local_stack.boto3_client("ec2")
    green = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["serving-green"])["AutoScalingGroups"][0]
    version = green["LaunchTemplate"]["Version"]
    assert version == "2"
    data = ec2.describe_launch_template_versions(LaunchTemplateId=serving_env["template"], Versions=[version])[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    tags = {t["Key"]: t["Value"] for t in data["TagSpecifications"][0]["Tags"]}
    assert tags["mlops:model-version"] == "canary-model/1"
    assert tags["mlops:image"].endswith("/mlops-serve:abc123")
    assert data["ImageId"] == "ami-12c6146b"  # the rest of the template carried over

    (record,) = _records(local_stack)
    assert record["outcome"] == "promoted" and record["live_color"] == "green"
    assert record["weights"] == [{"green": 10, "blue": 90}, {"green": 50, "blue": 50}, {"green": 100, "blue": 0}]
    assert record["model_version"] == "1" and record["image_digest"].startswith("sha256:")
    assert len(record["commit"]) >= 7 and record["deployed_by"].startswith("arn:aws:")
    assert json.loads(next(tmp_path.glob("*.json")).read_text()) == record


def test_alarm_in_alarm_state_rolls_back(local_stack, serving_env, tmp_path):
    cloudwatch = local_stack.boto3_client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName="serving-5xx-rate", StateValue="ALARM", StateReason="5xx burst")
    try:
        result = _deploy(serving_env, tmp_path, "--image-tag", "abc123", "--force")  # green runs it already
    finally:
        cloudwatch.set_alarm_state(AlarmName="serving-5xx-rate", StateValue="OK", StateReason="recovered")
    assert result.returncode == 1
    assert "alarm serving-5xx-rate fired: rolled back, green stays live" in result.stderr
    assert _weights(local_stack, serving_env) == {"blue": 0, "green": 100}
    record = _records(local_stack)[-1]
    assert record["outcome"] == "rolled_back" and record["alarm"] == "serving-5xx-rate"
    assert record["weights"] == [{"blue": 10, "green": 90}, {"blue": 0, "green": 100}]


def test_a_record_that_cannot_reach_s3_is_kept_locally_and_named(local_stack, serving_env, tmp_path):
    result = _deploy(
        serving_env, tmp_path, "--image-tag", "abc123", "--force", env={"MLOPS_ARTIFACT_BUCKET": "no-such-bucket"}
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "but its record could not be stored in s3://no-such-bucket" in result.stderr
    (kept,) = tmp_path.glob("*.json")
    assert str(kept) in result.stderr and json.loads(kept.read_text())["outcome"] == "promoted"


def test_with_alarms_by_color_only_the_new_colors_alarms_roll_back(local_stack, serving_env, tmp_path):
    """A failing live color must not block the deploy that replaces it (the Terraform output maps alarms by color)."""
    serving = serving_env["serving"]
    live = "blue" if _weights(local_stack, serving_env)["blue"] == 100 else "green"
    new = "green" if live == "blue" else "blue"
    by_color = tmp_path / "by-color.json"
    by_color.write_text(json.dumps({**serving.targets(), "alarm_names": {live: [serving.alarm], new: []}}))
    cloudwatch = local_stack.boto3_client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=serving.alarm, StateValue="ALARM", StateReason="the live color fails")
    try:
        args = ["deploy", "canary", "--env", "dev", "--model", "canary-model", "--targets", str(by_color)]
        result = run_mlops(*args, "--image-tag", "abc123", "--no-instance-refresh", "--record-dir", str(tmp_path),
                           "--force", env=FAST_CANARY)  # fmt: skip
    finally:
        cloudwatch.set_alarm_state(AlarmName=serving.alarm, StateValue="OK", StateReason="recovered")
    assert result.returncode == 0, result.stderr
    assert _weights(local_stack, serving_env) == {live: 0, new: 100}


def _template_tags(local_stack, group: str) -> dict[str, str]:
    autoscaling, ec2 = local_stack.boto3_client("autoscaling"), local_stack.boto3_client("ec2")
    (found,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    template = found["LaunchTemplate"]
    (version,) = ec2.describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]]
    )["LaunchTemplateVersions"]
    return {t["Key"]: t["Value"] for s in version["LaunchTemplateData"]["TagSpecifications"] for t in s["Tags"]}


def test_a_second_model_joins_the_color_and_the_first_keeps_its_pinned_version(local_stack, serving_env, tmp_path):
    """One process serves every model of the env: a deploy of another model pins it on the idle color next to the
    version the live color pins for the first, and a model the env does not serve is refused with nothing changed."""
    from mlflow import MlflowClient

    client = MlflowClient(local_stack.env["MLFLOW_TRACKING_URI"])
    client.create_registered_model("second-model")
    version = client.create_model_version("second-model", source="s3://mlops-artifacts/none").version
    client.set_model_version_tag("second-model", version, "mlops.gate.decision", "passed")
    client.set_registered_model_alias("second-model", "champion", version)
    serving = serving_env["serving"]
    live = "blue" if _weights(local_stack, serving_env)["blue"] == 100 else "green"
    new = "green" if live == "blue" else "blue"
    assert _template_tags(local_stack, serving.asg_names[live])["mlops:model-version"] == "canary-model/1"

    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps({**serving.targets(), "model_names": ["canary-model", "second-model"]}))
    args = ["deploy", "canary", "--env", "dev", "--model", "second-model", "--targets", str(listed)]
    args += ["--image-tag", "abc123", "--no-instance-refresh", "--record-dir", str(tmp_path)]
    result = run_mlops(*args, env=FAST_CANARY)
    assert result.returncode == 0, result.stderr
    assert _weights(local_stack, serving_env) == {live: 0, new: 100}
    assert _template_tags(local_stack, serving.asg_names[new])["mlops:model-version"] == (
        "canary-model/1 second-model/1"
    )
    # the first model's deploy is still a no-op: its entry is unchanged, the other model's does not count
    again = _deploy(serving_env, tmp_path, "--image-tag", "abc123")
    assert again.returncode == 0 and again.stdout.startswith("dev already serves canary-model v1"), again.stderr

    versions = local_stack.boto3_client("ec2").describe_launch_template_versions(LaunchTemplateId=serving.template)
    listed.write_text(json.dumps({**serving.targets(), "model_names": ["canary-model"]}))
    refused = run_mlops(*args, "--force", env=FAST_CANARY)  # forced: the live color runs it (the no-op comes first)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "dev serves canary-model, not second-model" in refused.stderr and "model_names" in refused.stderr
    after = local_stack.boto3_client("ec2").describe_launch_template_versions(LaunchTemplateId=serving.template)
    assert after["LaunchTemplateVersions"] == versions["LaunchTemplateVersions"]
    assert _weights(local_stack, serving_env) == {live: 0, new: 100}


@pytest.fixture(scope="module")
def waiting_env(local_stack, serving_env, tmp_path_factory):
    """Another env's serving on moto (one instance per color), whose settings give the health wait its shortest
    real budget: no grace period, no warmup, the ALB's minimum of 2 checks 5 s apart: 10 s."""
    serving = make_serving(local_stack, "wait", 44)
    autoscaling, elbv2 = local_stack.boto3_client("autoscaling"), local_stack.boto3_client("elbv2")
    for color in ("blue", "green"):
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=serving.asg_names[color], HealthCheckGracePeriod=0)
        elbv2.modify_target_group(
            TargetGroupArn=serving.groups[color],
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
        )
    targets = tmp_path_factory.mktemp("deploy-wait") / "dev.json"
    targets.write_text(json.dumps(serving.targets()))
    return {"targets": targets, "serving": serving, "template": serving.template}


def _instance(local_stack, group: str) -> str:
    found = local_stack.boto3_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    (instance,) = found["AutoScalingGroups"][0]["Instances"]
    return str(instance["InstanceId"])


def _deploy_args(waiting_env, tmp_path, *extra) -> list[str]:
    args = ["deploy", "canary", "--env", "dev", "--model", "canary-model", "--targets", str(waiting_env["targets"])]
    return [*args, "--image-tag", "abc123", "--no-instance-refresh", "--record-dir", str(tmp_path), *extra]


def test_the_canary_waits_for_healthy_targets_before_the_first_weight_step(local_stack, waiting_env, tmp_path):
    """The green instance is stopped (moto: target `unused`), so the deploy waits; while it waits no weight has
    moved; once the instance runs again (moto: `healthy`) the canary steps follow."""
    ec2, green = local_stack.boto3_client("ec2"), _instance(local_stack, "wait-green")
    ec2.stop_instances(InstanceIds=[green])
    mlops = Path(sys.executable).parent / "mlops"
    deploy = subprocess.Popen(
        [str(mlops), *_deploy_args(waiting_env, tmp_path)],
        env={**os.environ, **FAST_CANARY, "PYTHONUNBUFFERED": "1"},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert deploy.stdout is not None
        lines = []
        for line in deploy.stdout:  # up to the waiting line (the deploy gives up on its own after 10 s)
            lines.append(line)
            if "waiting for" in line:
                break
        assert lines and lines[-1].startswith("dev: waiting for green: 1/1 in service, 0/1 healthy in wait-green ")
        assert "(up to 10s: grace 0s + warmup 0s (none set: the grace period) + ALB 2x5s)" in lines[-1]
        assert _weights(local_stack, waiting_env) == {"blue": 1, "green": 0}  # nothing moved while waiting
        ec2.start_instances(InstanceIds=[green])
        rest, errors = deploy.communicate(timeout=120)
    finally:
        if deploy.poll() is None:
            deploy.kill()
            deploy.communicate()
    assert deploy.returncode == 0, errors
    out = "".join(lines) + rest
    order = [
        "dev: waiting for green:",
        "dev: green ready: 1/1 in service, 1/1 healthy in wait-green",
        "dev: 10% to green",
        "dev: 50% to green",
        "dev: 100% to green",
        "dev: green is live with canary-model v1",
    ]
    positions = [out.find(line) for line in order]
    assert -1 not in positions and positions == sorted(positions), out
    assert out.count("waiting for green") == 1  # one line while waiting, not one per poll
    assert _weights(local_stack, waiting_env) == {"blue": 0, "green": 100}


def test_a_second_identical_deploy_is_a_no_op(local_stack, waiting_env, tmp_path):
    ec2 = local_stack.boto3_client("ec2")
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=waiting_env["template"])["LaunchTemplateVersions"]
    records = _records(local_stack)
    result = run_mlops(*_deploy_args(waiting_env, tmp_path), env=FAST_CANARY)
    assert result.returncode == 0, result.stderr
    image = local_stack.boto3_client("ecr").describe_images(
        repositoryName="mlops-serve", imageIds=[{"imageTag": "abc123"}]
    )
    digest = image["imageDetails"][0]["imageDigest"]
    assert result.stdout == f"dev already serves canary-model v1 (image {digest}): nothing to deploy\n"
    after = ec2.describe_launch_template_versions(LaunchTemplateId=waiting_env["template"])["LaunchTemplateVersions"]
    assert after == versions
    assert _weights(local_stack, waiting_env) == {"blue": 0, "green": 100}
    assert _records(local_stack) == records and not list(tmp_path.iterdir())


def test_a_color_that_never_gets_healthy_takes_no_traffic(local_stack, waiting_env, tmp_path):
    ec2, blue = local_stack.boto3_client("ec2"), _instance(local_stack, "wait-blue")
    ec2.stop_instances(InstanceIds=[blue])
    try:
        result = run_mlops(*_deploy_args(waiting_env, tmp_path, "--force"), env=FAST_CANARY)
    finally:
        ec2.start_instances(InstanceIds=[blue])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"dev: blue not ready after 10s: 1/1 in service, 0/1 healthy in wait-blue ({blue} unused "
        "(Target.InvalidState)); no traffic moved, green stays live"
    ) in result.stderr
    assert result.stdout.count("waiting for blue") == 1 and "% to blue" not in result.stdout
    assert _weights(local_stack, waiting_env) == {"blue": 0, "green": 100}
    (record,) = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert record["outcome"] == "unhealthy" and record["live_color"] == "green" and record["weights"] == []
    assert record["unhealthy"] == [f"{blue} unused (Target.InvalidState)"]
    assert record in _records(local_stack)
