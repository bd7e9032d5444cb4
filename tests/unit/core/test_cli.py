"""The `mlops` command group: every part's commands are listed and have help; usage errors and bad settings exit 2
naming what is wrong. In-process (click's CliRunner, `main()`); the installed console script itself is run in
tests/integration/test_cli_process.py."""

import click
import pytest
from click.testing import CliRunner

from mlops.core.cli import cli, main

pytestmark = pytest.mark.unit

# the public command names (README, "The mlops command"); each installed part registers its own
COMMANDS = ["demo", "deploy", "drift", "infra", "jenkins", "lineage", "new-model", "pipeline", "privacy", "promote",
            "release", "reproduce", "retrain", "rollback", "serve", "stack", "template"]  # fmt: skip


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


def test_commands_print_for_people_and_log_to_the_file(monkeypatch, tmp_path, capsys):
    """A command's INFO lines go to the log file in the state dir, not the console; a service keeps them on the
    console (its log stream); --verbose shows them everywhere."""
    import logging

    from mlops.core import cli as cli_module

    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("MLOPS_VERBOSE", raising=False)
    seen = []

    @click.command("probe")
    def probe() -> None:
        logging.getLogger("mlops.probe").info("did the thing")
        seen.append(True)

    monkeypatch.setattr(cli_module.PartsGroup, "get_command", lambda self, ctx, name: probe)
    monkeypatch.setattr(cli_module.PartsGroup, "list_commands", lambda self, ctx: ["probe"])
    for argv, on_console in ((["probe"], False), (["--verbose", "probe"], True), (["serve"], True)):
        monkeypatch.delenv("MLOPS_VERBOSE", raising=False)
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
        assert ("did the thing" in capsys.readouterr().err) is on_console, argv
    assert len(seen) == 3
    assert (tmp_path / "logs" / "mlops.log").read_text().count("did the thing") == 3


def test_verbose_is_a_global_option():
    result = CliRunner().invoke(cli, ["--help"])
    assert "-v, --verbose" in result.output
