"""`mlops new-model` refuses every invalid answer before anything is written, naming the answer. In-process and
without Git: the answers are checked by the same functions the command calls (`resolve_answers`, which runs the
template's own pre-generation hook), and the command-line checks that come before the template is read go through
the command itself. The whole command (it reads the template's Git commit) runs in
tests/integration/test_new_model_cli.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mlops.scaffold.cli import new_model
from mlops.scaffold.render import (
    DEFAULT_TEMPLATE,
    QUESTIONS,
    GeneratorError,
    answer_problems,
    resolve_answers,
    slug_of,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("answers", "named"),
    [
        ({"project_slug": "Churn"}, "project_slug 'Churn'"),
        ({"project_slug": "churn_model"}, "project_slug 'churn_model'"),
        ({"project_slug": "churn--model"}, "project_slug 'churn--model'"),
        ({"project_slug": "churn-"}, "project_slug 'churn-'"),
        ({"project_slug": "import"}, "project_slug 'import' is reserved"),
        ({"aws_account_id": "1234"}, "aws_account_id '1234' must be 12 digits"),
        ({"platform_source": "git"}, "platform_url '' must be the platform's Git URL"),
        (
            {"platform_source": "index", "platform_url": "https://pypi.example/simple", "platform_version": "latest"},
            "platform_version 'latest' must be the platform's package version",
        ),
        ({"platform_source": "path", "platform_url": "r5-mlops"}, "must be the absolute path of the platform checkout"),
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


def test_a_value_outside_its_choices_is_reported_with_the_rest():
    """cookiecutter stops at the first bad choice; every bad answer is named in one error instead."""
    bad = {"project_slug": "churn", "problem_type": "clustering", "serving_target": "lambda",
           "aws_region": "mars-1", "owner": "nobody"}  # fmt: skip
    with pytest.raises(GeneratorError) as refused:
        resolve_answers(DEFAULT_TEMPLATE, bad, no_input=True)
    message = str(refused.value)
    for named in ("problem_type 'clustering'", "serving_target 'lambda'", "aws_region 'mars-1'", "owner 'nobody'"):
        assert named in message


@pytest.mark.parametrize(
    ("name", "slug"),
    [("churn", "churn"), ("Churn Model", "churn-model"), ("churn_model", "churn-model"), (" fraud--v2 ", "fraud-v2")],
)
def test_the_slug_is_derived_from_the_name_hyphens_allowed(name, slug):
    assert slug_of(name) == slug
    answers = resolve_answers(DEFAULT_TEMPLATE, {"project_slug": slug_of(name)}, no_input=True)
    assert answer_problems(DEFAULT_TEMPLATE, answers) == []
    assert answers["__package"] == slug.replace("-", "_")


def test_only_what_cannot_be_derived_is_asked():
    asked = []

    def ask(key, default):
        asked.append(key)
        return default[-1] if isinstance(default, list) else default

    answers = resolve_answers(DEFAULT_TEMPLATE, {"project_slug": "churn", "owner": "a@b.io"}, False, ask=ask)
    assert asked == [q for q in QUESTIONS if q != "owner"]
    assert not {"project_slug", "project_name", "aws_region", "data_bucket", "platform_source"} & set(asked)
    assert answers["problem_type"] == "regression" and answers["serving_target"] == "asg"


def test_the_command_asks_the_questions_and_derives_the_rest(tmp_path, monkeypatch):
    """Through the command up to the answers: a bad typed answer and a bad KEY=VALUE are reported together."""
    monkeypatch.setattr("mlops.scaffold.render.template_version", _no_git)
    monkeypatch.setattr("mlops.scaffold.cli._git_email", lambda: None)  # no `git config` here: a unit test
    typed = "\n".join(["nobody", "", "", "", "12", "", ""]) + "\n"  # owner, 3 choices, account, 2 choices
    result = CliRunner().invoke(
        new_model, ["Churn Model", "aws_region=mars-1", "--output-dir", str(tmp_path)], input=typed
    )
    assert result.exit_code == 2, result.output
    for named in ("owner 'nobody'", "aws_account_id '12'", "aws_region 'mars-1'"):
        assert named in result.output
    assert result.output.count("  problem type") == 1 and "project slug" not in result.output
    assert not list(tmp_path.iterdir())


def _no_git(template_dir):
    from mlops.scaffold.render import TemplateVersion

    return TemplateVersion(str(template_dir), "templates/model-project", "0" * 40, False)
