"""The estimator params.yaml names learns the project's data well enough to clear the gate's floors, scored the
way the gate scores it, with one slice per value of each slice column params.yaml names."""

from pathlib import Path

import pytest
from mlops.training import stages
from mlops.training.params import LOWER_IS_BETTER, load_params

from {{ cookiecutter.__package }}.features import load_data
from {{ cookiecutter.__package }}.train import fit, main, split

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")
ROWS = 20_000  # enough to judge the floors; a unit test does not train on all of a large table


@pytest.fixture(scope="module")
def scored():
    train, test = split(load_data(ROWS), PARAMS)
    model = fit(train, PARAMS)
    return test, stages.score(model, test, PARAMS.data.target, PARAMS.data.slice_columns)


def test_model_clears_the_floors(scored):
    _, result = scored
    floors = PARAMS.gate.floors
    assert floors, "params.yaml sets no gate floors"
    for metric, floor in floors.items():
        measured = result[metric]
        if metric in LOWER_IS_BETTER:  # error metrics: the floor is a ceiling
            assert measured <= floor, f"{metric}={measured:.3f} is above the ceiling {floor}"
        else:
            assert measured >= floor, f"{metric}={measured:.3f} is below the floor {floor}"
    assert result[PARAMS.gate.primary_metric] is not None


def test_score_reports_overall_and_one_slice_per_value(scored):
    test, result = scored
    assert result["rows"] == len(test)
    expected = {f"{column}={value}" for column in PARAMS.data.slice_columns for value in test[column].unique()}
    assert set(result["slices"]) == expected
    for column in PARAMS.data.slice_columns:
        rows = [part["rows"] for name, part in result["slices"].items() if name.startswith(f"{column}=")]
        assert sum(rows) == len(test)


def test_unknown_stage_is_a_usage_error(capsys):
    assert main(["fit"]) == 2
    assert "usage:" in capsys.readouterr().err
