import json

import pytest

from mlops.training.gate import decide
from mlops.training.params import GateParams

pytestmark = pytest.mark.unit

LINEAGE = {
    "mlops.git.commit": "a" * 40,
    "mlops.git.dirty": "false",
    "mlops.dvc.lock_md5": "b" * 32,
    "mlops.dvc.remote_url": "s3://mlops-data/dvc/x",
    "mlops.data.data/raw.csv.md5": "c" * 32,
}
GATE = GateParams(primary_metric="roc_auc", min_improvement=0.01, slice_tolerance=0.05, floors={"roc_auc": 0.7})


def scores(auc: float, slices: dict[str, float] | None = None) -> dict:
    return {"roc_auc": auc, "accuracy": 0.8, "slices": {k: {"roc_auc": v} for k, v in (slices or {}).items()}}


def test_first_model_passes_on_floors_alone():
    decision = decide(scores(0.9), None, LINEAGE, GATE)
    assert decision.passed and decision.reasons == []
    assert decision.numbers["floors"]["roc_auc"] == {"floor": 0.7, "value": 0.9}


def test_floor_is_enforced_even_without_a_champion():
    decision = decide(scores(0.65), None, LINEAGE, GATE)
    assert not decision.passed
    (reason,) = decision.reasons
    assert all(part in reason for part in ("roc_auc", "0.65", "floor 0.7"))


def test_challenger_must_beat_champion_by_min_improvement():
    decision = decide(scores(0.905), scores(0.9), LINEAGE, GATE, champion_version="3")
    assert not decision.passed
    (reason,) = decision.reasons
    assert "+0.0050" in reason and "+0.0100" in reason  # the improvement and the one required
    assert decision.numbers["champion_version"] == "3"
    assert decision.numbers["improvement"] == pytest.approx(0.005)


def test_better_challenger_passes_and_records_numbers_as_tags():
    decision = decide(scores(0.95, {"segment=a": 0.9}), scores(0.9, {"segment=a": 0.92}), LINEAGE, GATE, "1")
    assert decision.passed
    tags = decision.tags()
    assert tags["mlops.gate.decision"] == "passed"
    numbers = json.loads(tags["mlops.gate.numbers"])
    assert numbers["challenger"] == 0.95 and numbers["champion"] == 0.9
    assert numbers["slices"]["segment=a"] == {"challenger": 0.9, "champion": 0.92}


def test_slice_regression_beyond_tolerance_rejects():
    decision = decide(scores(0.95, {"segment=b": 0.80}), scores(0.9, {"segment=b": 0.90}), LINEAGE, GATE, "1")
    assert not decision.passed
    (reason,) = decision.reasons
    assert all(part in reason for part in ("segment=b", "roc_auc", "0.8000", "0.9000", "0.05"))


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        ("mlops.git.commit", "mlops.git.commit"),
        ("mlops.dvc.lock_md5", "mlops.dvc.lock_md5"),
        ("mlops.dvc.remote_url", "mlops.dvc.remote_url"),
        ("mlops.data.data/raw.csv.md5", "mlops.data.*"),
    ],
)
def test_missing_lineage_never_passes(drop, named):
    lineage = {k: v for k, v in LINEAGE.items() if k != drop}
    decision = decide(scores(0.99), scores(0.5), lineage, GATE, "1")
    assert not decision.passed
    (reason,) = decision.reasons  # only the lineage: the scores would pass
    assert named in reason


def test_dirty_tree_never_passes():
    decision = decide(scores(0.99), None, {**LINEAGE, "mlops.git.dirty": "true"}, GATE)
    assert not decision.passed and "uncommitted changes" in decision.reasons[0]


def test_a_champion_on_another_schema_is_not_compared_and_nothing_passes_by_itself():
    note = "champion v2 cannot be scored on these held-out rows: held-out data lacks the model's input columns x1"
    decision = decide(scores(0.99), None, LINEAGE, GATE, champion_version="2", not_comparable=note)
    assert not decision.passed
    (reason,) = decision.reasons
    assert note in reason and "promote it by hand" in reason
