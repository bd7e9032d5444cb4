"""Multivariate drift (PCA reconstruction error on normal scores): silent on same-distribution data, catches the
three joint-only drifts (a flipped correlation, a shifted 2-D mixture, a rotated correlated block) that no column
test sees, and reads the same in any chunking. Small, seeded versions of benchmarks/drift/accuracy.py's campaign."""

import json

import numpy as np
import pandas as pd
import pytest

from mlops.drift import multivariate
from mlops.drift.builder import build_profile
from mlops.drift.check import run_check
from mlops.drift.config import DriftConfig
from mlops.drift.summary import summarise_batches, summarise_frame
from mlops.drift.values import FrameBatch

pytestmark = pytest.mark.unit


def joint(n: int, rng: np.random.Generator, kind: str = "none") -> pd.DataFrame:
    """Eight columns; `kind` changes one dependence structure and no marginal: "flip" (corr +0.7 -> -0.7),
    "mixture" (mass moves between the diagonal and anti-diagonal components), "rotation" (a correlated 3-block
    turned 120 degrees about its diagonal)."""
    z = rng.normal(size=(n, 2))
    r = -0.7 if kind == "flip" else 0.7
    a, b = z[:, 0], r * z[:, 0] + np.sqrt(1 - r * r) * z[:, 1]
    weights = [0.15, 0.35, 0.35, 0.15] if kind == "mixture" else [0.35, 0.15, 0.15, 0.35]
    component = rng.choice(4, n, p=weights)
    m1 = np.array([-2, -2, 2, 2])[component] + 0.7 * rng.normal(size=n)
    m2 = np.array([-2, 2, -2, 2])[component] + 0.7 * rng.normal(size=n)
    block = rng.multivariate_normal(np.zeros(3), [[1, 0.8, 0], [0.8, 1, 0], [0, 0, 1]], n)
    if kind == "rotation":
        block = block[:, [2, 0, 1]]
    return pd.DataFrame({"a": np.exp(a / 2), "b": b, "m1": m1, "m2": m2, "c1": block[:, 0],
                         "c2": np.round(3 * block[:, 1] + 10), "c3": block[:, 2] ** 3, "u": rng.standard_t(3, n),
                         "k": rng.choice(list("xyz"), n)})  # fmt: skip


def _check(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    profile = build_profile(reference, workers=1)
    return run_check(profile, summarise_frame(profile, current), list(current.columns), DriftConfig(),
                     current_rows=len(current))  # fmt: skip


@pytest.mark.parametrize(("n", "trials"), [(1_000, 40), (10_000, 8)])
def test_same_distribution_raises_no_multivariate_alarm(n, trials):
    alarms = 0
    for trial in range(trials):
        rng = np.random.default_rng([n, trial])
        report = _check(joint(n, rng), joint(n, rng))
        assert report["multivariate"]["status"] == "tested"
        alarms += report["multivariate"]["drift"]
    assert alarms == 0


@pytest.mark.parametrize("kind", ["flip", "mixture", "rotation"])
def test_joint_only_drifts_are_caught_where_no_column_drifts(kind):
    for trial in range(3):
        rng = np.random.default_rng([10_000, trial, len(kind)])
        report = _check(joint(10_000, rng), joint(10_000, rng, kind))
        assert report["drifted_columns"] == []  # every marginal is unchanged ...
        assert report["multivariate"]["drift"] is True  # ... the joint distribution is not
        assert report["multivariate"]["current_error_mean"] > report["multivariate"]["reference_error_mean"]


def test_the_profile_stores_a_small_model_and_no_rows():
    rng = np.random.default_rng(1)
    reference = joint(50_000, rng)
    profile = build_profile(reference)
    model = profile.multivariate
    assert model["columns"] == ["a", "b", "m1", "m2", "c1", "c2", "c3", "u"]  # numeric only
    assert 1 <= len(model["components"]) < 8 and model["variance_kept"] >= multivariate.VARIANCE_KEPT
    assert model["fit_rows"] == multivariate.FIT_ROWS
    assert len(json.dumps(model)) < 60_000
    text = json.dumps(model)
    assert not any(f"{v:.10g}" in text for v in reference["b"].to_numpy()[:200])  # no raw values


def test_chunking_does_not_change_the_verdict():
    rng = np.random.default_rng(2)
    profile = build_profile(joint(5_000, rng))
    current = joint(120_000, rng, "mixture")
    whole = summarise_frame(profile, current)[multivariate.KEY]
    batches = (FrameBatch(current.iloc[s : s + 7_000], s) for s in range(0, len(current), 7_000))
    parts, _ = summarise_batches(profile, batches, total_rows=len(current))
    assert whole.count == parts[multivariate.KEY].count == 40_000  # every third row: an even spread, capped
    np.testing.assert_array_equal(whole.counts, parts[multivariate.KEY].counts)


def test_too_few_numeric_features_is_a_reason_not_an_error():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=500), "k": rng.choice(list("ab"), 500)})
    report = _check(frame, frame)
    assert report["multivariate"] == {"status": "skipped", "reason": "fewer than two numeric features",
                                      "drift": False}  # fmt: skip
