"""The `mlops` command group: every part's commands are listed and have help; usage errors and bad settings exit 2
naming what is wrong. In-process (click's CliRunner, `main()`); the installed console script itself is run in
tests/integration/test_cli_process.py."""

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli, main

pytestmark = pytest.mark.unit

# the public command names (README, "The mlops command"); each installed part registers its own
COMMANDS = ["demo", "deploy", "drift", "infra", "jenkins", "lineage", "new-model", "pipeline", "promote", "release",
            "reproduce", "retrain", "rollback", "serve", "stack", "template"]  # fmt: skip


def test_help_lists_every_command_group():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_group_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_command_prints_usage_and_exits_2():
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "'no-such-command'" in result.stderr


def test_bad_flag_prints_usage_and_exits_2():
    result = CliRunner().invoke(cli, ["stack", "up", "--no-such-flag"])
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "--no-such-flag" in result.stderr


def test_bad_setting_names_the_variable_and_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("MLOPS_MOTO_PORT", "abc")
    with pytest.raises(SystemExit) as exited:
        main(["stack", "status"])
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "MLOPS_MOTO_PORT" in stderr and "'abc'" in stderr
    assert "Traceback" not in stderr
