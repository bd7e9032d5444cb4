"""Label-free performance estimation (CBPE): calibrated on the reference's probabilities and labels, it tracks the
accuracy a covariate shift costs (within 0.02 at 10k rows), its band covers the realised value, and the metrics
behind it match scikit-learn's."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from mlops.drift import estimate, performance
from mlops.drift.builder import build_profile
from mlops.drift.check import estimate_performance
from mlops.drift.config import DriftConfig
from mlops.drift.profile import ReferenceProfile

pytestmark = pytest.mark.unit


def scenario(n: int, rng: np.random.Generator, spread: float = 2.0, classes: int = 2):
    """x moves, P(y | x) does not (covariate shift); the model's probabilities are overconfident (steeper than
    the truth), so the calibration has work to do. A narrower spread puts rows near the boundary: less accurate."""
    x = rng.normal(0, spread, (n, 2))
    if classes == 2:
        truth = 1 / (1 + np.exp(-1.5 * x[:, 0] - 0.5 * x[:, 1]))
        y = (rng.random(n) < truth).astype(int)
        p1 = 1 / (1 + np.exp(-2.5 * x[:, 0] - 0.8 * x[:, 1]))
        proba = np.column_stack([1 - p1, p1])
    else:
        logits = np.column_stack([x[:, 0], x[:, 1], -x[:, 0] - x[:, 1]]) * 1.5
        truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (rng.random((n, 1)) > np.cumsum(truth, axis=1)[:, :-1]).sum(axis=1)
        proba = np.exp(logits * 1.6) / np.exp(logits * 1.6).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": y, "prediction": proba.argmax(axis=1)})
    return frame, pd.DataFrame(proba, columns=[str(c) for c in range(classes)])


def _capture(proba: pd.DataFrame) -> np.ndarray:
    return np.array([json.dumps(row) for row in proba.to_dict(orient="records")], dtype=object)


@pytest.mark.parametrize("classes", [2, 3])
def test_cbpe_tracks_the_accuracy_a_covariate_shift_costs(classes):
    rng = np.random.default_rng(21 + classes)
    reference, ref_proba = scenario(20_000, rng, classes=classes)
    profile = build_profile(reference, target="y", prediction="prediction", probabilities=ref_proba)
    assert profile.estimation["method"] == "cbpe" and profile.estimation["classes"] == [str(c) for c in range(classes)]
    current, proba = scenario(10_000, rng, spread=0.7, classes=classes)  # nearer the boundary
    labels = current["y"].to_numpy().astype(object)
    result = estimate_performance(profile, _capture(proba), DriftConfig(), labels)
    accuracy = result["metrics"]["accuracy"]
    assert accuracy["reference"] - accuracy["realized"] > 0.1  # the shift really costs accuracy
    assert accuracy["estimated"] == pytest.approx(accuracy["realized"], abs=0.02)
    assert accuracy["lower"] <= accuracy["realized"] <= accuracy["upper"]
    assert result["drift"] is True and accuracy["drift"] is True
    for name in ("f1", "auc"):
        assert result["metrics"][name]["estimated"] == pytest.approx(result["metrics"][name]["realized"], abs=0.03)


def test_no_shift_no_estimated_drop_and_the_profile_round_trips(tmp_path):
    rng = np.random.default_rng(5)
    reference, ref_proba = scenario(10_000, rng)
    profile = build_profile(reference, target="y", prediction="prediction", probabilities=ref_proba)
    profile = ReferenceProfile.load(profile.save(tmp_path / "p.json"))
    current, proba = scenario(5_000, rng)
    result = estimate_performance(profile, _capture(proba), DriftConfig())
    assert result["drift"] is False and "realized" not in result["metrics"]["accuracy"]
    assert result["metrics"]["accuracy"]["estimated"] == pytest.approx(profile.estimation["reference"]["accuracy"],
                                                                        abs=0.02)  # fmt: skip
    assert estimate_performance(profile, None, DriftConfig())["status"] == "skipped"
    off = estimate_performance(profile, _capture(scenario(5_000, rng, spread=0.5)[1]), DriftConfig(estimated_drop=0))
    assert off["status"] == "tested" and off["drift"] is False  # 0 reports without acting


def test_unusable_probability_rows_are_left_out():
    rng = np.random.default_rng(6)
    reference, ref_proba = scenario(5_000, rng)
    profile = build_profile(reference, target="y", prediction="prediction", probabilities=ref_proba)
    values = _capture(scenario(500, rng)[1])
    values[:50] = None
    values[50:60] = "not json"
    assert estimate_performance(profile, values, DriftConfig())["rows"] == 440


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(7)
    y, scores = rng.integers(0, 2, 2_000), np.round(rng.random(2_000), 2)  # rounded: ties
    assert performance.roc_auc(y == 1, scores) == pytest.approx(metrics.roc_auc_score(y, scores))
    found = performance.performance_metrics(pd.Series(y), pd.Series(scores), "classification")
    assert found["f1"] == pytest.approx(metrics.f1_score(y, scores >= 0.5))
    assert found["accuracy"] == pytest.approx(metrics.accuracy_score(y, scores >= 0.5))
    t, p = rng.choice(["a", "b", "c"], 500), rng.choice(["a", "b", "c", "d"], 500)
    found = performance.performance_metrics(pd.Series(t), pd.Series(p), "classification")
    assert found["f1"] == pytest.approx(metrics.f1_score(t, p, average="macro"))
    assert performance.as_labels(np.array([1.0, 0.0])).tolist() == ["1", "0"]


def test_expected_auc_is_the_auc_expected_over_label_draws():
    rng = np.random.default_rng(8)
    q, scores = rng.random(300), np.round(rng.random(300), 1)
    draws = [performance.roc_auc(rng.random(300) < q, scores) for _ in range(4_000)]
    assert estimate._expected_auc(q, scores) == pytest.approx(np.mean(draws), abs=0.005)
