"""The data matches what params.yaml declares: every column it names is there, the features are complete and the
target fits the problem type. Columns and slices come from params.yaml, so these hold for the team's own data as
for the generated sample."""

from pathlib import Path

import pytest
import yaml
from mlops.core.data_classes import DATA_CLASSES, classes_for, parse_classes
from mlops.training.params import load_params

from {{ cookiecutter.__package }}.features import FEATURES, SLICES, TARGET, load_data, make_sample

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]


def test_params_are_valid_for_the_platform_and_name_this_model():
    params = load_params(ROOT / "params.yaml")
    assert params.model_name == "{{ cookiecutter.project_slug }}"
    assert params.data.features == FEATURES and params.data.target == TARGET
    assert params.data.slice_columns == SLICES
    assert not set(SLICES) & {TARGET}, "a slice column cannot be the target"


def test_every_column_has_a_data_class_and_every_class_a_column():
    """params.yaml's data.classes parse (a bad class is named with its column), name only columns params.yaml uses,
    and give every input a class: declared, or inferred from its name (email, phone, ... are personal)."""
    declared = parse_classes(yaml.safe_load((ROOT / "params.yaml").read_text())["data"].get("classes"),
                             "params.yaml data.classes")  # fmt: skip
    columns = [*FEATURES, TARGET, *SLICES]
    stale = sorted(set(declared) - set(columns))
    assert not stale, f"params.yaml data.classes names columns the project does not use: {stale}"
    assert set(classes_for(columns, declared).values()) <= set(DATA_CLASSES)


def test_the_data_has_every_column_params_names():
    frame = load_data()
    missing = [c for c in [*FEATURES, TARGET, *SLICES] if c not in frame.columns]
    assert not missing, f"params.yaml names columns the data does not have: {missing}"
    assert not frame[FEATURES].isna().any().any(), "feature columns have missing values"
    assert len(frame) >= 20, "too few rows to split into training and held-out data"


def test_target_has_the_problem_types_shape():
    labels = load_data()[TARGET]
{%- if cookiecutter.problem_type == "binary_classification" %}
    assert set(labels.unique()) == {0, 1}
{%- elif cookiecutter.problem_type == "multiclass_classification" %}
    assert labels.nunique() >= 3
    assert labels.value_counts().min() >= 4, "a class too rare to stratify and gate"
{%- else %}
    assert labels.dtype.kind in "if" and labels.std() > 0
{%- endif %}


def test_sample_is_deterministic():
    assert make_sample(50, seed=3).equals(make_sample(50, seed=3))
    assert not make_sample(50, seed=3).equals(make_sample(50, seed=4))
