{%- if cookiecutter.problem_type == "binary_classification" -%}
"""Training. `dvc repro` runs the platform's generic stages (`mlops pipeline prepare|train|evaluate`, see
dvc.yaml), which read params.yaml; this module gives the tests the same estimator on the sample data, so a
params change that cannot clear the gate's floors fails in seconds instead of after a pipeline run."""

from __future__ import annotations

from pathlib import Path

from mlops.training import stages
from mlops.training.project import Project

from {{ cookiecutter.project_slug }}.features import FEATURES, TARGET, make_sample

ROOT = Path(__file__).resolve().parents[2]


def fit_sample(rows: int = 600, seed: int = 0):
    """Fit this project's estimator (from params.yaml) on sample rows; returns (model, held-out frame)."""
    frame = make_sample(rows, seed)
    train, test = frame.iloc[: rows * 3 // 4], frame.iloc[rows * 3 // 4 :]
    model = stages.build_estimator(Project(ROOT)).fit(train[FEATURES], train[TARGET])
    return model, test
{%- else -%}
"""Training stages for {{ cookiecutter.problem_type.replace("_", " ") }}: `python -m {{ cookiecutter.project_slug }}.train prepare|train|evaluate`,
run by `dvc repro` (see dvc.yaml). They read params.yaml through the platform's validation and write the same
outputs as the platform's generic stages (data/prepared, model/, metrics.json), so `mlops pipeline register`
records lineage and `mlops serve` serves the model unchanged."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

{% if cookiecutter.problem_type == "regression" -%}
import numpy as np
{% endif -%}
import pandas as pd
from mlops.core.errors import MlopsError
from mlops.training import stages
from mlops.training.project import Project

from {{ cookiecutter.project_slug }}.features import FEATURES, TARGET, make_sample

ROOT = Path(__file__).resolve().parents[2]


def build_estimator(algorithm: str, seed: int, n_estimators: int = 50, max_depth: int | None = 6):
    """`random_forest`, or `logistic_regression` for the linear family{% if cookiecutter.problem_type == "regression" %} (Ridge for regression){% endif %}."""
{%- if cookiecutter.problem_type == "multiclass_classification" %}
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(random_state=seed, max_iter=1000)
{%- else %}
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1)
    from sklearn.linear_model import Ridge

    return Ridge(random_state=seed)
{%- endif %}


def _estimator(project: Project):
    p = project.params.train
    return build_estimator(p.algorithm, p.seed, p.n_estimators, p.max_depth)


def score(model, frame: pd.DataFrame, slices: list[str]) -> dict:
    """Overall and per-slice metrics, in the shape `mlops pipeline register` logs and gates."""
{%- if cookiecutter.problem_type == "multiclass_classification" %}
    from sklearn.metrics import accuracy_score, f1_score

    def metrics(part: pd.DataFrame) -> dict[str, float]:
        predicted = model.predict(part[FEATURES])
        return {
            "accuracy": float(accuracy_score(part[TARGET], predicted)),
            "f1": float(f1_score(part[TARGET], predicted, average="macro", zero_division=0)),
        }
{%- else %}
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    def metrics(part: pd.DataFrame) -> dict[str, float]:
        predicted = model.predict(part[FEATURES])
        return {
            "r2": float(r2_score(part[TARGET], predicted)),
            "rmse": float(np.sqrt(mean_squared_error(part[TARGET], predicted))),
            "mae": float(mean_absolute_error(part[TARGET], predicted)),
        }
{%- endif %}

    result = {**metrics(frame), "rows": len(frame), "slices": {}}
    for column in slices:
        for value, part in frame.groupby(column, sort=True):
            result["slices"][f"{column}={value}"] = {**metrics(part), "rows": len(part)}
    return result


def prepare(project: Project) -> None:
    from sklearn.model_selection import train_test_split

    params = project.params
    project.verify_datasets()  # the exact data version the .dvc files name
    frame = pd.concat([pd.read_csv(project.path(r)) for r in params.data.raw], ignore_index=True)
    missing = [c for c in [params.data.target, *params.data.features, *params.data.slice_columns] if c not in frame]
    if missing:
        raise MlopsError(f"input data lacks the columns {missing} named in params.yaml")
    if frame[params.data.features].isna().any().any():
        raise MlopsError(f"feature columns {params.data.features} contain missing values")
    train, test = train_test_split(
        frame,
        test_size=params.prepare.test_size,
        random_state=params.prepare.seed,
{%- if cookiecutter.problem_type == "multiclass_classification" %}
        stratify=frame[params.data.target],
{%- endif %}
    )
    project.path(stages.PREPARED_DIR).mkdir(parents=True, exist_ok=True)
    train.to_parquet(project.path(stages.TRAIN_FILE), index=False)
    test.to_parquet(project.path(stages.TEST_FILE), index=False)
    print(f"prepared {len(train)} training and {len(test)} held-out rows")


def train(project: Project) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    params = project.params
    frame = pd.read_parquet(project.path(stages.TRAIN_FILE))
    features = frame[params.data.features]
    model = _estimator(project).fit(features, frame[params.data.target])
    shutil.rmtree(project.path(stages.MODEL_DIR), ignore_errors=True)
    mlflow.sklearn.save_model(
        model,
        str(project.path(stages.MODEL_DIR)),
        signature=infer_signature(features, model.predict(features)),
        input_example=features.head(5),
        serialization_format="skops",
        # skops loads only allow-listed types; a forest's trees are sklearn.tree._tree.Tree objects we trained
        # ourselves in this stage, so exactly that type is trusted (the platform's list, nothing added)
        skops_trusted_types=stages.SKOPS_TRUSTED_TYPES,
        pip_requirements=stages.pip_requirements(),
    )
    print(f"model saved to {stages.MODEL_DIR}/")


def evaluate(project: Project) -> None:
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(str(project.path(stages.MODEL_DIR)))
    test = pd.read_parquet(project.path(stages.TEST_FILE))
    result = score(model, test, project.params.data.slice_columns)
    project.path(stages.METRICS_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "slices"}, sort_keys=True))


def fit_sample(rows: int = 600, seed: int = 0):
    """Fit this project's estimator (from params.yaml) on sample rows; returns (model, held-out frame)."""
    frame = make_sample(rows, seed)
    train_part, test = frame.iloc[: rows * 3 // 4], frame.iloc[rows * 3 // 4 :]
    return _estimator(Project(ROOT)).fit(train_part[FEATURES], train_part[TARGET]), test


STAGES = {"prepare": prepare, "train": train, "evaluate": evaluate}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in STAGES:
        print(f"usage: python -m {{ cookiecutter.project_slug }}.train {'|'.join(STAGES)}", file=sys.stderr)
        return 2
    try:
        STAGES[argv[0]](Project(Path.cwd()))
    except MlopsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
{%- endif %}
