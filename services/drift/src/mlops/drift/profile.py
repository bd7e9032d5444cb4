"""The reference profile: everything a drift check needs from the training data, computed once.

Per column: its kind (numeric or categorical), missing count, summary statistics and
- numeric: up to `bins + 1` quantile edges (reference min and max included) and the exact reference count in
  each bin. The current window is counted on the same edges, which gives the exact empirical CDFs of both at
  every edge: KS, Wasserstein and PSI then need no raw reference rows.
- categorical: the counts of the `max_categories` most frequent values, the count of all others, and the number
  of values seen exactly once (a Good-Turing estimate of how often a never-seen value turns up by chance).

Beside the columns: the fitted multivariate test (PCA on normal scores: means, scales, components and the
reference distribution of reconstruction errors) and, with target and prediction probabilities, the CBPE
calibration; never raw rows. The JSON file is small (kilobytes per column) and is logged beside the model as
`drift/reference_profile.json`. Building one (`mlops.drift.builder`) streams its input in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.errors import MlopsError

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
    # the dataset-level test of how features move together (mlops.drift.multivariate), when fitted
    multivariate: dict[str, Any] | None = None
    # what label-free performance estimation needs (mlops.drift.estimate): CBPE calibration or DLE loss model
    estimation: dict[str, Any] | None = None
    # the data classes the reference was profiled with (personal columns hashed, sensitive ones left out), or None
    data_classes: dict[str, str] | None = None
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
                multivariate=body.get("multivariate"),
                estimation=body.get("estimation"),
                data_classes=body.get("data_classes"),
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
