"""`mlops template update` carries a template change into a generated project that has its own edits: clean
changes merge, a clash is reported as a conflict with both sides kept, nothing is silently overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_mlops

pytestmark = [pytest.mark.integration, pytest.mark.bake]
TEMPLATE = "templates/model-project"


def _commit(repo, message: str) -> str:
    repo.git.add(all=True)
    return repo.index.commit(message).hexsha


@pytest.fixture
def platform_and_project(tmp_path):
    """A platform repo holding a copy of the template, and a project generated from its first commit."""
    import git

    platform = tmp_path / "platform"
    shutil.copytree(REPO_ROOT / TEMPLATE, platform / TEMPLATE)
    repo = git.Repo.init(platform, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "platform")
        config.set_value("user", "email", "platform@example.com")
    first = _commit(repo, "template v1")
    made = run_mlops("new-model", "fraud", "--no-input", "--output-dir", str(tmp_path / "out"),
                     "--template", str(platform / TEMPLATE), "serving_target=asg", timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "out" / "fraud"
    record = json.loads((project / ".mlops-template.json").read_text())
    assert record["commit"] == first and record["source"] == str(platform)
    return repo, project


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_update_merges_clean_changes_and_reports_the_conflict(platform_and_project):
    import git

    platform, project = platform_and_project
    team = git.Repo(project)
    # the team's edits: a README note at the end, more trees, a file of their own
    (project / "README.md").write_text((project / "README.md").read_text() + "\nOn call: #fraud-team\n")
    _edit(project / "params.yaml", "n_estimators: 30", "n_estimators: 80")
    (project / "NOTES.md").write_text("ours\n")
    _commit(team, "team edits")

    # the platform's template change: a new first README line, a different tree count, a new file, a Makefile fix
    slug_dir = Path(platform.working_dir) / TEMPLATE / "{{cookiecutter.project_slug}}"
    _edit(slug_dir / "README.md", "# {{ cookiecutter.project_name }}\n", "# {{ cookiecutter.project_name }}\n\n"
          "Platform notice: template v2.\n")  # fmt: skip
    _edit(slug_dir / "params.yaml", "n_estimators: 30", "n_estimators: 40")
    _edit(slug_dir / "Makefile", "ENV ?= dev", "ENV ?= staging")
    (slug_dir / "CHANGELOG.md").write_text("# {{ cookiecutter.project_slug }} changelog\n")
    new = _commit(platform, "template v2")

    result = run_mlops("template", "update", "--project", str(project), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CONFLICT params.yaml" in result.stdout
    assert "1 conflict(s)" in result.stderr and "params.yaml" in result.stderr
    assert "merged   README.md" in result.stdout
    assert "updated  Makefile" in result.stdout
    assert "added    CHANGELOG.md" in result.stdout

    params = (project / "params.yaml").read_text()
    assert "<<<<<<< project" in params and "n_estimators: 80" in params and "n_estimators: 40" in params
    readme = (project / "README.md").read_text()
    assert "Platform notice: template v2." in readme and "On call: #fraud-team" in readme
    assert "ENV ?= staging" in (project / "Makefile").read_text()
    assert (project / "CHANGELOG.md").read_text() == "# fraud changelog\n"
    assert (project / "NOTES.md").read_text() == "ours\n"
    assert (project / "deploy/envs/dev.mk").is_file() and not (project / "deploy/k8s").exists()  # an asg project
    assert json.loads((project / ".mlops-template.json").read_text())["commit"] == new
    # left for review: nothing was committed on the team's behalf
    assert team.head.commit.message == "team edits" and team.is_dirty()


def test_update_refuses_a_dirty_project_and_is_idempotent_when_current(platform_and_project):
    _, project = platform_and_project
    same = run_mlops("template", "update", "--project", str(project), timeout=120)
    assert same.returncode == 0 and "nothing to do" in same.stdout
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# wip\n")
    dirty = run_mlops("template", "update", "--project", str(project), timeout=120)
    assert dirty.returncode == 1
    assert "uncommitted changes" in dirty.stderr and "Traceback" not in dirty.stderr
    assert (project / "params.yaml").read_text().endswith("# wip\n")


def test_update_outside_a_generated_project_says_so(tmp_path):
    result = run_mlops("template", "update", "--project", str(tmp_path), timeout=60)
    assert result.returncode == 1
    assert ".mlops-template.json" in result.stderr and "Traceback" not in result.stderr
