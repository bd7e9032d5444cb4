"""Static checks, without Terraform, that tie the serving image repository and the MLflow tracking server to the
Python side: the repository the platform creates is the one `MLOPS_ECR_REPOSITORY` names by default and the one
the deploy role may read; `mlops infra --local` turns the managed tracking server off (moto has none) and says so
where the other moto-only switches are listed; and every AWS service the configurations call has an endpoint in
the local override, so a local apply can never reach AWS (the ECR repository used to be created by the dev test
itself, and ECR had no endpoint there). The plan-level checks are modules/{ecr,mlflow,access-policy,platform}/tests."""

import re

import pytest

from mlops.core.settings import Settings
from mlops.core.terraform import TERRAFORM_DIR
from mlops.infra import local
from tests.support.terraform import tf_text

pytestmark = pytest.mark.unit

MODULES_DIR = TERRAFORM_DIR / "modules"

# the provider endpoint each resource or data source type calls (longest matching prefix wins); None: no API call
ENDPOINTS = {
    "aws_iam_policy_document": None, "aws_partition": None, "aws_region": None, "aws_elb_service_account": None,
    "aws_caller_identity": "sts", "aws_iam_": "iam", "aws_kms_": "kms", "aws_s3_": "s3", "aws_ecr_": "ecr",
    "aws_sagemaker_": "sagemaker", "aws_eks_": "eks", "aws_lb": "elbv2", "aws_autoscaling_": "autoscaling",
    "aws_cloudwatch_log_": "cloudwatchlogs", "aws_cloudwatch_": "cloudwatch", "aws_sns_": "sns", "aws_ssm_": "ssm",
    "aws_wafv2_": "wafv2", "aws_acm": "acm", "aws_cloudtrail": "cloudtrail", "aws_guardduty_": "guardduty",
    "aws_securityhub_": "securityhub", "aws_emrserverless_": "emrserverless",
    **dict.fromkeys(
        ["aws_vpc", "aws_subnet", "aws_route", "aws_nat_gateway", "aws_eip", "aws_internet_gateway", "aws_flow_log",
         "aws_launch_template", "aws_security_group", "aws_default_security_group", "aws_availability_zones",
         "aws_vpc_endpoint", "aws_ec2_"],
        "ec2",
    ),
}  # fmt: skip


def _variable_default(text: str, name: str) -> str:
    block = text[text.index(f'variable "{name}"') :]
    return re.search(r"default\s*=\s*(.+)", block[: block.index("\n}\n")]).group(1).strip()


def _module_block(text: str, name: str) -> str:
    start = text.index(f'module "{name}" {{')
    return text[start : text.index("\n}\n", start)]


def test_the_repository_is_mlops_ecr_repositorys_default_everywhere():
    default = f'"{Settings.model_fields["ecr_repository"].default}"'
    assert _variable_default((MODULES_DIR / "ecr" / "variables.tf").read_text(), "name") == default
    assert _variable_default((MODULES_DIR / "platform" / "variables.tf").read_text(), "ecr_repository_name") == default


def test_the_deploy_role_reads_the_repository_the_platform_creates():
    platform = (MODULES_DIR / "platform" / "main.tf").read_text()
    assert re.search(r"^\s+name\s+= var\.ecr_repository_name$", _module_block(platform, "ecr"), re.M)
    deploy = _module_block(platform, "deploy_role")
    assert re.search(r"^\s+ecr_repository_arn\s+= module\.ecr\.repository_arn$", deploy, re.M), deploy


def test_only_dev_lets_terraform_delete_a_repository_with_images():
    forced = {env: "ecr_force_delete" in (TERRAFORM_DIR / "envs" / env / "main.tf").read_text() for env in
              ("dev", "staging", "prod")}  # fmt: skip
    assert forced == {"dev": True, "staging": False, "prod": False}
    assert _variable_default((MODULES_DIR / "platform" / "variables.tf").read_text(), "ecr_force_delete") == "false"


def test_local_runs_turn_the_managed_tracking_server_off_and_security_md_says_why():
    assert local.LOCAL_ENV_VARS["managed_mlflow"] == "false"
    assert _variable_default((MODULES_DIR / "platform" / "variables.tf").read_text(), "managed_mlflow") == "true"
    security = (TERRAFORM_DIR / "SECURITY.md").read_text()
    switches = security[security.index("**Switches that exist only because of moto**") :]
    missing = [name for name in local.LOCAL_ENV_VARS if f"`{name}`" not in switches]
    assert not missing, f"SECURITY.md does not list these moto-only switches: {missing}"


def test_every_aws_service_the_configurations_call_has_a_local_endpoint():
    configs = [p for p in TERRAFORM_DIR.rglob("*.tf") if ".terraform" not in p.parts]
    types = set()
    for directory in {p.parent for p in configs}:
        types |= set(re.findall(r'^(?:resource|data) "(aws_[a-z0-9_]+)"', tf_text(directory), re.M))
    unmapped = sorted(t for t in types if not any(t.startswith(prefix) for prefix in ENDPOINTS))
    assert not unmapped, f"say which endpoint these call (ENDPOINTS): {unmapped}"
    needed = {ENDPOINTS[max((p for p in ENDPOINTS if t.startswith(p)), key=len)] for t in types} - {None}
    assert needed <= set(local.SERVICES), f"no endpoint in the --local override for {needed - set(local.SERVICES)}"
    assert {"ecr", "sagemaker"} <= needed
