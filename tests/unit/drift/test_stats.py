"""Statistical sanity of the drift tests on small data: the binned statistics agree with scipy on raw data,
same-distribution windows do not alarm, real drifts do, and large samples do not turn trivia into drift."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from mlops.drift import stats
from mlops.drift.builder import build_profile
from mlops.drift.check import run_check
from mlops.drift.config import DriftConfig
from mlops.drift.profile import ProfileError, ReferenceProfile
from mlops.drift.summary import summarise_frame

pytestmark = pytest.mark.unit


def _check(reference: pd.DataFrame, current: pd.DataFrame, **config):
    profile = build_profile(reference)
    summaries = summarise_frame(profile, current)
    return run_check(profile, summaries, list(current.columns), DriftConfig(**config), current_rows=len(current))


def _frame(rng, n, shift=0.0, scale=1.0):
    return pd.DataFrame(
        {
            "x": rng.normal(size=n) * scale + shift,
            "k": rng.poisson(3, n),
            "c": rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def test_binned_ks_and_wasserstein_match_scipy_on_raw_data():
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(size=20_000), rng.normal(0.3, 1.2, size=5_000)
    profile = build_profile(pd.DataFrame({"x": ref}))
    summary = summarise_frame(profile, pd.DataFrame({"x": cur}))["x"]
    col = profile.columns["x"]
    assert stats.ks_statistic(col, summary) == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=2e-3)
    assert stats.wasserstein(col, summary) == pytest.approx(sps.wasserstein_distance(ref, cur), rel=0.02)


def test_binned_statistics_are_exact_for_integer_values():
    rng = np.random.default_rng(8)
    ref, cur = rng.poisson(3, 4_000), rng.poisson(3.5, 3_000)
    profile = build_profile(pd.DataFrame({"k": ref}))
    summary = summarise_frame(profile, pd.DataFrame({"k": cur}))["k"]
    col = profile.columns["k"]
    # the current window has values above the reference max: exact thanks to the kept sums
    assert stats.wasserstein(col, summary) == pytest.approx(sps.wasserstein_distance(ref, cur), rel=1e-9)
    assert stats.ks_statistic(col, summary) == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)


def test_ks_p_value_agrees_with_scipy():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=2000), rng.normal(0.08, 1, size=1500)
    result = sps.ks_2samp(a, b, method="asymp")
    assert stats.ks_p_value(result.statistic, 2000, 1500) == pytest.approx(result.pvalue, rel=0.1)


def test_benjamini_hochberg_matches_scipy():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert stats.benjamini_hochberg(p) == pytest.approx(sps.false_discovery_control(p).tolist())


@pytest.mark.parametrize("seed", range(5))
def test_same_distribution_raises_no_alarm(seed):
    rng = np.random.default_rng(seed)
    report = _check(_frame(rng, 3_000), _frame(rng, 2_000))
    assert report["drifted_columns"] == [] and report["dataset_drift"] is False
    assert report["drift_share"] == 0.0


def test_real_drifts_are_caught():
    rng = np.random.default_rng(11)
    cur = _frame(rng, 10_000, shift=0.25)
    cur["c"] = rng.choice(list("abcd"), 10_000, p=[0.3, 0.4, 0.2, 0.1])  # total variation 0.1
    cur.loc[rng.random(10_000) < 0.2, "k"] = np.nan  # missing rate up 20 points
    report = _check(_frame(rng, 10_000), cur)
    assert report["drifted_columns"] == ["c", "k", "x"]
    assert report["columns"]["k"]["method"] == "missing_rate"
    assert report["dataset_drift"] is True


def test_a_new_category_is_caught_by_the_unseen_test():
    rng = np.random.default_rng(12)
    cur = _frame(rng, 10_000)
    cur.loc[rng.random(10_000) < 0.1, "c"] = "brand-new"
    report = _check(_frame(rng, 10_000), cur)
    unseen = report["columns"]["c"]["tests"]["unseen_categories"]
    assert unseen["drift"] is True and unseen["examples"] == ["brand-new"]
    assert unseen["share"] == pytest.approx(0.1, abs=0.01)


def test_large_samples_do_not_turn_a_trivial_shift_into_drift():
    rng = np.random.default_rng(13)
    report = _check(pd.DataFrame({"x": rng.normal(size=400_000)}), pd.DataFrame({"x": rng.normal(0.03, 1, 400_000)}))
    column = report["columns"]["x"]
    assert column["tests"]["wasserstein"]["p_value"] < 1e-6  # clearly "significant" ...
    assert column["drift"] is False  # ... but 0.03 standard deviations is below the effect threshold


def test_importance_weights_the_drift_share():
    rng = np.random.default_rng(14)
    report = _check(_frame(rng, 5_000), _frame(rng, 5_000, shift=1.0), importance={"x": 8.0, "k": 1.0, "c": 1.0})
    assert report["drifted_columns"] == ["x"]
    assert report["drift_share"] == pytest.approx(0.8)
    assert report["dataset_drift"] is True


def test_all_null_reference_column_is_skipped_and_the_rest_is_checked():
    rng = np.random.default_rng(15)
    ref = _frame(rng, 2_000).assign(empty=np.nan)
    report = _check(ref, _frame(rng, 2_000).assign(empty=1.0))
    assert report["columns"]["empty"]["status"] == "skipped"
    assert "missing" in report["columns"]["empty"]["reason"]
    assert report["summary"]["tested_columns"] == 3


def test_all_null_current_column_is_a_missing_rate_drift():
    rng = np.random.default_rng(16)
    report = _check(_frame(rng, 2_000), _frame(rng, 2_000).assign(x=np.nan))
    assert report["columns"]["x"]["drift"] is True
    assert report["columns"]["x"]["method"] == "missing_rate"


def test_profile_round_trip_and_atomic_save(tmp_path):
    rng = np.random.default_rng(17)
    frame = _frame(rng, 1_000).assign(y=rng.integers(0, 2, 1_000), p=rng.random(1_000))
    profile = build_profile(frame, target="y", prediction="p", model_name="m")
    path = profile.save(tmp_path / "profile.json")
    loaded = ReferenceProfile.load(path)
    assert loaded.to_dict() == json.loads(path.read_text())
    assert loaded.task == "classification" and set(loaded.reference_metrics) == {"accuracy", "f1", "auc"}
    assert loaded.feature_columns == ["x", "k", "c"]
    assert [p.name for p in tmp_path.iterdir()] == ["profile.json"]  # no temp file left behind


def test_build_profile_rejects_bad_input():
    with pytest.raises(ProfileError, match="no rows"):
        build_profile(pd.DataFrame({"x": []}))
    with pytest.raises(ProfileError, match="target column 'y'"):
        build_profile(pd.DataFrame({"x": [1.0]}), target="y")
    with pytest.raises(ProfileError, match="duplicate column names: x"):
        build_profile(pd.DataFrame([[1, 2]], columns=["x", "x"]))


def test_chi_square_and_jensen_shannon_match_scipy():
    from scipy.spatial import distance

    ref, cur = np.array([30.0, 50, 20, 0]), np.array([25.0, 40, 40, 3])
    expected = sps.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert stats.chi_square(ref, cur) == pytest.approx((expected.statistic, expected.pvalue))
    p, q = ref / ref.sum(), cur / cur.sum()
    assert stats.jensen_shannon(p, q) == pytest.approx(distance.jensenshannon(p, q, base=2))
