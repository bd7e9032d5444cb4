"""Shared fixtures. The local stack here is the same code `mlops stack up` runs: a real moto server and a real
MLflow server on free loopback ports, with state in a temporary directory so a developer's own stack is untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops.core.settings import Settings, get_settings
from mlops.devstack.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class StackHandle:
    settings: Settings
    env: dict[str, str]  # the endpoint environment the stack wrote to its env file

    def boto3_client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.settings.region,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> StackHandle:
    """Start the local stack once per test session, export its endpoints, stop it at the end."""
    state_dir = tmp_path_factory.mktemp("mlops-stack")
    settings = get_settings(state_dir=state_dir)
    stack = LocalStack(settings)
    try:
        endpoints, _ = stack.up()
    except Exception:
        stack.down()
        raise
    patch = pytest.MonkeyPatch()
    for key, value in endpoints.items():
        patch.setenv(key, value)
    patch.setenv("MLOPS_STATE_DIR", str(state_dir))
    yield StackHandle(settings, endpoints)
    patch.undo()
    stack.down()


def run_mlops(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run the real `mlops` console command in a subprocess, as a user would."""
    mlops = Path(sys.executable).parent / "mlops"
    return subprocess.run(
        [str(mlops), *args],
        env={**os.environ, **(env or {})},
        cwd=cwd or REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
