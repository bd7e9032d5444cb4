"""The reference's target, prediction and prediction probabilities: the task, the reference metrics and the
calibration for label-free performance estimation, from the profile builder's row sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.core.contracts import CAPTURE_PROBABILITIES_COLUMN
from mlops.drift.performance import as_labels, canonical_label, performance_metrics, present
from mlops.drift.profile import ProfileError, ReferenceProfile

PROBA_PREFIX = "__proba__"  # the columns a probabilities DataFrame becomes while the frame is profiled


def probability_frame(probabilities: Any, rows: int) -> Any:
    """A DataFrame of per-class probabilities (columns = class labels), checked and renamed for the builder."""
    import pandas as pd

    frame = pd.DataFrame(probabilities).reset_index(drop=True)
    if len(frame) != rows:
        raise ProfileError(f"probabilities have {len(frame)} rows; the reference has {rows}")
    if frame.shape[1] < 2 or not all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        raise ProfileError("probabilities need one numeric column per class (at least two), like predict_proba")
    return frame.set_axis([f"{PROBA_PREFIX}{c}" for c in frame.columns], axis=1)


def infer_task(target: np.ndarray) -> str:
    """Regression for numeric targets with many distinct or non-integer values; classification otherwise."""
    if target.dtype.kind in "iuf":
        values = target[:100_000].astype(float)
        values = values[~np.isnan(values)]
        if len(np.unique(values)) > 20 or not np.all(np.mod(values, 1) == 0):
            return "regression"
    return "classification"


def _probabilities(sample: dict[str, np.ndarray], spec: str | list[str] | None) -> tuple[np.ndarray, list[str]]:
    if isinstance(spec, str):  # the capture's JSON column
        from mlops.drift.estimate import parse_probabilities

        return parse_probabilities(sample[spec])
    columns = list(spec or [])
    matrix = np.column_stack([sample[c].astype(float) for c in columns])
    return matrix, [canonical_label(c.removeprefix(PROBA_PREFIX)) for c in columns]


def describe(profile: ReferenceProfile, sample: dict[str, np.ndarray], probabilities: str | list[str] | None) -> None:
    """Set the task, the reference metrics and (with probabilities) the CBPE calibration on `profile`."""
    if profile.target is None:
        return
    target = sample[profile.target]
    profile.task = infer_task(target)
    if profile.prediction is not None:
        profile.reference_metrics = performance_metrics(target, sample[profile.prediction], profile.task)
    if not probabilities:
        return
    if profile.task != "classification":
        raise ProfileError("prediction probabilities only make sense for a classification target")
    from mlops.drift.estimate import calibrate

    proba, classes = _probabilities(sample, probabilities)
    labels = as_labels(target)
    keep = present(target) & ~np.isnan(proba).any(axis=1)
    unknown = sorted(set(labels[keep].tolist()) - set(classes))
    if unknown:
        raise ProfileError(f"target values {unknown[:5]} are not among the probability classes {classes}")
    if keep.sum() < 2 or len(classes) < 2:
        raise ProfileError("probabilities need at least two classes and two labelled rows")
    profile.estimation = calibrate(labels[keep], proba[keep], classes)
    # the column current data holds them in: the capture's, unless the reference named another
    profile.estimation["column"] = probabilities if isinstance(probabilities, str) else CAPTURE_PROBABILITIES_COLUMN
