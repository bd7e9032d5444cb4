"""The central monitoring config through the real promtool: the rules load, their unit tests pass, and a config the
demo renders (and the committed prometheus.yml) is valid with every rule file. The static checks of the same files
are tests/unit/devstack/test_monitoring_rules.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlops.core.paths import PROMETHEUS_DIR
from mlops.devstack.demo.prometheus import render_config
from tests.support.monitoring import RULE_FILES, TEST_FILES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is not installed: run `make system-deps` (Debian package prometheus)"
    return path


def _run(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rules_are_valid(promtool):
    assert RULE_FILES
    _run(promtool, "check", "rules", *map(str, RULE_FILES))


@pytest.mark.parametrize("spec", TEST_FILES, ids=lambda p: p.name)
def test_rule_unit_tests_pass(promtool, spec):
    _run(promtool, "test", "rules", spec.name, cwd=spec.parent)  # exits non-zero on a failing case


def test_rendered_config_is_valid_and_loads_every_rule_file(promtool, tmp_path):
    targets = {"mlops-serve": ["127.0.0.1:18080"], "mlops-retrain": ["127.0.0.1:19108"], "mlops-drift": ["x:9109"]}
    config = render_config(tmp_path, targets, api_key="k-123")
    out = _run(promtool, "check", "config", str(config), cwd=tmp_path)
    assert all(rule_file.name in out for rule_file in RULE_FILES), out


def test_committed_config_is_valid(promtool):
    _run(promtool, "check", "config", "--syntax-only", "prometheus.yml")
