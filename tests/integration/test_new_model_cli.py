"""`mlops new-model` as a whole: it reads the template's Git commit (GitPython runs git), so this is an integration
test. An invalid answer is a usage error (exit 2) naming it, through either kind of check (a choice list, the
template's own hook), and nothing is written; an existing project folder is refused untouched. Every answer rule is
checked in-process in tests/unit/scaffold/test_answers.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["9lives"], "project_slug '9lives'"),  # a NAME no valid slug derives from
        (["churn", "aws_region=us-east-9"], "aws_region 'us-east-9'"),
        (["churn", "problem_type=clustering"], "problem_type"),
    ],
)
def test_invalid_answer_is_a_usage_error_and_nothing_is_written(tmp_path, args, named):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["new-model", *args, "--no-input", "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_existing_project_folder_is_refused_untouched(tmp_path):
    (tmp_path / "churn").mkdir()
    (tmp_path / "churn" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["new-model", "churn", "--no-input", "--output-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert [p.name for p in (tmp_path / "churn").iterdir()] == ["notes.txt"]
