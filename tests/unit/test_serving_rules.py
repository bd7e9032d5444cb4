"""The Prometheus alert rules for serving parse and behave as their unit tests say (promtool)."""

import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "services/serving/deploy/prometheus"


@pytest.mark.unit
@pytest.mark.parametrize("args", [["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]])
def test_promtool(args):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run `make system-deps`"
    result = subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
