"""`params.yaml`: the one file that drives a model project's stages, its registration and its gate.

Validated with pydantic so a wrong type is reported as `params.yaml: train.n_estimators: ...`, never a crash
half-way through training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops.core.data_classes import DataClass
from mlops.core.errors import MlopsError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataParams(_Strict):
    raw: list[str] = Field(min_length=1, description="DVC-tracked input files (CSV or Parquet), project-relative")
    target: str = Field(min_length=1, description="Label column (class labels, or numbers for regression)")
    features: list[str] = Field(min_length=1, description="Model input columns")
    slice_columns: list[str] = Field(default_factory=list, description="Columns whose values are gate slices")
    classes: dict[str, DataClass] = Field(
        default_factory=dict,
        description="Column -> data class (mlops.core.data_classes): what serving's capture keeps, hashes or drops; "
        "unlisted columns take the default (internal, or personal by name)",
    )


class PrepareParams(_Strict):
    test_size: float = Field(0.25, gt=0, lt=1)
    seed: int = 42


class TrainParams(_Strict):
    algorithm: Literal["random_forest", "logistic_regression"] = "random_forest"
    n_estimators: int = Field(50, ge=1)
    max_depth: int | None = Field(6, ge=1)
    seed: int = 42


# error metrics: a smaller value is better, so the gate turns their improvement and their floors around
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


class GateParams(_Strict):
    primary_metric: Literal["roc_auc", "accuracy", "f1", "r2", "rmse", "mae"] = "roc_auc"
    min_improvement: float = Field(0.0, description="Challenger must beat the champion by at least this much")
    slice_tolerance: float = Field(0.02, ge=0, description="Largest allowed loss on any slice")
    floors: dict[str, float] = Field(
        default_factory=dict,
        description="metric -> minimum value (maximum for rmse and mae), always enforced",
    )


class Params(_Strict):
    model_name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataParams
    prepare: PrepareParams = PrepareParams()
    train: TrainParams = TrainParams()
    gate: GateParams = GateParams()


def load_params(path: Path) -> Params:
    if not path.is_file():
        raise MlopsError(f"params file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MlopsError(f"{path} must be a YAML mapping with model_name, data, prepare, train and gate")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()
        )
        raise MlopsError(f"{path}: {problems}") from None


def flatten(params: Params) -> dict[str, str]:
    """`train.n_estimators` -> "50": the form MLflow params take."""
    out: dict[str, str] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            out[prefix] = str(value)

    walk("", params.model_dump(mode="json"))
    return out
