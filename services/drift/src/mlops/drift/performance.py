"""Model performance on labelled rows, and whether it got worse than on the reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "auc": True, "rmse": False, "mae": False}


def _is_probability(pred: pd.Series, labels: np.ndarray) -> bool:
    return (
        pd.api.types.is_float_dtype(pred.dtype)
        and len(labels) <= 2
        and set(np.asarray(labels).tolist()) <= {0, 1}  # 0.0, 1.0, False and True hash equal to these
        and bool(pred.between(0, 1).all())
    )


def performance_metrics(y_true: pd.Series, y_pred: pd.Series, task: str) -> dict[str, float]:
    """accuracy/F1 (+AUC when predictions are probabilities of a binary label) or RMSE/MAE; rows with a
    missing label or prediction are left out."""
    from sklearn import metrics  # imported here: slow to import, only needed when labels are present

    keep = y_true.notna().to_numpy() & y_pred.notna().to_numpy()
    y_true, y_pred = y_true[keep], y_pred[keep]
    if len(y_true) == 0:
        return {}
    if task == "regression":
        t, p = y_true.to_numpy(float), y_pred.to_numpy(float)
        return {"rmse": float(np.sqrt(np.mean((t - p) ** 2))), "mae": float(np.mean(np.abs(t - p)))}
    labels = np.unique(y_true.to_numpy())
    result = {}
    if _is_probability(y_pred, labels):
        scores = y_pred.to_numpy(float)
        if len(labels) == 2:
            result["auc"] = float(metrics.roc_auc_score(y_true.astype(int), scores))
        y_pred = pd.Series((scores >= 0.5).astype(int), index=y_true.index)
        y_true = y_true.astype(int)
    t, p = y_true.astype(str).to_numpy(), y_pred.astype(str).to_numpy()
    result["accuracy"] = float(metrics.accuracy_score(t, p))
    result["f1"] = float(
        metrics.f1_score(
            t,
            p,
            average="binary" if len(labels) == 2 else "macro",
            pos_label=str(labels[-1]) if len(labels) == 2 else 1,
        )
    )
    return result


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
