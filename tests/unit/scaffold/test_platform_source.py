"""Where a generated project installs the platform from (answer `platform_source`): its pyproject.toml names every
part the make targets run, from exactly one pinned source, rendered in-process here (the whole generation, its
uv.lock and `make test` on a clean environment run in tests/integration/test_generator_bake.py)."""

import json
import tomllib

import pytest
from cookiecutter.environment import StrictEnvironment

from mlops.scaffold.platform import PARTS, derived_answers, platform_version
from mlops.scaffold.render import DEFAULT_TEMPLATE, resolve_answers

pytestmark = pytest.mark.unit
PROJECT = DEFAULT_TEMPLATE / "{{cookiecutter.project_slug}}"


def _pyproject(**answers) -> dict:
    resolved = resolve_answers(DEFAULT_TEMPLATE, {"project_slug": "churn-model", **answers}, no_input=True)
    text = StrictEnvironment(keep_trailing_newline=True).from_string((PROJECT / "pyproject.toml").read_text())
    return tomllib.loads(text.render(cookiecutter=resolved))


def test_the_template_default_version_is_the_platforms():
    assert json.loads((DEFAULT_TEMPLATE / "cookiecutter.json").read_text())["platform_version"] == platform_version()


@pytest.mark.parametrize(
    ("answers", "source", "pin"),
    [
        ({}, {"path": "wheels/mlops_core-{v}-py3-none-any.whl"}, "=={v}"),
        ({"platform_source": "path", "platform_url": "/src/r5-mlops"}, {"path": "/src/r5-mlops/core", "editable": True},
         ""),
        ({"platform_source": "git", "platform_url": "https://git.acme.io/ml/r5-mlops.git",
          "platform_version": "v1.4.0"},
         {"git": "https://git.acme.io/ml/r5-mlops.git", "tag": "v1.4.0", "subdirectory": "core"}, ""),
        ({"platform_source": "index", "platform_url": "https://pypi.acme.io/simple", "platform_version": "1.4.0"},
         {"index": "mlops-platform"}, "==1.4.0"),
    ],
)  # fmt: skip
def test_each_source_pins_every_part(answers, source, pin):
    version = platform_version()
    pyproject = _pyproject(**answers)
    dependencies = pyproject["project"]["dependencies"]
    assert dependencies == [f"{name}{pin.format(v=version)}" for name in PARTS]
    sources = pyproject["tool"]["uv"]["sources"]
    assert set(sources) == set(PARTS)
    assert sources["mlops-core"] == {k: v.format(v=version) if isinstance(v, str) else v for k, v in source.items()}
    if answers.get("platform_source") == "index":
        (index,) = pyproject["tool"]["uv"]["index"]
        assert index == {"name": "mlops-platform", "url": "https://pypi.acme.io/simple", "explicit": True}


def test_a_local_source_derives_the_modules_and_serving_base_of_this_checkout(tmp_path):
    keys = json.loads((DEFAULT_TEMPLATE / "cookiecutter.json").read_text())
    derived = derived_answers(list(keys), {}, tmp_path / "out" / "churn")
    root = DEFAULT_TEMPLATE.parents[1]
    assert derived["platform_version"] == platform_version()
    assert derived["terraform_modules_source"] == str(root / "terraform/modules")
    base = tmp_path / "out" / "churn" / "deploy/k8s/base"
    assert (base / derived["kustomize_base"]).resolve() == (root / "services/serving/k8s/base").resolve()
    given = {"platform_source": "git", "platform_url": "https://git.acme.io/r5.git", "kustomize_base": "x"}
    assert derived_answers(list(keys), given, tmp_path) == {}  # git: the URL's own modules; given answers stand
