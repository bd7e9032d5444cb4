"""Training: `python -m {{ cookiecutter.__package }}.train prepare|train|evaluate`, the stages `dvc repro` runs
(dvc.yaml; they depend on this package, so a code change retrains). They read params.yaml through the platform's
validation and write what `mlops pipeline register` expects: data/prepared/, model/ (an MLflow model) and
metrics.json, scored by the platform's own scoring (`mlops.training.stages.score`), which the gate uses too.

This is the team's code: change the estimator, add feature engineering; keep the three outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from mlops.core.errors import MlopsError
from mlops.training import stages
from mlops.training.params import Params
from mlops.training.project import Project

PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
CLASSIFIER = PROBLEM_TYPE != "regression"


def build_estimator(params: Params):
    """`random_forest`, or the linear family{% if cookiecutter.problem_type == "regression" %} (Ridge){% else %} (logistic regression){% endif %}; seeded, single-threaded."""
    p = params.train
{%- if cookiecutter.problem_type == "regression" %}
    if p.algorithm == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=p.n_estimators, max_depth=p.max_depth, random_state=p.seed, n_jobs=1)
    from sklearn.linear_model import Ridge

    return Ridge(random_state=p.seed)
{%- else %}
    if p.algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=p.n_estimators, max_depth=p.max_depth, random_state=p.seed, n_jobs=1)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(random_state=p.seed, max_iter=1000)
{%- endif %}


def check(frame: pd.DataFrame, params: Params) -> None:
    """The columns params.yaml names are there, the features complete, the target fit for the problem type."""
    needed = [params.data.target, *params.data.features, *params.data.slice_columns]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise MlopsError(f"the data lacks the columns {missing} that params.yaml names")
    if frame[params.data.features].isna().any().any():
        raise MlopsError(f"feature columns {params.data.features} contain missing values")
    labels = frame[params.data.target]
{%- if cookiecutter.problem_type == "binary_classification" %}
    if not labels.isin([0, 1]).all() or labels.nunique() != 2:
        raise MlopsError(f"target {params.data.target!r} must hold both classes 0 and 1 and nothing else")
{%- elif cookiecutter.problem_type == "multiclass_classification" %}
    if labels.nunique() < 3:
        raise MlopsError(f"target {params.data.target!r} has {labels.nunique()} classes; multiclass needs 3 or more")
{%- else %}
    if not pd.api.types.is_numeric_dtype(labels) or labels.nunique() < 2:
        raise MlopsError(f"target {params.data.target!r} must be numeric and vary (regression)")
{%- endif %}


def split(frame: pd.DataFrame, params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and held-out rows, seeded; classes keep their shares in both."""
    from sklearn.model_selection import train_test_split

    stratify = frame[params.data.target] if CLASSIFIER else None
    train, test = train_test_split(
        frame, test_size=params.prepare.test_size, random_state=params.prepare.seed, stratify=stratify
    )
    return train, test


def fit(frame: pd.DataFrame, params: Params):
    return build_estimator(params).fit(frame[params.data.features], frame[params.data.target])


def prepare(project: Project) -> None:
    params = project.params
    project.verify_datasets()  # exactly the data version the .dvc files name
    frame = pd.concat([stages.read_table(project, r) for r in params.data.raw], ignore_index=True)
    check(frame, params)
    train_part, test = split(frame, params)
    project.path(stages.PREPARED_DIR).mkdir(parents=True, exist_ok=True)
    train_part.to_parquet(project.path(stages.TRAIN_FILE), index=False)
    test.to_parquet(project.path(stages.TEST_FILE), index=False)
    print(f"prepared {len(train_part)} training and {len(test)} held-out rows")


def train(project: Project) -> None:
    params = project.params
    frame = pd.read_parquet(project.path(stages.TRAIN_FILE))
    stages.save_model(project, fit(frame, params), frame[params.data.features])
    print(f"{params.train.algorithm} fitted on {len(frame)} rows, saved to {stages.MODEL_DIR}/")


def evaluate(project: Project) -> None:
    params = project.params
    model = stages.load_model(str(project.path(stages.MODEL_DIR)))
    test = pd.read_parquet(project.path(stages.TEST_FILE))
    result = stages.score(model, test, params.data.target, params.data.slice_columns)
    project.path(stages.METRICS_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "slices"}, sort_keys=True))


STAGES = {"prepare": prepare, "train": train, "evaluate": evaluate}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in STAGES:
        print(f"usage: python -m {{ cookiecutter.__package }}.train {'|'.join(STAGES)}", file=sys.stderr)
        return 2
    try:
        STAGES[argv[0]](Project(Path.cwd()))
    except MlopsError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
