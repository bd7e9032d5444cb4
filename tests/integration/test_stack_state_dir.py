"""The local stack is found from any directory: its state lives in the user's state dir (MLOPS_HOME here), not in
the directory a command starts in. `mlops stack status` from a model project's folder sees the running stack, and
`mlops stack env` hands its endpoints to tools that are not `mlops` (dvc, mlflow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def mlops(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "mlops"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_status_and_env_from_another_directory(local_stack, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_STATE_DIR"}
    env["MLOPS_HOME"] = str(local_stack.settings.state_dir)
    elsewhere = tmp_path / "models" / "churn"
    elsewhere.mkdir(parents=True)
    status = mlops("stack", "status", cwd=elsewhere, env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("answers") == 2 and "stopped" not in status.stdout
    exported = mlops("stack", "env", cwd=elsewhere, env=env)
    assert exported.returncode == 0, exported.stderr
    assert f"export MLFLOW_TRACKING_URI={local_stack.env['MLFLOW_TRACKING_URI']}" in exported.stdout.splitlines()
    assert not list(elsewhere.iterdir())  # nothing written where the command ran
