"""A model project generated before the platform moved into the `mlops` namespace imports `pipelines.*`; `mlops
template update` carries the rename into it, and its tests then pass against the platform as it is now."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import REPO_ROOT, run_mlops

pytestmark = [pytest.mark.integration, pytest.mark.bake]
TEMPLATE = "templates/model-project"
# the last commit whose template imported the old top-level packages (before the `mlops` namespace)
BEFORE_NAMESPACE = "550f0ce"


def _template_at(commit: str) -> bytes:
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO_ROOT, check=False)
    if found.returncode != 0:
        pytest.fail(f"commit {commit} is not in this clone (a shallow clone?): fetch the full history to run this")
    return subprocess.run(
        ["git", "archive", "--format=tar", commit, TEMPLATE], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout


def _commit(repo, message: str) -> str:
    repo.git.add(all=True)
    return repo.index.commit(message).hexsha


def _imports_of(project) -> str:
    return "\n".join(
        line
        for path in sorted(project.rglob("*.py"))
        for line in path.read_text().splitlines()
        if line.startswith(("from ", "import "))
    )


def test_update_moves_a_project_from_the_old_packages_to_the_mlops_namespace(tmp_path):
    import git

    platform = tmp_path / "platform"
    with tarfile.open(fileobj=io.BytesIO(_template_at(BEFORE_NAMESPACE))) as archive:
        archive.extractall(platform, filter="data")
    repo = git.Repo.init(platform, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "platform")
        config.set_value("user", "email", "platform@example.com")
    _commit(repo, "template before the namespace")
    made = run_mlops("new-model", "churn", "--no-input", "--output-dir", str(tmp_path / "out"),
                     "--template", str(platform / TEMPLATE), timeout=180)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "out" / "churn"
    assert "from pipelines" in _imports_of(project)  # what such a project looks like

    # the platform takes the namespaced template (its current one)
    subprocess.run(["rm", "-rf", str(platform / TEMPLATE)], check=True)
    subprocess.run(["cp", "-r", str(REPO_ROOT / TEMPLATE), str(platform / TEMPLATE)], check=True)
    _commit(repo, "template in the mlops namespace")

    result = run_mlops("template", "update", "--project", str(project), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    imports = _imports_of(project)
    assert "pipelines" not in imports and "services" not in imports, imports
    assert "from mlops.training" in imports

    # the project's own unit tests pass against this platform, run from the project's folder
    tests = subprocess.run([sys.executable, "-m", "pytest", "-m", "unit", "-q", "-p", "no:cacheprovider"],
                           cwd=project, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
