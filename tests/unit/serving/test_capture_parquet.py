"""Captured rows written as Parquet without pyarrow read back, with pyarrow, as the drift service reads them."""

import datetime as dt
import io
import json

import pandas as pd
import pytest

from mlops.serving.parquet import encode

pytestmark = pytest.mark.unit
KINDS = {"x": "double", "n": "long", "flag": "boolean", "segment": "string", "ssn": "string"}
AT = dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)


def _rows(predictions):
    return [
        {"request_id": f"r{i}", "timestamp": AT, "model_version": "3", "x": 0.5 * i, "n": i, "flag": i % 2 == 0,
         "segment": "a" if i else None, "ssn": None, "prediction": p}
        for i, p in enumerate(predictions)
    ]  # fmt: skip


def _read(body: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(body))


def test_inputs_keep_the_signature_types_and_nulls():
    frame = _read(encode(_rows([0.1, 0.9, 0.4]), KINDS))
    assert list(frame.columns) == ["request_id", "timestamp", "model_version", *KINDS, "prediction"]
    assert frame["x"].tolist() == [0.0, 0.5, 1.0] and frame["n"].tolist() == [0, 1, 2]
    assert frame["flag"].tolist() == [True, False, True]
    assert frame["segment"].isna().tolist() == [True, False, False] and frame["ssn"].isna().all()
    assert (frame["timestamp"] == pd.Timestamp(AT)).all() and str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["prediction"].tolist() == [0.1, 0.9, 0.4]


@pytest.mark.parametrize(
    ("predictions", "expected"),
    [([1, 0, 1], [1, 0, 1]), ([True, False, True], [True, False, True]), ([1, 0.5, 2], [1.0, 0.5, 2.0]),
     ([[0.2, 0.8], [0.6, 0.4], [1.0, 0.0]], [json.dumps([0.2, 0.8]), json.dumps([0.6, 0.4]), json.dumps([1.0, 0.0])]),
     (["cat", "dog", None], ["cat", "dog", None])],
)  # fmt: skip
def test_predictions_keep_their_type_or_become_json_text(predictions, expected):
    values = _read(encode(_rows(predictions), KINDS))["prediction"].tolist()
    assert [None if pd.isna(v) else v for v in values] == expected
