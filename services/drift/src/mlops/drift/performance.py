"""Model performance on labelled rows, and whether it got worse than on the reference.

numpy only: scikit-learn is not a dependency of the drift part (and takes seconds to import); the formulas are
checked against scikit-learn's in tests/unit/drift/test_performance.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "auc": True, "rmse": False, "mae": False}


def present(values: np.ndarray) -> np.ndarray:
    """True where a value is there (not None, not NaN)."""
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    if values.dtype.kind in "iub":
        return np.ones(len(values), dtype=bool)
    return np.fromiter((v is not None and v == v for v in values), dtype=bool, count=len(values))  # noqa: PLR0124


def canonical_label(text: str) -> str:
    """One spelling per class: integral numbers without a decimal point ("1.0" and "1" are the same class)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def as_labels(values: np.ndarray) -> np.ndarray:
    """Class labels as canonical text (see `canonical_label`)."""
    text = np.asarray(values).astype(str)
    distinct, inverse = np.unique(text, return_inverse=True)
    return np.asarray([canonical_label(t) for t in distinct.tolist()], dtype=object)[inverse].astype(str)


def average_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (the Mann-Whitney convention)."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def f1(y_true: np.ndarray, y_pred: np.ndarray, label: str) -> float:
    tp = float(np.sum((y_pred == label) & (y_true == label)))
    fp = float(np.sum((y_pred == label) & (y_true != label)))
    fn = float(np.sum((y_pred != label) & (y_true == label)))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Accuracy and F1: binary F1 of the last label when there are two, else the macro mean (scikit-learn's
    defaults, over the labels of either side)."""
    result = {"accuracy": float(np.mean(y_true == y_pred))}
    if len(labels) == 2:
        result["f1"] = f1(y_true, y_pred, labels[-1])
    else:
        union = sorted(set(labels) | set(np.unique(y_pred).tolist()))
        result["f1"] = float(np.mean([f1(y_true, y_pred, label) for label in union]))
    return result


def performance_metrics(y_true: Any, y_pred: Any, task: str) -> dict[str, float]:
    """accuracy/F1 (+AUC when predictions are probabilities of a binary 0/1 label) or RMSE/MAE; rows with a
    missing label or prediction are left out."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    keep = present(t) & present(p)
    t, p = t[keep], p[keep]
    if len(t) == 0:
        return {}
    if task == "regression":
        error = t.astype(float) - p.astype(float)
        return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    labels = sorted(np.unique(as_labels(t)).tolist())
    result = {}
    if p.dtype.kind == "f" and set(labels) <= {"0", "1"} and bool(np.all((p >= 0) & (p <= 1))):
        if len(labels) == 2:  # the prediction is a probability of the label 1
            result["auc"] = roc_auc(as_labels(t) == "1", p)
        p = (p >= 0.5).astype(np.int64)
    return {**result, **classification_scores(as_labels(t), as_labels(p), labels)}


def performance_drift(
    reference: dict[str, float] | None,
    current: dict[str, float],
    rows: int,
    *,
    min_rows: int,
    abs_tolerance: float,
    rel_tolerance: float,
) -> dict:
    """Compare current metrics with the reference: a score (accuracy, F1, AUC) may drop by `abs_tolerance`,
    an error (RMSE, MAE) may grow by `rel_tolerance` of its reference value."""
    if not reference:
        return {
            "status": "skipped",
            "reason": "the profile has no reference metrics (build it with target and prediction)",
            "drift": False,
            "current": current,
        }
    if rows < min_rows:
        return {
            "status": "skipped",
            "reason": f"only {rows} labelled rows (need {min_rows})",
            "drift": False,
            "current": current,
            "reference": reference,
        }
    metrics = {}
    for name, ref_value in reference.items():
        if name not in current:
            continue
        cur_value = current[name]
        if HIGHER_IS_BETTER[name]:
            change, threshold = ref_value - cur_value, abs_tolerance
        else:
            change, threshold = (cur_value - ref_value) / max(abs(ref_value), 1e-12), rel_tolerance
        metrics[name] = {
            "reference": ref_value,
            "current": cur_value,
            "degradation": change,
            "threshold": threshold,
            "drift": bool(change > threshold),
        }
    return {"status": "tested", "rows": rows, "drift": any(m["drift"] for m in metrics.values()), "metrics": metrics}
