"""The layer contract in pyproject.toml is enforced: the tree as it is passes `lint-imports` (run by `make lint`),
and one deliberate upward import makes it fail, naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration
SOURCE_ROOTS = ["core/src", "pipelines/src", "services/serving/src", "services/drift/src", "services/retraining/src",
                "tools/src"]  # fmt: skip


def _copy_tree(tmp_path: Path) -> list[Path]:
    roots = []
    for relative in SOURCE_ROOTS:
        dest = tmp_path / relative
        shutil.copytree(REPO_ROOT / relative, dest, ignore=shutil.ignore_patterns("__pycache__"))
        roots.append(dest)
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return roots


def _lint_imports(tmp_path: Path, roots: list[Path]) -> subprocess.CompletedProcess[str]:
    # the copies come first on the path, so they are what the checker reads, not the installed parts
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(r) for r in roots)}
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_the_tree_keeps_its_layers(tmp_path):
    result = _lint_imports(tmp_path, _copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_fails_the_check(tmp_path):
    roots = _copy_tree(tmp_path)
    settings = tmp_path / "core/src/mlops/core/settings.py"
    settings.write_text(settings.read_text() + "\nfrom mlops.serving import app  # a core module reaching up\n")
    result = _lint_imports(tmp_path, roots)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "mlops.core.settings -> mlops.serving.app" in result.stdout


def test_siblings_in_one_layer_may_not_import_each_other(tmp_path):
    roots = _copy_tree(tmp_path)
    check = tmp_path / "services/drift/src/mlops/drift/check.py"
    check.write_text(check.read_text() + "\nfrom mlops.serving import inputs  # drift reaching sideways\n")
    result = _lint_imports(tmp_path, roots)
    assert result.returncode != 0 and "mlops.drift.check -> mlops.serving.inputs" in result.stdout
