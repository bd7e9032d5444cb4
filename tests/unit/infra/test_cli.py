"""`mlops infra` argument handling and the local-stack override, without running Terraform against anything.
(Terraform itself: tests/integration/test_terraform_*.py and test_infra_dev_env.py.)"""

import json
import re

import pytest
from click.testing import CliRunner

from mlops.core.terraform import ENVS_DIR, OVERRIDE_FILE, env_names
from mlops.infra import local
from mlops.infra.cli import infra

pytestmark = pytest.mark.unit


def _hcl(text: str) -> dict:
    """The blocks and attributes of a generated override file (the HCL subset it is written in), as nested dicts:
    `provider "aws" { region = "x" }` is {"provider": {"aws": {"region": "x"}}}."""
    root: dict = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "}":
            stack.pop()
        elif block := re.fullmatch(r'(\w+)((?:\s+"[^"]*")*)\s*\{', line):
            node = stack[-1].setdefault(block.group(1), {})
            for label in re.findall(r'"([^"]*)"', block.group(2)):
                node = node.setdefault(label, {})
            stack.append(node)
        elif mapping := re.fullmatch(r"(\w+)\s*=\s*\{", line):
            stack.append(stack[-1].setdefault(mapping.group(1), {}))
        elif attribute := re.fullmatch(r"(\w+)\s*=\s*(.+)", line):
            stack[-1][attribute.group(1)] = json.loads(attribute.group(2))  # HCL strings and bools are JSON's
        else:
            raise ValueError(f"not in the override's HCL subset: {line!r}")
    assert stack == [root], "unbalanced braces"
    return root


def test_unknown_env_is_a_usage_error_listing_the_envs():
    result = CliRunner().invoke(infra, ["plan", "--env", "qa"])
    assert result.exit_code == 2
    assert "'qa'" in result.output and all(repr(env) in result.output for env in env_names())


@pytest.mark.parametrize("bad", ["novalue", "=x", "9lives=1", "a-b=1"])
def test_malformed_var_is_a_usage_error(bad):
    result = CliRunner().invoke(infra, ["plan", "--env", "dev", "--var", bad])
    assert result.exit_code == 2
    assert repr(bad) in result.output and "KEY=VALUE" in result.output


def test_missing_var_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(infra, ["plan", "--env", "dev", "--var-file", str(tmp_path / "nope.tfvars")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_local_without_a_stack_says_how_to_start_it(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(infra, ["plan", "--env", "dev", "--local"])
    assert result.exit_code == 1
    assert "run `mlops stack up` first" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_aws_run_without_state_bucket_fails_before_terraform_and_removes_a_stale_override(monkeypatch, tmp_path):
    override = ENVS_DIR / "staging" / OVERRIDE_FILE
    monkeypatch.delenv("MLOPS_TF_STATE_BUCKET", raising=False)
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    override.write_text("# stale local override\n")
    try:
        result = CliRunner().invoke(infra, ["plan", "--env", "staging"])
        assert result.exit_code == 1
        assert "MLOPS_TF_STATE_BUCKET and MLOPS_TF_STATE_KMS_KEY_ARN must be set" in result.output
        assert not override.exists(), "a local override must never reach an AWS run"
    finally:
        override.unlink(missing_ok=True)


def test_override_points_every_service_and_the_backend_at_the_stack():
    url = "http://127.0.0.1:4566"
    backend = {"bucket": "b", "key": "envs/dev/terraform.tfstate", "kms_key_id": "arn:aws:kms:eu-west-1:1:key/k"}
    override = _hcl(local.override_text(url, "eu-west-1", backend))
    provider = override["provider"]["aws"]
    assert provider["region"] == "eu-west-1"
    assert provider["endpoints"] == dict.fromkeys(local.SERVICES, url)
    assert provider["skip_credentials_validation"] is True  # the stack's keys are not real AWS keys
    s3 = override["terraform"]["backend"]["s3"]
    assert {k: s3[k] for k in backend} == backend and s3["region"] == "eu-west-1"
    assert s3["endpoints"]["s3"] == url and "dynamodb" not in s3["endpoints"]  # state and its lock file on the stack
    assert s3["use_lockfile"] is True  # an override's backend block replaces the env's, so it says so again


def test_override_quotes_values_so_any_path_survives():
    path = '/tmp/a "b"\\c/s'
    override = _hcl(local.override_text("http://h:1", "us-east-1", {"type": "local", "path": path}))
    assert override["terraform"]["backend"]["local"]["path"] == path
    assert "s3" not in override["terraform"]["backend"]
