"""Drift on a capture that follows the data classes (issue 20, item 2): hashed personal columns are categorical and
still compared (the same key hashes the same value on both sides), sensitive columns that the capture never holds
are not reported missing, and a profile of raw values is never compared with hashes. The current windows are
hashed by `mlops.core.data_classes.CapturePolicy`, the code serving's capture stores rows with."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops.core.data_classes import CapturePolicy, parse_classes
from mlops.drift.builder import build_profile
from mlops.drift.check import run_check
from mlops.drift.config import DriftConfig
from mlops.drift.privacy import NOT_CAPTURED, RAW_REFERENCE
from mlops.drift.profile import ReferenceProfile
from mlops.drift.summary import summarise_frame

pytestmark = pytest.mark.unit
KEY = b"drift-unit-test-key-0123456789abcdef"
DECLARED = parse_classes({"customer_id": "personal", "notes": "sensitive", "segment": "public"}, "test")
FEATURES = ["customer_id", "email", "segment", "amount", "notes"]
POLICY = CapturePolicy.build(FEATURES, DECLARED, KEY)  # email: personal by its name


def raw(n: int, seed: int, customers: range = range(200)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = rng.choice(list(customers), n)
    return pd.DataFrame({
        "customer_id": ids.astype("int64"),
        "email": [f"user{i}@example.com" for i in ids],
        "segment": rng.choice(["a", "b", "c"], n),
        "amount": rng.normal(100, 15, n),
        "notes": [f"note {i}" for i in range(n)],
    })  # fmt: skip


def captured(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as the capture stores them."""
    kept = POLICY.kept(frame.columns)
    return pd.DataFrame({c: [POLICY.value(c, v) for v in frame[c].tolist()] for c in kept})


def check(profile: ReferenceProfile, current: pd.DataFrame, classes: dict | None = None) -> dict:
    return run_check(profile, summarise_frame(profile, current), list(current.columns), DriftConfig(),
                     current_rows=len(current), data_classes=classes)  # fmt: skip


def test_the_profile_holds_the_reference_as_the_capture_stores_it():
    profile = build_profile(raw(3000, 0), workers=1, policy=POLICY)
    assert "notes" not in profile.columns
    assert {profile.columns[c].kind for c in ("customer_id", "email")} == {"categorical"}  # never numeric
    assert profile.columns["amount"].kind == "numeric"
    assert profile.data_classes == POLICY.classes
    text = json.dumps(profile.to_dict())
    assert "@example.com" not in text and "note 1" not in text
    assert ReferenceProfile.from_dict(json.loads(text)).data_classes == POLICY.classes


def test_drift_is_still_found_and_not_found_on_hashed_columns():
    profile = build_profile(raw(3000, 0), workers=1, policy=POLICY)
    same = check(profile, captured(raw(3000, 1)))
    for name in ("customer_id", "email"):
        assert same["columns"][name]["status"] == "tested" and same["columns"][name]["kind"] == "categorical"
        assert same["columns"][name]["drift"] is False, same["columns"][name]
    assert same["dataset_drift"] is False

    new_customers = check(profile, captured(raw(3000, 2, customers=range(150, 350))))
    assert {"customer_id", "email"} <= set(new_customers["drifted_columns"])  # three quarters never seen before
    assert "amount" not in new_customers["drifted_columns"]


def test_a_sensitive_column_is_not_reported_missing():
    profile = build_profile(raw(3000, 0), workers=1)  # built before the classes: it profiled notes
    report = check(profile, captured(raw(3000, 1)), POLICY.classes)
    assert report["columns"]["notes"]["status"] == "skipped"
    assert report["columns"]["notes"]["reason"] == NOT_CAPTURED != "missing from the current data"


def test_hashes_are_never_compared_with_a_profile_of_raw_values():
    profile = build_profile(raw(3000, 0), workers=1)  # customer_id profiled as numbers, email as raw text
    report = check(profile, captured(raw(3000, 1)), POLICY.classes)
    for name in ("customer_id", "email"):
        assert report["columns"][name] | {"reason": RAW_REFERENCE} == report["columns"][name]
        assert report["columns"][name]["status"] == "skipped"
    assert report["columns"]["amount"]["status"] == "tested" and report["dataset_drift"] is False
