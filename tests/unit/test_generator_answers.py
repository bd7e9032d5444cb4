"""`mlops new-model` refuses every invalid answer before anything is written, naming the answer."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.scaffold.render import DEFAULT_TEMPLATE, answer_problems, resolve_answers

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["Churn"], "project_slug 'Churn'"),
        (["churn_model"], "project_slug 'churn_model'"),
        (["churn-model"], "project_slug 'churn-model'"),
        (["9lives"], "project_slug '9lives'"),
        (["mlops"], "project_slug 'mlops' is reserved"),
        (["json"], "project_slug 'json' is reserved"),
        (["churn", "aws_region=us-east-9"], "aws_region 'us-east-9'"),
        (["churn", "problem_type=clustering"], "problem_type"),
        (["churn", "serving_target=lambda"], "serving_target"),
        (["churn", "owner=nobody"], "owner 'nobody'"),
        (["churn", "data_bucket=Bad_Bucket"], "data_bucket 'Bad_Bucket'"),
        (["churn", "colour=blue"], "unknown answer 'colour'"),
        (["churn", "problem_type"], "'problem_type' is not key=value"),
        (["churn", "_mlops_template_commit=abc"], "unknown answer '_mlops_template_commit'"),
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


def test_defaults_are_valid_and_overrides_apply():
    answers = resolve_answers(DEFAULT_TEMPLATE, {"project_slug": "churn", "serving_target": "asg"}, no_input=True)
    assert answers["project_name"] == "churn"
    assert answers["serving_target"] == "asg"
    assert answers["problem_type"] == "binary_classification"
    assert answer_problems(DEFAULT_TEMPLATE, answers) == []


def test_every_problem_is_reported_at_once():
    answers = resolve_answers(DEFAULT_TEMPLATE, {"project_slug": "churn"}, no_input=True)
    problems = answer_problems(DEFAULT_TEMPLATE, {**answers, "aws_region": "mars-1", "owner": "x"})
    assert len(problems) == 2
