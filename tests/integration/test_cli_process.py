"""The installed `mlops` console script, run as a user runs it: what only a real process shows, its exit codes and
what reaches stderr. (The same behaviours in-process: tests/unit/core/test_cli.py and the parts' CLI unit tests.)"""

import pandas as pd
import pytest

from tests.conftest import run_mlops

pytestmark = pytest.mark.integration


def test_a_usage_error_prints_usage_on_stderr_and_exits_2():
    result = run_mlops("no-such-command")
    assert result.returncode == 2
    assert "Usage:" in result.stderr and "'no-such-command'" in result.stderr
    assert result.stdout == ""


def test_a_bad_setting_exits_2_before_any_command_runs():
    result = run_mlops("stack", "status", env={"MLOPS_MOTO_PORT": "abc"})
    assert result.returncode == 2
    assert "MLOPS_MOTO_PORT" in result.stderr and "'abc'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_error_is_one_message_on_stderr_exit_1_and_no_traceback(tmp_path):
    current = tmp_path / "cur.parquet"
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(current)
    absent = tmp_path / "absent.json"
    result = run_mlops("drift", "check", "--profile", str(absent), "--current", str(current),
                       "--json", str(tmp_path / "o.json"))  # fmt: skip
    assert result.returncode == 1
    assert "absent.json" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
