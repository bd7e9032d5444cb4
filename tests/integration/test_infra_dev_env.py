"""envs/dev applied for real on the local stack's moto server: bad variables fail at plan before anything exists
(min > max capacity is refused the same way, proven in modules/serving-asg/tests); then the Jenkins dry run of a
merge to main (tests/support/jenkins_dryrun.py): in clean clones of the checkout, with the environment the
Jenkinsfile, library and JCasC give, it plans every env under its plan role, applies dev's saved plan under its
apply role, and deploys the merged dev release with a blue/green canary under the deploy role, the targets handed
over by the apply; it stops at the staging approval. Then check with boto3 what was built, re-plan with no changes
(Terraform leaves the deploy's listener weights and launch template versions alone), run the roles against the
IAM-enforcing moto (tests/support/iam.py), destroy.

EKS is left out here (`enable_eks=false`) to keep the run inside the test budget: moto's EKS cluster delete alone
waits ~50 s. The EKS module is validated and plan-checked by the unit tests; set MLOPS_TEST_EKS=1 to apply it too.
"""

import contextlib
import datetime as dt
import json
import os

import pytest

from mlops.core import contracts
from mlops.core.terraform import Terraform, terraform_env
from mlops.delivery.targets import DeployTargets
from mlops.infra.local import bootstrap
from tests.conftest import run_mlops
from tests.integration.test_release_gitops import LINEAGE, NUMBERS
from tests.support import iam
from tests.support import jenkins_dryrun as dryrun
from tests.support.jenkins_dryrun import LocalAgent, node_environment, snapshot_origin
from tests.support.jenkins_pipeline import Build, Trigger

pytestmark = pytest.mark.integration

TIMEOUT = 600
EKS = os.environ.get("MLOPS_TEST_EKS") == "1"
EXTRA = [] if EKS else ["--var", "enable_eks=false"]
MODEL = "demo-model"  # the Makefile's MODEL when the agent names none


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


@pytest.mark.iam
@pytest.mark.slow
def test_a_merge_to_main_plans_applies_and_deploys_dev_as_jenkins_then_roles_replan_and_destroy(local_stack, tmp_path):
    """The Jenkins dry run of a main build (tests/support/jenkins_dryrun.py): the merge of a dev release, built in
    clean clones with exactly the environment the Jenkinsfile, the library and the JCasC give it; then the env is
    checked, its roles run under IAM enforcement, it re-plans empty and is destroyed."""
    # the env's ECR repository is Terraform's; the canary tests of this session pushed to one of that name
    ecr = local_stack.boto3_client("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryNotFoundException):
        ecr.delete_repository(repositoryName=local_stack.settings.ecr_repository, force=True)
    # the account as its admin leaves it before Jenkins runs: terraform/bootstrap applied (state, Jenkins roles)
    bootstrap(local_stack.settings, terraform_env())
    origin = snapshot_origin(tmp_path)
    version = _merged_dev_release(local_stack, origin)
    agent = LocalAgent(local_stack, origin, tmp_path, recorded_targets={"image", "deploy"}, eks=EKS)
    account = agent.account
    controller = {"MLOPS_GITHUB_ORG": "acme", "MLOPS_NOTIFY_TO": "mlops@acme.example",
                  **{f"MLOPS_ACCOUNT_{e.upper()}": account for e in ("dev", "staging", "prod")}}  # fmt: skip
    node = {**agent.process_env(), **node_environment(controller)}
    try:
        build = Build(Trigger("main", [f"deploy/{MODEL}/dev.yaml"]), agent, node).run()
        assert build.result == "WAITING", agent.failures() or build.failure
        assert build.stages_run()[-1] == "Approve staging" and not agent.failures()
        (request,) = [e.detail for e in build.of("input")]
        assert request["submitter"] == "acme*mlops-model-owners"
        assert sorted(build.stashes["terraform-plans"]) == [f"reports/plans/{e}.{x}" for e in ("dev", "prod", "staging")
                                                            for x in ("tfplan", "txt")]  # fmt: skip
        ran = [(stage, command.split()[1]) for stage, command, _, _ in agent.log if not command.startswith("make -n")]
        assert ("Deploy dev", "apply") in ran and ("Deploy dev", "deploy") in ran, ran
        # after the deploy moved the weights and the green group's launch template version: nothing to change
        # (planned for the same commit as the build: the user data names that commit's serving package)
        same = ["--var", f"package_version={build.env['GIT_COMMIT']}"]
        replan = run_mlops("infra", "plan", "--env", "dev", "--local", "--detailed-exitcode", *EXTRA, *same,
                           timeout=TIMEOUT)  # fmt: skip
        assert replan.returncode == 0, "second plan is not empty:\n" + replan.stdout[-4000:]
        # read from this checkout, which the re-plan initialised (the build's workspaces are wiped, as cleanWs does)
        outputs = Terraform.for_env("dev", local_stack.settings).outputs()
        assert json.loads(build.archived["reports/targets/dev.json"]) == outputs["deploy_targets"]
        _check_what_exists(local_stack)
        _deploy_as_jenkins(local_stack, agent, outputs, version)
        _roles_under_enforced_iam(local_stack, outputs)
    finally:
        destroy = run_mlops("infra", "destroy", "--env", "dev", "--local", "--auto-approve", *EXTRA, timeout=TIMEOUT)
    assert destroy.returncode == 0, destroy.stdout[-3000:] + destroy.stderr[-3000:]
    assert not [v for v in _vpcs(local_stack) if _tag(local_stack, v) == "mlops-dev"]


def _merged_dev_release(stack, origin) -> str:
    """What the merge carries: a version that passed its gate, proposed to dev with the image the build pushes
    (`mlops release propose`; dev merges itself into the origin's main)."""
    from mlflow import MlflowClient

    client = MlflowClient(stack.env["MLFLOW_TRACKING_URI"])
    with contextlib.suppress(Exception):
        client.create_registered_model(MODEL)
    version = client.create_model_version(MODEL, source="s3://mlops-artifacts/none").version
    for key, value in {**LINEAGE, "mlops.gate.decision": "passed", "mlops.gate.numbers": json.dumps(NUMBERS)}.items():
        client.set_model_version_tag(MODEL, version, key, value)
    proposed = run_mlops("release", "propose", "--env", "dev", "--model", MODEL, "--version", version,
                         "--image-digest", dryrun.IMAGE_DIGEST, "--repo", str(origin), timeout=TIMEOUT)  # fmt: skip
    assert proposed.returncode == 0, proposed.stdout + proposed.stderr
    return version


def _tag(stack, vpc_id: str) -> str | None:
    vpc = stack.boto3_client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return {t["Key"]: t["Value"] for t in vpc.get("Tags", [])}.get("Name")


def _check_what_exists(stack) -> None:
    """What the apply built, as it stands after the build's canary moved green to its version and all traffic."""
    kms, s3, logs = stack.boto3_client("kms"), stack.boto3_client("s3"), stack.boto3_client("logs")
    account = stack.boto3_client("sts").get_caller_identity()["Account"]

    keys = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if "TargetKeyId" in a}
    data_key = kms.describe_key(KeyId=keys["alias/mlops-dev-data"])["KeyMetadata"]["Arn"]
    logs_key = kms.describe_key(KeyId=keys["alias/mlops-dev-logs"])["KeyMetadata"]["Arn"]
    for key in (data_key, logs_key):
        assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
        policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        assert '"AWS":"*"' not in policy.replace(" ", "")
        # administration and use are split (modules/kms): nobody gets kms:*, and use the account delegates to its
        # IAM policies is conditioned on this account (and a service or a role pattern)
        for statement in json.loads(policy)["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "kms:*" not in actions, statement
            if "kms:Decrypt" in actions and str(statement["Principal"].get("AWS", "")).endswith(":root"):
                assert statement["Condition"]["StringEquals"]["kms:CallerAccount"] == account, statement

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

    # blue/green: one group per color, each registered with its own target group, both at the env's sizes
    elb, ec2 = stack.boto3_client("elbv2"), stack.boto3_client("ec2")
    target_groups = {g["TargetGroupName"]: g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]}
    asg_client = stack.boto3_client("autoscaling")
    groups = asg_client.describe_auto_scaling_groups()["AutoScalingGroups"]
    for color in ("blue", "green"):
        (asg,) = [g for g in groups if g["AutoScalingGroupName"].startswith(f"mlops-dev-{color}-serving-")]
        assert (asg["MinSize"], asg["MaxSize"], asg["DesiredCapacity"]) == (1, 2, 1)
        assert asg["HealthCheckType"] == "ELB" and asg["TargetGroupARNs"] == [target_groups[f"mlops-dev-{color}"]]
        assert asg["LaunchTemplate"]["Version"] == {"blue": "1", "green": "2"}[color]  # green: the deploy's version
        policies = asg_client.describe_policies(AutoScalingGroupName=asg["AutoScalingGroupName"])["ScalingPolicies"]
        metrics = {
            p["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] for p in policies
        }
        assert metrics == {"ASGAverageCPUUtilization", "ALBRequestCountPerTarget"}

        template = ec2.describe_launch_template_versions(
            LaunchTemplateId=asg["LaunchTemplate"]["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert template["MetadataOptions"]["HttpTokens"] == "required"
        assert template["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        assert template["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False

    (lb,) = [b for b in elb.describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == "mlops-dev"]
    listeners = {li["Port"]: li for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    colors = {c: target_groups[f"mlops-dev-{c}"] for c in ("blue", "green")}
    assert _weights(elb, listeners[443]["ListenerArn"], colors) == {"blue": 0, "green": 100}  # after the canary
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
        "mlops-dev-retrain-failed-demo-model",
        "mlops-dev-drift-demo-model",
        *(f"mlops-dev-{c}-{a}" for c in ("blue", "green") for a in ("5xx-rate", "latency-p99", "healthy-hosts")),
    } <= alarms
    topics = stack.boto3_client("sns").list_topics()["Topics"]
    (topic,) = [t["TopicArn"] for t in topics if t["TopicArn"].endswith(":mlops-dev-alerts")]
    assert stack.boto3_client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == logs_key

    if EKS:
        cluster = stack.boto3_client("eks").describe_cluster(name="mlops-dev")["cluster"]
        assert cluster["resourcesVpcConfig"]["endpointPublicAccess"] is False
        assert cluster["encryptionConfig"][0]["provider"]["keyArn"] == data_key


def _weights(elb, listener_arn: str, target_groups: dict[str, str]) -> dict[str, int]:
    """The listener's forward weights by color (target_groups: color -> target group ARN)."""
    action = elb.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]["DefaultActions"][0]
    color = {arn: name for name, arn in target_groups.items()}
    return {color[g["TargetGroupArn"]]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}


def _deploy_as_jenkins(stack, agent, outputs, version: str) -> None:
    """What the build's `make deploy ENV=dev` did, under the deploy role its stage assumed with the targets its
    apply handed over (the deploy role cannot read the Terraform state, which may hold secrets): waited for healthy
    targets, moved the traffic, wrote its record; every AWS call it made is allowed by that role's policy."""
    raw = outputs["deploy_targets"]
    assert set(raw) == set(DeployTargets.model_fields)  # nothing missing, nothing the schema does not know
    targets = DeployTargets.model_validate(raw)
    assert targets.environment == "dev" and targets.serving_target == "asg"
    assert targets.service_url == f"https://{outputs['alb_dns_name']}"
    assert targets.alarms_for("green") == [
        "mlops-dev-green-5xx-rate", "mlops-dev-green-latency-p99", "mlops-dev-green-healthy-hosts",
    ]  # fmt: skip
    ecr = stack.boto3_client("ecr")
    (repository,) = ecr.describe_repositories(repositoryNames=[stack.settings.ecr_repository])["repositories"]
    assert repository["repositoryArn"] == outputs["ecr_repository_arn"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    assert repository["encryptionConfiguration"]["kmsKey"] == outputs["data_kms_key_arn"]
    assert outputs["mlflow_tracking_uri"] == stack.env["MLFLOW_TRACKING_URI"]

    (deploy,) = [(command, output) for stage, command, _, output in agent.log if command.startswith("make deploy")]
    assert f"dev: green is live with {MODEL} v{version}" in deploy[1], deploy[1]
    elb, autoscaling = stack.boto3_client("elbv2"), stack.boto3_client("autoscaling")
    assert _weights(elb, targets.listener_arn, targets.target_groups) == {"blue": 0, "green": 100}
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(targets.asg_names.values()))
    versions = {g["AutoScalingGroupName"]: g["LaunchTemplate"]["Version"] for g in groups["AutoScalingGroups"]}
    assert versions == {targets.asg_names["blue"]: "1", targets.asg_names["green"]: "2"}

    deploy_role = outputs["role_arns"]["deploy"]
    keys = [k for k, arn in agent.issued.items() if arn == deploy_role and k in agent.recorded_keys]
    assert len(keys) == 2  # one session for the image push, one for the deploy: each withAWS assumes anew
    calls = [call for key in keys for call in iam.calls_signed_by(agent.recorded, key)]
    made = {call.action for call in calls}
    assert {"ecr:PutImage", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:ModifyListener",
            "autoscaling:UpdateAutoScalingGroup", "ec2:CreateLaunchTemplateVersion", "ecr:DescribeImages",
            "s3:PutObject"} <= made, made  # fmt: skip
    policies = iam.role_policies(stack, deploy_role)
    assert iam.denied_calls(stack, calls, policies) == []
    # the evaluation bites: without its listener statement the same deploy is refused exactly its weight moves
    move = "MoveTrafficOnThisEnvsListener"
    narrowed = [
        json.dumps({**doc, "Statement": [s for s in doc["Statement"] if s.get("Sid") != move]})
        for doc in map(json.loads, policies)
    ]
    refused = f"elasticloadbalancing:ModifyListener on {targets.listener_arn}"
    assert set(iam.denied_calls(stack, calls, narrowed)) == {refused}

    s3, artifacts = stack.boto3_client("s3"), outputs["bucket_names"]["artifacts"]
    with iam.tls_policies_lifted(stack, [artifacts]):
        (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=artifacts, Prefix="deploys/dev/")["Contents"]]
        record = json.loads(s3.get_object(Bucket=artifacts, Key=key)["Body"].read())
    assert record["outcome"] == "promoted" and record["live_color"] == "green"
    assert record["model_version"] == version and record["weights"][-1] == {"green": 100, "blue": 0}


def _roles_under_enforced_iam(stack, outputs) -> None:
    """With moto enforcing IAM: each role does what its workload does and is refused the rest; a policy narrowed
    by one statement makes the workload's own write fail (the check bites)."""
    roles, buckets = outputs["role_arns"], outputs["bucket_names"]
    s3, account_iam = stack.boto3_client("s3"), stack.boto3_client("iam")
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": outputs["data_kms_key_arn"]}
    today = dt.datetime.now(dt.UTC)
    capture = contracts.capture_key("iam-model", today, "iam-check")
    wheel = "packages/serving/0123abcd/SHA256SUMS"  # what the user data fetches first at boot (serving-asg)
    model = "mlflow/1/iam-run/artifacts/model/model.pkl"
    serving = {color: iam.assume(stack, roles[f"serving-{color}"], f"serving-{color}") for color in ("blue", "green")}
    deploy = iam.assume(stack, roles["deploy"], "jenkins-deploy-dev")

    def outcome(creds, operation: str, bucket: str, key: str) -> str:
        client = iam.client(stack, "s3", creds)
        try:
            if operation == "put":
                client.put_object(Bucket=bucket, Key=key, Body=b"x", **kms)
            elif operation == "delete":
                client.delete_object(Bucket=bucket, Key=key)
            else:
                client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] in ("AccessDenied", "403"), error
            return "denied"
        return "allowed"

    expected = [  # (who, operation, bucket, key, outcome)
        ("serving", "get", "artifacts", wheel, "allowed"),
        ("serving", "get", "artifacts", "packages/tools/x.whl", "denied"),  # the serving package, nothing else
        ("serving", "get", "artifacts", model, "allowed"),
        ("serving", "put", "capture", capture, "allowed"),
        ("serving", "put", "artifacts", model, "denied"),  # a serving host cannot change a model
        ("serving", "get", "data", "data/train.parquet", "denied"),
        ("serving", "get", "capture", "labels/x.parquet", "denied"),
        ("serving", "delete", "capture", capture, "denied"),
        ("deploy", "put", "artifacts", "deploys/dev/iam-check.json", "allowed"),
        ("deploy", "put", "artifacts", "packages/serving/0123abcd/x.whl", "allowed"),  # `make package` publishes
        ("deploy", "put", "artifacts", "deploys/prod/iam-check.json", "denied"),  # one env's role, one env
        ("deploy", "get", "artifacts", model, "denied"),
        ("deploy", "get", "data", "data/train.parquet", "denied"),
    ]
    creds = {"serving": serving["blue"], "deploy": deploy}
    with iam.tls_policies_lifted(stack, [buckets[b] for b in ("artifacts", "capture", "data")]):
        for bucket, key in (("artifacts", wheel), ("artifacts", model), ("data", "data/train.parquet")):
            s3.put_object(Bucket=buckets[bucket], Key=key, Body=b"x", **kms)
        with iam.enforced(stack):
            seen = [(who, op, b, k, outcome(creds[who], op, buckets[b], k)) for who, op, b, k, _ in expected]
            green = outcome(serving["green"], "put", buckets["capture"], capture)
        assert seen == expected
        assert green == "allowed"

        # narrowed by one statement, the serving role's own capture write is refused
        name = roles["serving-blue"].rsplit("/", 1)[1]
        (policy_name,) = [p for p in account_iam.list_role_policies(RoleName=name)["PolicyNames"] if "least" in p]
        original = account_iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        narrowed = {**original, "Statement": [s for s in original["Statement"] if s.get("Sid") != "WriteObjects"]}
        account_iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(narrowed))
        try:
            with iam.enforced(stack):
                assert outcome(serving["blue"], "put", buckets["capture"], capture) == "denied"
        finally:
            account_iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(original))
