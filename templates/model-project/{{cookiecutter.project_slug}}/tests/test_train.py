"""The estimator params.yaml names learns the sample data well enough to clear the gate's floors."""

from pathlib import Path

import pytest
from mlops.training.params import LOWER_IS_BETTER, load_params

from {{ cookiecutter.project_slug }}.features import FEATURES, TARGET
from {{ cookiecutter.project_slug }}.train import fit_sample

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]


def test_params_are_valid_for_the_platform():
    params = load_params(ROOT / "params.yaml")
    assert params.model_name == "{{ cookiecutter.project_slug }}"
    assert params.data.raw == ["data/raw.csv"]


def test_model_clears_the_floors_on_sample_data():
    floors = load_params(ROOT / "params.yaml").gate.floors
    model, test = fit_sample()
    predicted = model.predict(test[FEATURES])
{%- if cookiecutter.problem_type == "binary_classification" %}
    from sklearn.metrics import accuracy_score, roc_auc_score

    measured = {
        "roc_auc": roc_auc_score(test[TARGET], model.predict_proba(test[FEATURES])[:, 1]),
        "accuracy": accuracy_score(test[TARGET], predicted),
    }
{%- elif cookiecutter.problem_type == "multiclass_classification" %}
    from sklearn.metrics import accuracy_score, f1_score

    measured = {
        "accuracy": accuracy_score(test[TARGET], predicted),
        "f1": f1_score(test[TARGET], predicted, average="macro"),
    }
{%- else %}
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    measured = {
        "r2": r2_score(test[TARGET], predicted),
        "rmse": mean_squared_error(test[TARGET], predicted) ** 0.5,
        "mae": mean_absolute_error(test[TARGET], predicted),
    }
{%- endif %}
    assert floors, "params.yaml sets no gate floors"
    for metric, floor in floors.items():
        if metric in LOWER_IS_BETTER:  # error metrics: the floor is a ceiling
            assert measured[metric] <= floor, f"{metric}={measured[metric]:.3f} is above the ceiling {floor}"
        else:
            assert measured[metric] >= floor, f"{metric}={measured[metric]:.3f} is below the floor {floor}"
{%- if cookiecutter.problem_type != "binary_classification" %}


def test_score_reports_overall_and_per_slice():
    from {{ cookiecutter.project_slug }}.train import score

    model, test = fit_sample()
    result = score(model, test, ["segment"])
    assert result["rows"] == len(test)
    assert set(result["slices"]) == {"segment=a", "segment=b", "segment=c"}
    assert sum(part["rows"] for part in result["slices"].values()) == len(test)


def test_unknown_stage_is_a_usage_error(capsys):
    from {{ cookiecutter.project_slug }}.train import main

    assert main(["fit"]) == 2
    assert "usage:" in capsys.readouterr().err
{%- endif %}
