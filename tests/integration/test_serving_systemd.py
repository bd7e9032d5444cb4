"""The serving host's systemd unit passes `systemd-analyze verify` (with the venv the user data installs on the
host replaced by this checkout's, which exists here). What the unit runs is checked statically in
tests/unit/serving/test_packaging.py."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.systemd import SERVE_UNIT, exec_start

pytestmark = pytest.mark.integration


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    unit = SERVE_UNIT.read_text()
    installed_mlops = exec_start(unit)[0]
    local = unit.replace(installed_mlops, str(Path(sys.executable).parent / "mlops"))
    path = tmp_path / SERVE_UNIT.name
    path.write_text(local)
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert SERVE_UNIT.name not in result.stderr, result.stderr
