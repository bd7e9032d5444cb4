"""Performance estimated before labels arrive: confidence-based performance estimation (CBPE) for classifiers.

At profile time, each class's predicted probability is calibrated on the reference rows with isotonic regression
(P(y = c | score)), stored as a few hundred (score, probability) points. On a current window the calibrated
probabilities are the expected labels: the expected confusion matrix gives accuracy and F1, the expected ranking of
positives over negatives gives ROC AUC. The confidence band is where the realised value falls in 95% of label
draws from those calibrated probabilities, widened for the calibration's own error (it was fitted on a sample).
It holds while P(y | score) is what it was on the reference: covariate shift (inputs move, the relation between
input and label does not) is what it estimates; concept drift (the same inputs now mean other labels) it cannot
see, and only labels can.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from mlops.drift.performance import average_ranks, canonical_label, classification_scores, roc_auc

CALIBRATION_BINS = 2_000  # isotonic regression on at most this many score bins: exact enough, fast in Python
BAND_DRAWS, BAND_ROWS = 200, 20_000  # label draws for the band, on at most this many rows (then scaled)
MIN_ROWS = 100  # fewer rows with probabilities: no estimate


def parse_probabilities(values: np.ndarray, classes: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Rows of JSON text {class: probability} (the capture's column) as a matrix over `classes` (default: every
    class seen, sorted); a row that is missing or not such an object is all NaN."""
    parsed: list[dict[str, float] | None] = []
    for value in values:
        try:
            body = json.loads(value) if isinstance(value, str | bytes) else value
        except ValueError:
            body = None
        parsed.append({canonical_label(str(k)): float(v) for k, v in body.items()} if isinstance(body, dict) else None)
    if classes is None:
        classes = sorted({k for row in parsed if row for k in row})
    matrix = np.full((len(parsed), len(classes)), np.nan)
    for i, row in enumerate(parsed):
        if row:
            matrix[i] = [row.get(c, 0.0) for c in classes]
    return matrix, classes


def _isotonic(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """Increasing fit of y on x (pool adjacent violators) on equal-count bins of x: points to interpolate."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    cuts = np.unique(np.linspace(0, len(x), min(CALIBRATION_BINS, len(x)) + 1).astype(np.int64))
    weight = np.diff(cuts).astype(float)
    xs, ys = np.add.reduceat(x, cuts[:-1]) / weight, np.add.reduceat(y, cuts[:-1]) / weight
    blocks: list[list[float]] = []  # [x sum, y sum, weight]
    for xi, yi, wi in zip(xs.tolist(), ys.tolist(), weight.tolist(), strict=True):
        blocks.append([xi * wi, yi * wi, wi])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    return [b[0] / b[2] for b in blocks], [b[1] / b[2] for b in blocks]


def _calibrated(estimation: dict[str, Any], proba: np.ndarray) -> np.ndarray:
    classes = estimation["classes"]
    calibrated = np.empty_like(proba)
    for j, label in enumerate(classes):
        points = estimation["calibration"].get(label)
        calibrated[:, j] = np.interp(proba[:, j], points["x"], points["y"]) if points else proba[:, j]
    if len(classes) == 2:  # one calibrated class; the other is its complement
        calibrated[:, 0] = 1.0 - calibrated[:, 1]
    else:
        calibrated /= np.maximum(calibrated.sum(axis=1, keepdims=True), 1e-12)
    return calibrated


def realized(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC (one-vs-rest macro for more than two classes) of argmax predictions."""
    y_pred = np.asarray(classes)[np.argmax(proba, axis=1)]
    result = classification_scores(y_true, y_pred, classes)
    aucs = [roc_auc(y_true == c, proba[:, j]) for j, c in enumerate(classes)]
    result["auc"] = aucs[1] if len(classes) == 2 else float(np.nanmean(aucs))
    return result


def _expected_auc(q: np.ndarray, scores: np.ndarray) -> float:
    """E[AUC] when row i is positive with probability q_i: expected positive-negative pairs ranked right, over
    expected pairs (a row is never paired with itself; ties count half)."""
    _, group = np.unique(scores, return_inverse=True)
    pos, neg = np.bincount(group, weights=q), np.bincount(group, weights=1 - q)
    own = np.bincount(group, weights=q * (1 - q))
    below = np.cumsum(neg) - neg
    right = float(np.sum(pos * below + 0.5 * (pos * neg - own)))
    pairs = float(q.sum() * (1 - q).sum() - np.sum(q * (1 - q)))
    return right / pairs if pairs > 0 else float("nan")


def expected(estimation: dict[str, Any], proba: np.ndarray) -> dict[str, float]:
    """Estimated accuracy, F1 and ROC AUC of a window from its predicted probabilities."""
    classes = estimation["classes"]
    q = _calibrated(estimation, proba)
    predicted = np.argmax(proba, axis=1)
    rows = np.arange(len(q))
    result = {"accuracy": float(q[rows, predicted].mean())}
    f1s = []
    for j in range(len(classes)) if len(classes) > 2 else [1]:
        chosen = predicted == j
        tp, fp, fn = q[chosen, j].sum(), (1 - q[chosen, j]).sum(), q[~chosen, j].sum()
        f1s.append(float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0)
    result["f1"] = float(np.mean(f1s))
    aucs = [_expected_auc(q[:, j], proba[:, j]) for j in range(len(classes))]
    result["auc"] = aucs[1] if len(classes) == 2 else float(np.nanmean(aucs))
    return result


def _band(estimation: dict[str, Any], proba: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Standard deviation of each realised metric over label draws from the calibrated probabilities (on at most
    BAND_ROWS rows, scaled to the window's size), widened for the calibration's error."""
    rng = np.random.default_rng(seed)
    rows = len(proba)
    part = proba[rng.choice(rows, BAND_ROWS, replace=False)] if rows > BAND_ROWS else proba
    q = _calibrated(estimation, part)
    classes = estimation["classes"]
    draws = (rng.random((BAND_DRAWS, len(part), 1)) > np.cumsum(q, axis=1)[None, :, :-1]).sum(axis=2)
    labels = np.asarray(classes)
    predicted = labels[np.argmax(part, axis=1)]
    ranks = [average_ranks(part[:, j]) for j in range(len(classes))]
    values: dict[str, list[float]] = {"accuracy": [], "f1": [], "auc": []}
    for draw in draws:
        truth = labels[draw]
        scores = classification_scores(truth, predicted, classes)
        aucs = []
        for j in range(len(classes)):
            positive = draw == j
            n_pos = int(positive.sum())
            n_neg = len(draw) - n_pos
            if n_pos and n_neg:
                aucs.append((ranks[j][positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
        values["accuracy"].append(scores["accuracy"])
        values["f1"].append(scores["f1"])
        values["auc"].append(aucs[-1] if len(classes) == 2 and len(aucs) == 2 else float(np.mean(aucs or [np.nan])))
    # scaled to the window's size, then widened for the calibration's own error: it was measured on the
    # reference's rows, so it is uncertain like a metric on that many rows (variance in proportion)
    scale = np.sqrt(len(part) / rows) * np.sqrt(1 + rows / max(int(estimation.get("rows", rows)), 1))
    return {name: float(np.nanstd(v) * scale) for name, v in values.items()}


def calibrate(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """The CBPE entry of a profile: per-class isotonic calibration, and the reference's realised metrics."""
    calibration = {}
    for j, label in enumerate(classes):
        if len(classes) == 2 and j == 0:
            continue  # the complement of the other class
        x, y = _isotonic(proba[:, j], (y_true == label).astype(float))
        calibration[label] = {"x": x, "y": y}
    estimation: dict[str, Any] = {"method": "cbpe", "classes": classes, "calibration": calibration,
                                  "rows": len(y_true)}  # fmt: skip
    estimation["reference"] = realized(y_true, proba, classes)
    estimation["reference_estimated"] = expected(estimation, proba)
    return estimation


def estimate_window(
    estimation: dict[str, Any],
    proba: np.ndarray,
    *,
    drop: float,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The report's `estimated_performance`: per metric the reference value, the estimate with its 95% band and,
    where labels are given (their values and which rows of `proba` they belong to), the realised value. A metric
    drifts when its estimate is more than `drop` below the reference and the whole band is below the reference."""
    if len(proba) < MIN_ROWS:
        return {"status": "skipped", "reason": f"only {len(proba)} rows with probabilities (need {MIN_ROWS})",
                "drift": False}  # fmt: skip
    estimate, spread = expected(estimation, proba), _band(estimation, proba)
    truth = realized(labels[0], proba[labels[1]], estimation["classes"]) if labels is not None else {}
    metrics = {}
    for name, value in estimate.items():
        reference = estimation["reference"].get(name)
        low, high = value - 1.96 * spread[name], value + 1.96 * spread[name]
        entry = {"reference": reference, "estimated": value, "lower": low, "upper": high, "threshold": drop}
        if reference is not None and np.isfinite(value):
            entry["drop"] = reference - value
            entry["drift"] = bool(drop > 0 and reference - value > drop and high < reference)
        if name in truth:
            entry["realized"] = truth[name]
        metrics[name] = entry
    return {"status": "tested", "method": "cbpe", "rows": len(proba),
            "drift": any(m.get("drift") for m in metrics.values()), "metrics": metrics,
            "realized_rows": int(len(labels[0])) if labels is not None else 0}  # fmt: skip
