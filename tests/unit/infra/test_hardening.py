"""Static checks of the Terraform hardening (issue 16) that tie it to the Python side or to the whole tree, without
Terraform: the serving-asg refusal of secrets in `settings_env` covers every secret setting mlops.core.settings
has; the platform (so envs/dev, applied on moto) never turns on S3 replication or object lock; no launch template
lets containers reach IMDS; no key policy hands out kms:*. The plan-level checks are the modules' tftest files."""

import re
import typing

import pytest
from pydantic import SecretStr

from mlops.core.settings import Settings
from mlops.core.terraform import TERRAFORM_DIR
from tests.support.terraform import MODULES

pytestmark = pytest.mark.unit

MODULES_DIR = TERRAFORM_DIR / "modules"


def _secret_pattern() -> re.Pattern:
    """The pattern serving-asg's settings_env validation refuses (RE2 and Python agree on this subset)."""
    text = (MODULES_DIR / "serving-asg" / "variables.tf").read_text()
    block = text[text.index('variable "settings_env"') :]
    patterns = set(re.findall(r'can\(regex\("(\([A-Z_?|]+\))", upper\(k\)\)\)', block))
    assert len(patterns) == 1, f"expected one secret pattern in the settings_env validation, found {patterns}"
    return re.compile(patterns.pop())


def _block(text: str, header: str) -> str:
    """The body of the top-level block starting with `header` (up to its closing brace at column 0)."""
    start = text.index(header)
    return text[start : text.index("\n}\n", start)]


def _secret_settings() -> list[str]:
    prefix = Settings.model_config["env_prefix"]
    return [
        f"{prefix}{name}".upper()
        for name, field in Settings.model_fields.items()
        if field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation)
    ]


def test_settings_env_refuses_every_secret_setting():
    secrets = _secret_settings()
    assert "MLOPS_SERVE_API_KEYS" in secrets, "the serving API keys are no longer a SecretStr setting?"
    pattern = _secret_pattern()
    missed = [name for name in secrets if not pattern.search(name)]
    assert not missed, f"settings_env would pass these secrets into plain-text user data: {missed}"


def test_settings_env_admits_what_the_platform_passes():
    """A pattern too broad would refuse the platform's own non-secret settings (a key ARN is not a key)."""
    platform = (MODULES_DIR / "platform" / "main.tf").read_text()
    env = _block(platform, 'module "serving" {')
    keys = re.findall(r"^\s+(MLOPS_[A-Z0-9_]+)\s*=", env[env.index("settings_env") :], flags=re.MULTILINE)
    assert "MLOPS_KMS_KEY_ARN" in keys
    pattern = _secret_pattern()
    assert not [k for k in keys if pattern.search(k)]


def test_the_platform_leaves_s3_replication_and_object_lock_off():
    """Both default off in modules/s3 (asserted by its tftest); the platform passes neither, so no env, and in
    particular not envs/dev applied on moto (which does not round-trip them), creates them."""
    s3 = _block((MODULES_DIR / "platform" / "main.tf").read_text(), 'module "s3" {')
    for name in ("replication_destinations", "object_lock_mode", "object_lock_retention_days"):
        assert not re.search(rf"^\s+{name}\s*=", s3, flags=re.MULTILINE), f"the platform sets {name}"


def test_no_launch_template_lets_containers_reach_imds():
    limits = {
        module.name: re.findall(r"http_put_response_hop_limit\s*=\s*(\d+)", (module / "main.tf").read_text())
        for module in MODULES
    }
    assert limits["serving-asg"], "the launch template moved?"  # EKS Auto Mode's nodes have none of ours
    assert all(limit == "1" for found in limits.values() for limit in found), limits


def test_no_module_key_policy_grants_kms_star():
    text = (MODULES_DIR / "kms" / "main.tf").read_text()
    assert '"kms:*"' not in text
    assert "admin_role_arns" in text and "user_role_arns" in text
