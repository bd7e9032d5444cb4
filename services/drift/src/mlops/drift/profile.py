"""The reference profile: everything a drift check needs from the training data, computed once.

Per column: its kind (numeric or categorical), missing count, summary statistics and
- numeric: up to `bins + 1` quantile edges (reference min and max included) and the exact reference count in
  each bin. The current window is counted on the same edges, which gives the exact empirical CDFs of both at
  every edge: KS, Wasserstein and PSI then need no raw reference rows.
- categorical: the counts of the `max_categories` most frequent values, the count of all others, and the number
  of values seen exactly once (a Good-Turing estimate of how often a never-seen value turns up by chance).

The JSON file is small (kilobytes per column) and is logged beside the model as `drift/reference_profile.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.core.errors import MlopsError
from mlops.drift.performance import performance_metrics

PROFILE_FORMAT = "r5-mlops/drift-profile"
PROFILE_VERSION = 1
MLFLOW_ARTIFACT_PATH = "drift/reference_profile.json"
DEFAULT_BINS = 1000
DEFAULT_MAX_CATEGORIES = 1000


class ProfileError(MlopsError, ValueError):
    """The profile cannot be built, read or used; the message says which file or column and why."""


@dataclass
class ColumnProfile:
    name: str
    kind: str  # "numeric" | "categorical" | "unsupported"
    dtype: str
    count: int  # non-missing values
    missing: int
    reason: str | None = None  # why a column cannot be tested (unsupported type, all values missing)
    # numeric
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    is_integer: bool = False
    edges: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # len(edges) + 1; counts[k] = #{edges[k-1] < x <= edges[k]}
    # categorical
    categories: dict[str, int] = field(default_factory=dict)
    other: int = 0  # values outside the stored categories
    singletons: int = 0  # categories seen exactly once
    distinct: int = 0

    @property
    def rows(self) -> int:
        return self.count + self.missing

    @property
    def scale(self) -> float:
        """Normalising scale for Wasserstein: the standard deviation, else the range, never zero."""
        if self.std and math.isfinite(self.std) and self.std > 0:
            return self.std
        span = (self.max or 0.0) - (self.min or 0.0)
        return span if span > 0 else 1.0


@dataclass
class ReferenceProfile:
    columns: dict[str, ColumnProfile]
    rows: int
    target: str | None = None
    prediction: str | None = None
    model_name: str | None = None
    task: str | None = None  # "classification" | "regression" when target is given
    reference_metrics: dict[str, float] | None = None
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.columns if c not in (self.target, self.prediction)]

    def to_dict(self) -> dict:
        body = asdict(self)
        body["columns"] = {name: asdict(col) for name, col in self.columns.items()}
        return {"format": PROFILE_FORMAT, "version": PROFILE_VERSION, **body}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the profile as JSON atomically (temp file in the same folder, then rename)."""
        return write_atomic(Path(path), json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":")))

    @classmethod
    def from_dict(cls, body: dict, source: str = "profile") -> ReferenceProfile:
        if not isinstance(body, dict) or body.get("format") != PROFILE_FORMAT:
            raise ProfileError(f"{source} is not a drift reference profile (no format '{PROFILE_FORMAT}')")
        if body.get("version") != PROFILE_VERSION:
            raise ProfileError(f"{source} has profile version {body.get('version')!r}; expected {PROFILE_VERSION}")
        try:
            columns = {name: ColumnProfile(**col) for name, col in body["columns"].items()}
            fields = {k: body[k] for k in ("rows", "target", "prediction", "model_name", "task") if k in body}
            return cls(
                columns=columns,
                reference_metrics=body.get("reference_metrics"),
                created_at=body.get("created_at", ""),
                **fields,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProfileError(f"{source} is malformed: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceProfile:
        path = Path(path)
        try:
            body = json.loads(path.read_text())
        except FileNotFoundError:
            raise ProfileError(f"profile file {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProfileError(f"profile file {path} is not readable JSON: {exc}") from None
        return cls.from_dict(body, source=f"profile file {path}")


def write_atomic(path: Path, text: str) -> Path:
    """Write text to `path` so that a reader sees the old file or the whole new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def column_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    if (
        pd.api.types.is_string_dtype(series.dtype)
        or isinstance(series.dtype, pd.CategoricalDtype)
        or series.dtype == object
    ):
        return "categorical"
    return "unsupported"


def numeric_values(series: pd.Series) -> tuple[np.ndarray, int]:
    """Finite float values and the count of missing ones (NaN, None and +-inf all count as missing)."""
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    keep = np.isfinite(values)
    if keep.all():
        return values, 0  # no copy in the common case
    finite = values[keep]
    return finite, len(values) - len(finite)


def categorical_values(series: pd.Series) -> tuple[pd.Series, int]:
    """Non-missing values as strings (so 1, "1" and True/"True" compare as the profile stores them)."""
    present = series.dropna()
    return present.astype(str), len(series) - len(present)


def _profile_numeric(name: str, series: pd.Series, bins: int) -> ColumnProfile:
    values, missing = numeric_values(series)
    col = ColumnProfile(name, "numeric", str(series.dtype), int(len(values)), int(missing))
    if len(values) == 0:
        col.reason = "every reference value is missing"
        return col
    ordered = np.sort(values)
    positions = np.linspace(0, len(ordered) - 1, bins + 1).round().astype(np.int64)
    edges = np.unique(ordered[positions])
    cumulative = np.searchsorted(ordered, edges, side="right")  # #{x <= edge}
    counts = np.diff(cumulative, prepend=0)
    col.edges = edges.tolist()
    col.counts = [*counts.tolist(), 0]  # nothing in the reference lies above its own max
    col.mean = float(values.mean())
    col.std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    col.min, col.max = float(ordered[0]), float(ordered[-1])
    col.is_integer = bool(np.all(np.mod(edges, 1) == 0))
    return col


def _profile_categorical(name: str, series: pd.Series, max_categories: int) -> ColumnProfile:
    values, missing = categorical_values(series)
    col = ColumnProfile(name, "categorical", str(series.dtype), int(len(values)), int(missing))
    if len(values) == 0:
        col.reason = "every reference value is missing"
        return col
    frequencies = values.value_counts(sort=True)
    top = frequencies.iloc[:max_categories]
    col.categories = {str(k): int(v) for k, v in top.items()}
    col.other = int(frequencies.iloc[max_categories:].sum())
    col.singletons = int((frequencies == 1).sum())
    col.distinct = int(len(frequencies))
    return col


def profile_column(name: str, series: pd.Series, kind: str, bins: int, max_categories: int) -> ColumnProfile:
    if kind == "numeric":
        return _profile_numeric(name, series, bins)
    if kind == "categorical":
        return _profile_categorical(name, series, max_categories)
    missing = int(series.isna().sum())
    return ColumnProfile(
        name, "unsupported", str(series.dtype), len(series) - missing, missing, reason=f"type {series.dtype}"
    )


def infer_task(series: pd.Series) -> str:
    """Regression for float targets with many distinct values; classification otherwise."""
    if column_kind(series) == "numeric" and not pd.api.types.is_bool_dtype(series.dtype):
        values, _ = numeric_values(series)
        if len(np.unique(values[:100_000])) > 20 or not np.all(np.mod(values[:100_000], 1) == 0):
            return "regression"
    return "classification"


def build_profile(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    prediction: str | None = None,
    model_name: str | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    workers: int | None = None,
) -> ReferenceProfile:
    """Profile every column of `frame` (columns are profiled in parallel: numpy sorts release the GIL).

    `target` and `prediction` name the label and model-output columns; with both, the reference performance is
    stored so later label-joined windows can be compared with it. `categorical` forces integer-coded columns to
    be treated as categories.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ProfileError(f"reference data must be a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise ProfileError("reference data has no rows")
    if frame.columns.has_duplicates:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ProfileError(f"reference data has duplicate column names: {', '.join(dupes)}")
    for role, name in (("target", target), ("prediction", prediction), *(("categorical", c) for c in categorical)):
        if name is not None and name not in frame.columns:
            raise ProfileError(f"{role} column {name!r} is not in the reference data")
    if bins < 2 or max_categories < 1:
        raise ProfileError("bins must be at least 2 and max_categories at least 1")

    kinds = {str(c): "categorical" if c in categorical else column_kind(frame[c]) for c in frame.columns}
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        futures = {
            name: pool.submit(profile_column, name, frame[name], kinds[name], bins, max_categories) for name in kinds
        }
        columns = {name: future.result() for name, future in futures.items()}

    profile = ReferenceProfile(columns=columns, rows=len(frame), target=target, prediction=prediction)
    profile.model_name = model_name
    if target is not None:
        profile.task = infer_task(frame[target])
        if prediction is not None:
            profile.reference_metrics = performance_metrics(frame[target], frame[prediction], profile.task)
    return profile
