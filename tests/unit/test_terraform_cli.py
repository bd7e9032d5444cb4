"""`mlops infra` argument handling and the local-stack override, without running Terraform against anything."""

import pytest
from click.testing import CliRunner

from mlops.core.terraform import ENVS_DIR, OVERRIDE_FILE, env_names
from mlops.infra import local
from mlops.infra.cli import infra

pytestmark = pytest.mark.unit


def test_env_names_are_the_env_folders():
    assert env_names() == ["dev", "prod", "staging"]


def test_unknown_env_is_a_usage_error():
    result = CliRunner().invoke(infra, ["plan", "--env", "qa"])
    assert result.exit_code == 2
    assert "'qa' is not one of 'dev', 'prod', 'staging'" in result.output


@pytest.mark.parametrize("bad", ["novalue", "=x", "9lives=1", "a-b=1"])
def test_malformed_var_is_a_usage_error(bad):
    result = CliRunner().invoke(infra, ["plan", "--env", "dev", "--var", bad])
    assert result.exit_code == 2
    assert f"{bad!r} is not KEY=VALUE" in result.output


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
        assert "MLOPS_TF_STATE_BUCKET is not set" in result.output
        assert not override.exists(), "a local override must never reach an AWS run"
    finally:
        override.unlink(missing_ok=True)


def test_override_points_every_service_and_the_backend_at_the_stack():
    text = local.override_text(
        "http://127.0.0.1:4566",
        "eu-west-1",
        {"bucket": "b", "key": "envs/dev/terraform.tfstate", "dynamodb_table": "t"},
    )
    for service in local.SERVICES:
        assert f'{service} = "http://127.0.0.1:4566"' in text
    assert 'backend "s3"' in text and 'bucket                      = "b"' in text
    assert 'dynamodb = "http://127.0.0.1:4566"' in text and 'region                      = "eu-west-1"' in text
    local_backend = local.override_text("http://h:1", "us-east-1", {"type": "local", "path": '/tmp/a "b"/s'})
    assert 'path = "/tmp/a \\"b\\"/s"' in local_backend
