"""`mlops new-model` refuses every invalid answer before anything is written, naming the answer. In-process and
without Git: the answers are checked by the same functions the command calls (`resolve_answers`, which runs the
template's own pre-generation hook), and the command-line checks that come before the template is read go through
the command itself. The whole command (it reads the template's Git commit) runs in
tests/integration/test_new_model_cli.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlops.scaffold.cli import new_model
from mlops.scaffold.render import DEFAULT_TEMPLATE, GeneratorError, answer_problems, resolve_answers

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("answers", "named"),
    [
        ({"project_slug": "Churn"}, "project_slug 'Churn'"),
        ({"project_slug": "churn_model"}, "project_slug 'churn_model'"),
        ({"project_slug": "churn-model"}, "project_slug 'churn-model'"),
        ({"project_slug": "9lives"}, "project_slug '9lives'"),
        ({"project_slug": "mlops"}, "project_slug 'mlops' is reserved"),
        ({"project_slug": "json"}, "project_slug 'json' is reserved"),
        ({"aws_region": "us-east-9"}, "aws_region 'us-east-9'"),
        ({"problem_type": "clustering"}, "problem_type"),
        ({"serving_target": "lambda"}, "serving_target"),
        ({"owner": "nobody"}, "owner 'nobody'"),
        ({"data_bucket": "Bad_Bucket"}, "data_bucket 'Bad_Bucket'"),
    ],
)
def test_invalid_answer_is_refused_naming_it(answers, named):
    with pytest.raises(GeneratorError) as refused:
        resolve_answers(DEFAULT_TEMPLATE, {"project_slug": "churn", **answers}, no_input=True)
    assert named in str(refused.value)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["churn", "colour=blue"], "unknown answer 'colour'"),
        (["churn", "problem_type"], "'problem_type' is not key=value"),
        (["churn", "_mlops_template_commit=abc"], "unknown answer '_mlops_template_commit'"),
    ],
)
def test_a_malformed_or_unknown_answer_is_a_usage_error_and_nothing_is_written(tmp_path, args, named):
    out = tmp_path / "out"
    result = CliRunner().invoke(new_model, [*args, "--no-input", "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


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
