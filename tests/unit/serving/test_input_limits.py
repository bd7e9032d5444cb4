"""Abusive and odd request bodies, in process: each is refused before anything is built from it, with a 4xx naming
the field and the limit (issue 18, items 1, 3 and 4). The live-server versions are in
tests/integration/test_serving_abuse.py."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest
from mlflow.types import ColSpec, Schema

from mlops.serving import v2
from mlops.serving.inputs import ClientError, TabularSchema

pytestmark = pytest.mark.unit
OVERFLOW = 6148914691236517206  # times 3 overflows int64 to 2, the length of the data below


@pytest.fixture
def numeric() -> TabularSchema:
    return TabularSchema.from_mlflow(Schema([ColSpec("double", c) for c in "xyz"]), max_rows=100)


@pytest.fixture
def mixed() -> TabularSchema:
    schema = Schema([ColSpec("double", "a"), ColSpec("long", "n"), ColSpec("integer", "i", required=False)])
    return TabularSchema.from_mlflow(schema, max_rows=100)


def _error(fn, *args) -> ClientError:
    with pytest.raises(ClientError) as info:
        fn(*args)
    return info.value


def _v2(*tensors) -> bytes:
    return json.dumps({"inputs": list(tensors)}).encode()


def test_a_v2_shape_whose_product_overflows_int64_is_refused_at_once(numeric):
    started = time.perf_counter()
    error = _error(v2.parse_infer, numeric, _v2({"name": "t", "shape": [OVERFLOW, 3], "datatype": "FP64",
                                                 "data": [1.0, 2.0]}))  # fmt: skip
    assert time.perf_counter() - started < 0.1  # no rows were built
    assert error.status == 413 and error.field == "inputs[0].shape"
    assert "the limit is 100 rows" in error.message and "MLOPS_SERVE_MAX_REQUEST_ROWS" in error.message
    # within the row limit, a huge second dimension is compared exactly (Python integers), never allocated
    error = _error(v2.parse_infer, numeric, _v2({"name": "t", "shape": [2, OVERFLOW], "datatype": "FP64",
                                                 "data": [1.0, 2.0]}))  # fmt: skip
    assert error.status == 422 and error.field == "inputs[0].data"


@pytest.mark.parametrize(
    ("tensor", "field"),
    [
        ({"name": "x", "shape": [True], "datatype": "FP64", "data": [1.0]}, "inputs[0].shape"),  # true is not 1
        ({"name": "x", "shape": [1, 1, 1], "datatype": "FP64", "data": [1.0]}, "inputs[0].shape"),
        ({"name": "x", "shape": [-1], "datatype": "FP64", "data": [1.0]}, "inputs[0].shape"),
        ({"name": "x", "shape": [2], "datatype": "FP64", "data": [[1.0], 2.0]}, "inputs[0].data"),
        ({"name": "x", "shape": [1], "datatype": "FP64", "data": [[[[1.0]]]]}, "inputs[0].data"),
        ({"name": "x", "shape": [1], "datatype": "FP64", "data": [True]}, "inputs[0].x"),
    ],
)
def test_malformed_v2_tensors_are_422_naming_the_field(numeric, tensor, field):
    others = [{"name": c, "shape": [1], "datatype": "FP64", "data": [0.5]} for c in "yz"]
    error = _error(v2.parse_infer, numeric, _v2(tensor, *others))
    assert error.status == 422 and error.field.startswith(field), (error.field, error.message)


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["x", "y", "z"], "data": [[0, 0, 0]] * 101}},
        {"dataframe_split": {"columns": ["z", "y", "x"], "data": [[0, 0, 0]] * 101}},
        {"dataframe_records": [{"x": 0, "y": 0, "z": 0}] * 101},
        {"instances": [[0, 0, 0]] * 101},
        {"inputs": {"x": [0] * 101, "y": [0] * 101, "z": [0] * 101}},
    ],
)
def test_every_json_layout_has_the_row_limit(numeric, body):
    error = _error(numeric.parse_json, json.dumps(body).encode())
    assert error.status == 413 and "has 101 rows; the limit is 100 rows per request" in error.message


def test_csv_has_the_row_limit_and_stops_reading_at_it(numeric):
    body = b"x,y,z\n" + b"1,2,3\n" * 1_000_000
    started = time.perf_counter()
    error = _error(numeric.parse_csv, body)
    assert time.perf_counter() - started < 0.5  # the 999,900 rows past the limit are never split into fields
    assert error.status == 413 and "more than 100 rows" in error.message


def test_a_csv_field_over_the_csv_modules_limit_is_a_4xx_not_a_500(mixed):
    limit = csv.field_size_limit()
    error = _error(mixed.parse_csv, b"a,n\n" + b"1" * (limit + 10) + b",2\n")
    assert error.status == 413 and error.field == "csv" and str(limit) in error.message
    assert _error(mixed.parse_csv, b'a,n\n"1,2\n').status in (400, 422)  # an unterminated quote


def test_a_boolean_in_a_double_column_is_refused_even_on_the_numpy_fast_path(numeric):
    for body in (b'{"inputs": [[true, 0.5, 0.5]]}', b'{"dataframe_split": {"columns": ["x","y","z"], '
                 b'"data": [[0.5, false, 0.5]]}}'):  # fmt: skip
        error = _error(numeric.parse_json, body)
        assert error.status == 422 and error.message.endswith("has bool"), error.message
    assert numeric.parse_json(b'{"inputs": [[1, 0.5, 0.5]]}').tolist() == [[1.0, 0.5, 0.5]]


def test_a_utf8_bom_is_ignored(mixed, numeric):
    assert mixed.parse_csv(b"\xef\xbb\xbfa,n\n0.5,3\n") == [[0.5, 3, None]]
    assert numeric.parse_json(b'\xef\xbb\xbf{"inputs": [[1.0, 2.0, 3.0]]}').tolist() == [[1.0, 2.0, 3.0]]
    rows, _ = v2.parse_infer(numeric, b"\xef\xbb\xbf" + _v2({"name": "t", "shape": [1, 3], "datatype": "FP64",
                                                             "data": [1, 2, 3]}))  # fmt: skip
    assert np.asarray(rows).tolist() == [[1.0, 2.0, 3.0]]


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"a": 1.0, "n": 2**63}, "dataframe_records[0].n"),
        ({"a": 1.0, "n": 1, "i": 2**31}, "dataframe_records[0].i"),
        ({"a": 1.0, "n": 1e300}, "dataframe_records[0].n"),
    ],
)
def test_integers_out_of_their_columns_range_are_422(mixed, record, field):
    error = _error(mixed.parse_json, json.dumps({"dataframe_records": [record]}).encode())
    assert error.status == 422 and error.field == field and "out of range" in error.message


def test_a_large_json_body_with_too_many_values_is_refused_before_it_is_parsed(numeric):
    tiny_rows = b'{"inputs": [' + b"[0,0,0]," * 500_000 + b"[0,0,0]]}"
    started = time.perf_counter()
    error = _error(numeric.parse_json, tiny_rows)
    assert time.perf_counter() - started < 0.5  # a scan, not a parse of 2 million values
    assert error.status == 413 and error.field == "body" and "the limit is 100 rows" in error.message
    v2_body = _v2({"name": "t", "shape": [500_000, 3], "datatype": "FP64", "data": [0] * 1_500_000})
    assert _error(v2.parse_infer, numeric, v2_body).status == 413
    # commas inside strings (escaped quotes too) are not values: a large body under the row limit is parsed
    text = 'a, "quoted", b,' * 100_000
    mixed_text = TabularSchema.from_mlflow(Schema([ColSpec("string", "s"), ColSpec("double", "x")]), max_rows=100)
    rows = mixed_text.parse_json(json.dumps({"dataframe_records": [{"s": text, "x": 1.0}] * 2}).encode())
    assert len(rows) == 2 and rows[0][0] == text
