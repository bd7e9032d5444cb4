"""The gate scores every problem type the template generates: binary, multiclass and regression."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from mlops.training.gate import decide
from mlops.training.params import GateParams
from mlops.training.stages import score

pytestmark = pytest.mark.unit

LINEAGE = {
    "mlops.git.commit": "abc",
    "mlops.dvc.lock_md5": "d" * 32,
    "mlops.dvc.remote_url": "s3://b/p",
    "mlops.data.data/raw.csv.md5": "e" * 32,
}


def _frame(rows=400, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    frame["segment"] = rng.choice(["a", "b"], rows)
    return frame


def test_multiclass_scores_accuracy_macro_f1_and_ovr_auc():
    frame = _frame()
    frame["label"] = np.digitize(frame["x1"] + 0.3 * frame["x2"], [-0.5, 0.5])
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame[["x1", "x2"]], frame["label"])
    result = score(
        model, _frame(seed=1).assign(label=lambda f: np.digitize(f["x1"], [-0.5, 0.5])), "label", ["segment"]
    )
    assert set(result) >= {"roc_auc", "accuracy", "f1", "slices"}
    assert 0.6 < result["accuracy"] <= 1 and 0.6 < result["roc_auc"] <= 1
    assert set(result["slices"]) == {"segment=a", "segment=b"}


def test_regression_scores_r2_rmse_mae_and_the_gate_treats_errors_as_lower_is_better():
    train = _frame().assign(y=lambda f: 2 * f["x1"] - f["x2"])
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(train[["x1", "x2"]], train["y"])
    held_out = _frame(seed=1).assign(y=lambda f: 2 * f["x1"] - f["x2"])
    challenger = score(model, held_out, "y", ["segment"])
    assert challenger["r2"] > 0.8 and challenger["rmse"] < 1 and challenger["mae"] < challenger["rmse"] + 1e-9

    worse = {**challenger, "rmse": challenger["rmse"] + 0.5, "slices": {}}
    gate = GateParams(primary_metric="rmse", min_improvement=0.1, floors={"r2": 0.5, "rmse": 2.0})
    assert decide(challenger, worse, LINEAGE, gate).passed  # a lower rmse is the improvement
    rejected = decide(worse, challenger, LINEAGE, gate)
    assert not rejected.passed and "improvement -0.5000" in rejected.reasons[0]
    ceiling = decide({**challenger, "rmse": 2.5}, None, LINEAGE, gate)
    (reason,) = ceiling.reasons
    assert all(part in reason for part in ("rmse", "2.5", "ceiling 2.0"))
