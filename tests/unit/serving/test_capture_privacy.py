"""The capture follows the columns' data classes (issue 20, item 2): personal values hashed with the key, sensitive
columns absent, the rest as they came, and each object tagged with its most restricted class. In process: the
upload to S3 is tested on the local stack (tests/integration/test_privacy_erase.py, test_privacy_sentinel.py)."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
import pytest
from mlflow.types import ColSpec, Schema

from mlops.core.data_classes import CapturePolicy, parse_classes, pseudonym
from mlops.core.settings import get_settings
from mlops.serving import parquet
from mlops.serving.capture import Capture
from mlops.serving.dataplane import DataPlane
from mlops.serving.inputs import TabularSchema
from mlops.serving.model import LoadedModel

pytestmark = pytest.mark.unit
KEY = b"unit-test-key-0123456789abcdef012345"
SCHEMA = TabularSchema.from_mlflow(
    Schema([ColSpec("string", "email"), ColSpec("double", "income"), ColSpec("string", "diagnosis"),
            ColSpec("long", "visits")])
)  # fmt: skip
DECLARED = parse_classes({"income": "personal", "diagnosis": "sensitive", "visits": "public"}, "test")


def _model(version: str = "3", declared: dict | None = None) -> LoadedModel:
    return LoadedModel(None, "m", version, f"models:/m/{version}", SCHEMA, data_classes=dict(declared or DECLARED))


def test_personal_values_are_hashed_sensitive_ones_absent_and_the_object_tagged():
    policy = CapturePolicy.build(SCHEMA.names, DECLARED, KEY)
    capture = Capture(get_settings(serve_capture_sample_rate=1.0), "m", SCHEMA.columns, policy)
    rows = [["ann@example.com", 52000.0, "flu", 3], ["bob@example.com", None, "cold", 1]]
    capture.offer("r1", _model(), rows, np.array([0.1, 0.9]))
    capture._drain()
    records = capture._rows
    assert "diagnosis" not in capture.kinds and all("diagnosis" not in r for r in records)
    assert capture.kinds == {"email": "string", "income": "string", "visits": "long"}
    assert [r["email"] for r in records] == [pseudonym(KEY, "ann@example.com"), pseudonym(KEY, "bob@example.com")]
    assert records[0]["income"] == pseudonym(KEY, 52000) and records[1]["income"] is None  # missing stays missing
    assert [r["visits"] for r in records] == [3, 1]
    assert capture.object_tag == "mlops-data-class=personal"

    table = pq.read_table(io.BytesIO(parquet.encode(records, capture.kinds))).to_pandas()
    assert "diagnosis" not in table.columns
    text = table.to_csv()
    assert "ann@example.com" not in text and "flu" not in text and "52000" not in text
    assert table["visits"].tolist() == [3, 1]


def test_a_capture_of_public_and_internal_columns_is_tagged_internal():
    policy = CapturePolicy.build(SCHEMA.names[1:], {"income": "internal", "diagnosis": "public"}, None)
    capture = Capture(get_settings(serve_capture_sample_rate=1.0), "m", SCHEMA.columns[1:], policy)
    assert capture.object_tag == "mlops-data-class=internal" and capture.policy.personal == []


def test_no_key_means_no_capture_of_a_version_with_personal_columns():
    plane = DataPlane(get_settings(serve_capture_sample_rate=1.0))  # no hash key parameter configured
    plane.model_installed(_model())
    assert plane.capture is None


def test_a_version_with_other_classes_gets_a_capture_of_its_own():
    plane = DataPlane(get_settings(serve_capture_sample_rate=1.0, serve_capture_flush_seconds=3600))
    plane._key = KEY  # read from SSM once per worker; here given directly
    try:
        plane.model_installed(_model("3"))
        first = plane.capture
        assert first is not None and first.versions == {"3"}
        plane.model_installed(_model("4"))  # same classes: the same capture takes the new version's rows
        assert plane.capture is first and first.versions == {"3", "4"}
        plane.model_installed(_model("5", {**DECLARED, "visits": "personal"}))
        assert plane.capture is not first and plane.capture.versions == {"5"}
        assert plane.capture.kinds["visits"] == "string"
        plane._capture("late", _model("4"), [["a@b.c", 1.0, "x", 2]], np.array([0.0]))  # scored before the swap
        assert not plane.capture._pending  # not recorded under version 5's policy
    finally:
        if plane.capture is not None:
            plane.capture.close()
