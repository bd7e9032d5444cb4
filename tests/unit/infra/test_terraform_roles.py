"""Static checks, without Terraform, of what Jenkins needs to run Terraform with short-lived credentials: every env
plans from its committed terraform.tfvars plus what `mlops infra` passes itself (no variable left without a value,
as `mlops infra plan --env staging` runs in Jenkins); the bootstrap's Terraform roles reach the state key
`mlops infra` gives the S3 backend; their IAM limits (mlops-<env>-*, the AWS managed policies they may attach)
match what the modules create. The plan-level proofs are modules/terraform-roles/tests, bootstrap/tests,
modules/deploy-role/tests and envs/*/tests (tests/integration/test_terraform_plan.py runs them)."""

import re

import pytest

from mlops.core.settings import Settings
from mlops.core.terraform import TERRAFORM_DIR
from mlops.infra.envs import STATE_KEY, cli_variables, state_key
from tests.support.terraform import BOOTSTRAP, ENVS, MODULES, tf_text

pytestmark = pytest.mark.unit

ROLES_MODULE = TERRAFORM_DIR / "modules" / "terraform-roles"


def _variables(config) -> dict[str, str]:
    """Each variable block of a configuration, by name."""
    text = (config / "variables.tf").read_text()
    return {m.group(1): m.group(0) for m in re.finditer(r'^variable "([^"]+)" \{.*?^\}', text, re.M | re.S)}


def _has_default(block: str) -> bool:
    return re.search(r"^  default\s*=", block, re.M) is not None  # top level of the block, not in a validation


def _tfvars(env) -> set[str]:
    return set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", (env / "terraform.tfvars").read_text(), re.M))


def _module_block(text: str, name: str) -> str:
    return re.search(rf'^module "{name}" \{{.*?^\}}', text, re.M | re.S).group(0)


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_every_required_variable_has_a_committed_value(env):
    """What `terraform plan` would ask for: a variable without a default that neither the env's terraform.tfvars
    nor `mlops infra` itself (the region) supplies. certificate_arn used to be one, so a plan on AWS failed."""
    required = {name for name, block in _variables(env).items() if not _has_default(block)}
    assert required, "the parser found no required variable (environment has none?): it is broken"
    missing = required - _tfvars(env) - set(cli_variables(Settings()))
    assert not missing, f"{env.name}: no value for {sorted(missing)} in terraform.tfvars (nor a default)"
    assert _tfvars(env) <= set(_variables(env)), f"{env.name}/terraform.tfvars sets undeclared variables"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_every_env_sets_a_placeholder_serving_domain_and_no_certificate_arn(env):
    values = (env / "terraform.tfvars").read_text()
    domain = re.search(r'^serving_domain\s*=\s*"([^"]+)"', values, re.M)
    assert domain and domain.group(1).endswith(".example.com"), f"{env.name}: serving_domain placeholder missing"
    assert "certificate_arn" not in _tfvars(env), "an ARN is account-specific: look the certificate up instead"


def test_every_env_carries_the_same_committed_values_test():
    texts = {env.name: (env / "tests" / "committed_values.tftest.hcl").read_text() for env in ENVS}
    assert len(set(texts.values())) == 1, f"envs/*/tests/committed_values.tftest.hcl differ: {sorted(texts)}"


def test_the_roles_reach_the_state_key_mlops_infra_gives_the_backend():
    bootstrap = tf_text(BOOTSTRAP)
    roles = _module_block(bootstrap, "terraform_roles")
    assert f'state_key                   = "{STATE_KEY.format(env="${each.key}")}"' in roles
    assert state_key("staging") == "envs/staging/terraform.tfstate"


def test_the_roles_are_named_after_the_envs_resources():
    """The apply role writes IAM and S3 only within mlops-<env>-*: the name the bootstrap gives the roles must be
    the one the platform names the env's resources with."""
    platform = tf_text(TERRAFORM_DIR / "modules" / "platform")
    assert re.search(r'^\s*name\s*=\s*"mlops-\$\{var\.environment\}"', platform, re.M)
    roles = _module_block(tf_text(BOOTSTRAP), "terraform_roles")
    assert re.search(r'^\s*name\s*=\s*"mlops-\$\{each\.key\}"', roles, re.M)
    deploy = _module_block(platform, "deploy_role")
    assert re.search(r"^\s*name\s*=\s*local\.name$", deploy, re.M)  # mlops-<env>-deploy


def test_every_iam_role_and_instance_profile_of_the_modules_is_named_within_the_env():
    """So the apply role's IAM writes (roles, instance profiles named mlops-<env>-*) cover what the env creates:
    each module names them from its `name`/`name_prefix`, and the platform passes a name starting with the env's."""
    named_from = re.compile(r'^\s*name(_prefix)?\s*=\s*"\$\{(substr\()?var\.name(_prefix)?\b', re.M)
    creators = []
    for module in MODULES:
        if module == ROLES_MODULE:
            continue
        text = tf_text(module)
        for kind in ("aws_iam_role", "aws_iam_instance_profile", "aws_iam_policy"):
            for block in re.findall(rf'^resource "{kind}" "[^"]+" \{{.*?^\}}', text, re.M | re.S):
                assert named_from.search(block), f"{module.name}: a {kind} not named from var.name: {block[:200]}"
                creators.append(module.name)
    assert {"serving-asg", "eks", "mlflow", "network", "deploy-role"} <= set(creators)
    platform = tf_text(TERRAFORM_DIR / "modules" / "platform")
    for call in re.finditer(r'^module "([^"]+)" \{.*?^\}', platform, re.M | re.S):
        source = re.search(r'source\s*=\s*"\.\./([^"]+)"', call.group(0)).group(1)
        if source in creators:
            value = re.search(r"^\s*name(?:_prefix)?\s*=\s*(.+)$", call.group(0), re.M).group(1).strip()
            assert value == "local.name" or value.startswith('"${local.name}-'), f"module {call.group(1)}: {value}"


def test_the_apply_role_may_attach_exactly_the_managed_policies_the_modules_attach():
    roles = (ROLES_MODULE / "main.tf").read_text()
    listed = re.search(r"attachable_managed_policies = \[(.*?)\]", roles, re.S).group(1)
    allowed = set(re.findall(r'"([A-Za-z0-9_]+)"', listed))
    attached = set()
    for module in MODULES:
        if module != ROLES_MODULE:
            # EKS access policies (cluster-access-policy/...) are not IAM policies: no IAM attachment
            attached |= set(re.findall(r"(?<!cluster-access-policy/)\b(Amazon[A-Za-z0-9_]+)", tf_text(module)))
    assert attached, "the parser found no managed policy: it is broken"
    assert allowed == attached, f"attachable {sorted(allowed)} but the modules attach {sorted(attached)}"


def test_the_state_key_delegates_its_use_through_s3_only():
    """Without it no identity policy, the roles' included, could use the state key (the key policy names nobody);
    S3 alone: the state and its lock files are S3 objects (use_lockfile), there is no lock table."""
    kms = _module_block(tf_text(BOOTSTRAP), "kms")
    services = re.search(r"iam_use_via_services\s*=\s*\[([^\]]*)\]", kms)
    assert services and set(re.findall(r'"([a-z0-9]+)"', services.group(1))) == {"s3"}
