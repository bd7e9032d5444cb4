"""The DVC stages every model project runs: prepare -> train -> evaluate.

Each stage reads `params.yaml` and writes to a conventional path below the project, which the project's
`dvc.yaml` declares as the stage's outs; the stage commands are `mlops pipeline <stage> --project . --params
params.yaml`, so a generated project's dvc.yaml needs nothing model-specific.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Iterator

import numpy as np
import pandas as pd

from mlops.core.errors import MlopsError
from mlops.training.project import Project

PREPARED_DIR = "data/prepared"
TRAIN_FILE = f"{PREPARED_DIR}/train.parquet"
TEST_FILE = f"{PREPARED_DIR}/test.parquet"
MODEL_DIR = "model"
METRICS_FILE = "metrics.json"

# MLflow 3.17 serialises sklearn models with skops, which refuses to load any type not on an allow-list.
# A random forest's trees are `sklearn.tree._tree.Tree` objects: we trust exactly that type, because the model
# is one we trained ourselves in this stage; nothing else is added to the list.
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]

log = logging.getLogger(__name__)


class InputsMismatch(MlopsError):
    """A model's input columns are not in the data it is asked to score (a new schema: the team's own data)."""


def pip_requirements() -> list[str]:
    """Pinned from this environment: spares MLflow inferring them, which loads the model in a subprocess."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")]


@contextlib.contextmanager
def quiet_mlflow_environment() -> Iterator[None]:
    """MLflow warns on every save that it cannot find pip (uv environments have none) and writes `pip` unpinned
    into conda.yaml. The pinned pip_requirements are what installs the model, so that warning is noise: held back."""
    logger = logging.getLogger("mlflow.utils.environment")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def save_model(project: Project, model, features: pd.DataFrame) -> None:
    """Save a fitted scikit-learn model to `model/` as an MLflow model: signature and input example from `features`,
    skops serialisation, pinned requirements. Every stage (the platform's and a project's own) saves through here."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    shutil.rmtree(project.path(MODEL_DIR), ignore_errors=True)
    with quiet_mlflow_environment():
        mlflow.sklearn.save_model(
            model,
            str(project.path(MODEL_DIR)),
            signature=infer_signature(features, model.predict(features)),
            input_example=features.head(5),
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,  # see the comment on SKOPS_TRUSTED_TYPES
            pip_requirements=pip_requirements(),
        )


def read_table(project: Project, relative: str) -> pd.DataFrame:
    """A project's CSV or Parquet file; a file that does not parse is named in the error."""
    path = project.path(relative)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path)
    except Exception as exc:  # any parser error: the file is corrupt, say which file
        raise MlopsError(f"cannot read {relative}: {exc}") from None
    raise MlopsError(f"{relative}: unsupported data format {path.suffix!r} (expected .csv or .parquet)")


_read_table = read_table  # the name register.py uses


def prepare(project: Project) -> dict[str, int]:
    """Check the data version, validate the columns, split into train and held-out test sets (seeded)."""
    from sklearn.model_selection import train_test_split

    params = project.params
    project.verify_datasets()
    frame = pd.concat([read_table(project, relative) for relative in params.data.raw], ignore_index=True)
    needed = [params.data.target, *params.data.features, *params.data.slice_columns]
    missing = [column for column in dict.fromkeys(needed) if column not in frame.columns]
    if missing:
        raise MlopsError(f"input data lacks the columns {missing} named in {project.params_path.name}")
    labels = frame[params.data.target]
    if not labels.isin([0, 1]).all() or labels.nunique() != 2:
        raise MlopsError(f"target column {params.data.target!r} must hold both classes 0 and 1 and nothing else")
    if frame[params.data.features].isna().any().any():
        raise MlopsError(f"feature columns {params.data.features} contain missing values")
    train, test = train_test_split(
        frame, test_size=params.prepare.test_size, random_state=params.prepare.seed, stratify=labels
    )
    project.path(PREPARED_DIR).mkdir(parents=True, exist_ok=True)
    train.to_parquet(project.path(TRAIN_FILE), index=False)
    test.to_parquet(project.path(TEST_FILE), index=False)
    log.info("prepared", extra={"train_rows": len(train), "test_rows": len(test)})
    return {"train_rows": len(train), "test_rows": len(test)}


def build_estimator(project: Project):
    p = project.params.train
    if p.algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=p.n_estimators, max_depth=p.max_depth, random_state=p.seed, n_jobs=1)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(random_state=p.seed, max_iter=1000)


def train(project: Project) -> None:
    """Fit with fixed seeds and save an MLflow model (signature and input example included) to `model/`."""
    params = project.params
    frame = read_table(project, TRAIN_FILE)
    features = frame[params.data.features]
    np.random.seed(params.train.seed)  # noqa: NPY002 - belt and braces for any code that uses the global RNG
    model = build_estimator(project).fit(features, frame[params.data.target])
    save_model(project, model, features)
    log.info("trained", extra={"algorithm": params.train.algorithm, "rows": len(frame)})


def load_model(uri: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(uri)


def score(model, frame: pd.DataFrame, target: str, slice_columns: list[str]) -> dict:
    """Metrics for the model's problem type, overall and per slice value; the model's own feature list picks the
    columns. Binary: roc_auc, accuracy, f1. Multiclass: accuracy, macro f1, one-vs-rest roc_auc. Regression (an
    estimator without predict_proba): r2, rmse, mae."""
    features = list(getattr(model, "feature_names_in_", []))
    missing = [f for f in features if f not in frame.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise InputsMismatch(f"held-out data lacks the model's input columns {shown}")
    if not hasattr(model, "predict_proba"):
        metrics = _regression_metrics
    elif len(getattr(model, "classes_", [])) > 2:
        metrics = _multiclass_metrics
    else:
        metrics = _binary_metrics

    slices: dict[str, dict[str, float | None]] = {}
    result = {**metrics(model, part=frame, features=features, target=target), "rows": len(frame), "slices": slices}
    for column in slice_columns:
        for value, part in frame.groupby(column, sort=True):
            scored = metrics(model, part=part, features=features, target=target)
            slices[f"{column}={value}"] = {**scored, "rows": len(part)}
    return result


def _binary_metrics(model, part: pd.DataFrame, features: list[str], target: str) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y = part[target].to_numpy()
    proba = model.predict_proba(part[features])[:, 1]
    predicted = (proba >= 0.5).astype(int)
    both = len(np.unique(y)) == 2  # AUC is undefined on a one-class slice
    return {
        "roc_auc": float(roc_auc_score(y, proba)) if both else None,
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
    }


def _multiclass_metrics(model, part: pd.DataFrame, features: list[str], target: str) -> dict[str, float | None]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y = part[target].to_numpy()
    proba = model.predict_proba(part[features])
    predicted = model.classes_[proba.argmax(axis=1)]
    every_class = set(np.unique(y)) == set(model.classes_)  # one-vs-rest AUC needs each class present
    auc = roc_auc_score(y, proba, multi_class="ovr", labels=model.classes_) if every_class else None
    return {
        "roc_auc": None if auc is None else float(auc),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, average="macro", zero_division=0)),
    }


def _regression_metrics(model, part: pd.DataFrame, features: list[str], target: str) -> dict[str, float | None]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = part[target].to_numpy(dtype=float)
    predicted = model.predict(part[features])
    return {
        "r2": float(r2_score(y, predicted)) if len(y) > 1 else None,
        "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
        "mae": float(mean_absolute_error(y, predicted)),
    }


def evaluate(project: Project) -> dict:
    params = project.params
    model = load_model(str(project.path(MODEL_DIR)))
    result = score(model, read_table(project, TEST_FILE), params.data.target, params.data.slice_columns)
    project.path(METRICS_FILE).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    log.info("evaluated", extra={"metrics": {k: v for k, v in result.items() if k != "slices"}})
    return result
