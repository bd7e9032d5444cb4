"""The sample data is deterministic and matches what params.yaml declares."""

from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.project_slug }}.features import FEATURES, SLICES, TARGET, make_sample

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]


def test_sample_is_deterministic():
    assert make_sample(50, seed=3).equals(make_sample(50, seed=3))
    assert not make_sample(50, seed=3).equals(make_sample(50, seed=4))


def test_params_name_the_same_columns():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["data"]["features"] == FEATURES
    assert params["data"]["target"] == TARGET
    assert params["data"]["slice_columns"] == SLICES
    frame = make_sample(20)
    assert set(FEATURES + SLICES + [TARGET]) <= set(frame.columns)
    assert not frame[FEATURES].isna().any().any()


def test_target_has_the_problem_types_shape():
    labels = make_sample(600)[TARGET]
{%- if cookiecutter.problem_type == "binary_classification" %}
    assert set(labels.unique()) == {0, 1}
{%- elif cookiecutter.problem_type == "multiclass_classification" %}
    assert set(labels.unique()) == {0, 1, 2}
    assert labels.value_counts().min() > 100  # no class too rare to stratify and gate
{%- else %}
    assert labels.dtype.kind == "f" and labels.std() > 0.5
{%- endif %}
