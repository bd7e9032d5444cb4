"""Request parsing and signature validation for serving, on a real MLflow schema."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mlflow.types import ColSpec, Schema

from mlops.serving import v2
from mlops.serving.inputs import ClientError, TabularSchema, media_type

pytestmark = pytest.mark.unit


@pytest.fixture
def mixed() -> TabularSchema:
    schema = Schema([ColSpec("double", "a"), ColSpec("long", "n"), ColSpec("string", "s", required=False)])
    return TabularSchema.from_mlflow(schema)


@pytest.fixture
def numeric() -> TabularSchema:
    return TabularSchema.from_mlflow(Schema([ColSpec("double", "x"), ColSpec("double", "y")]))


def _error(fn, *args) -> ClientError:
    with pytest.raises(ClientError) as info:
        fn(*args)
    return info.value


def test_every_json_layout_gives_the_same_rows(mixed):
    records = [{"a": 1.5, "n": 2, "s": "u"}, {"a": 0.0, "n": 7, "s": None}]
    bodies = [
        {"dataframe_split": {"columns": ["s", "n", "a"], "data": [["u", 2, 1.5], [None, 7, 0.0]]}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {"a": [1.5, 0.0], "n": [2, 7], "s": ["u", None]}},
        {"inputs": [[1.5, 2, "u"], [0.0, 7, None]]},
    ]
    for body in bodies:
        assert mixed.parse_json(json.dumps(body).encode()) == [[1.5, 2, "u"], [0.0, 7, None]], body
    frame = mixed.frame([[[1.5, 2, "u"]], [[0.0, 7, None]]])
    assert list(frame.columns) == ["a", "n", "s"] and str(frame["n"].dtype) == "int64"


def test_numeric_rows_stay_arrays_and_concatenate(numeric):
    rows = numeric.parse_json(b'{"dataframe_split": {"columns": ["y", "x"], "data": [[1, 2.5]]}}')
    assert isinstance(rows, np.ndarray) and rows.tolist() == [[2.5, 1.0]]
    frame = numeric.frame([rows, numeric.parse_csv(b"x,y\n3,4\n")])
    assert frame.to_numpy().tolist() == [[2.5, 1.0], [3.0, 4.0]] and str(frame["x"].dtype) == "float64"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{", 400, "body"),
        (b"[1]", 400, "body"),
        (b'{"rows": []}', 400, "body"),
        (b'{"inputs": [], "instances": []}', 400, "body"),
        (b'{"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}', 422, "dataframe_split.n"),
        (b'{"dataframe_split": {"columns": "a", "data": []}}', 422, "dataframe_split.columns"),
        (b'{"dataframe_records": [{"a": true, "n": 1}]}', 422, "dataframe_records[0].a"),
        (b'{"dataframe_records": [{"a": 1.0, "n": 1.5}]}', 422, "dataframe_records[0].n"),
        (b'{"dataframe_records": [{"a": null, "n": 1}]}', 422, "dataframe_records[0].a"),
        (b'{"dataframe_records": [{"a": 1.0, "n": 1, "s": 5}]}', 422, "dataframe_records[0].s"),
        (b'{"inputs": [[1.0, 2]]}', 422, "inputs"),
        (b'{"inputs": {"a": [1.0, 2.0], "n": [1]}}', 422, "inputs"),
        (b'{"dataframe_split": {"columns": ["a", "n"], "data": []}}', 422, "dataframe_split.data"),
    ],
)
def test_bad_json_names_the_field(mixed, body, status, field):
    error = _error(mixed.parse_json, body)
    assert (error.status, error.field) == (status, field)


def test_csv_errors(mixed):
    assert _error(mixed.parse_csv, b"").status == 400
    assert _error(mixed.parse_csv, b"a,n\n1.0,x\n").field == "csv"
    assert _error(mixed.parse_csv, b"a,n\n1.0\n").status == 422
    assert _error(mixed.parse_csv, b"\xff").status == 400
    assert mixed.parse_csv(b"n,a\n3,0.5\n") == [[0.5, 3, None]]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("text/csv", "text/csv"),
        (None, 415),
        ("application/xml", 415),
        ("application/json; charset=latin-1", 415),
        ("application/json; format=pandas-split", 415),
    ],
)
def test_media_type(header, expected):
    if isinstance(expected, int):
        assert _error(media_type, header).status == expected
    else:
        assert media_type(header) == expected


def test_schemas_the_fast_path_does_not_cover():
    from mlflow.types import TensorSpec

    assert TabularSchema.from_mlflow(None) is None
    assert TabularSchema.from_mlflow(Schema([TensorSpec(np.dtype("float64"), (-1, 3))])) is None


def test_v2_decoding(numeric, mixed):
    by_column = {"inputs": [{"name": "y", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]},
                            {"name": "x", "shape": [2, 1], "datatype": "INT64", "data": [[3], [4]]}]}  # fmt: skip
    rows, request_id = v2.parse_infer(numeric, json.dumps(by_column).encode())
    assert rows.tolist() == [[3, 1.0], [4, 2.0]] and request_id is None
    one = {"id": "r1", "inputs": [{"name": "t", "shape": [1, 2], "datatype": "FP32", "data": [5.0, 6.0]}]}
    rows, request_id = v2.parse_infer(numeric, json.dumps(one).encode())
    assert rows.tolist() == [[5.0, 6.0]] and request_id == "r1"
    bad = [
        ({"inputs": []}, 400),
        ({"inputs": [{"name": "t", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}, 422),
        ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1.0]}]}, 422),
        ({"inputs": [{"name": "n", "shape": [1], "datatype": "FP64", "data": [1.5]}]}, 422),
        ({"inputs": [{"name": "a", "shape": "1", "datatype": "FP64", "data": [1.5]}]}, 422),
    ]
    for body, status in bad:
        assert _error(v2.parse_infer, mixed, json.dumps(body).encode()).status == status, body
    outputs = v2.encode_outputs(np.array([1, 0]))
    assert outputs == [{"name": "predictions", "shape": [2], "datatype": "INT64", "data": [1, 0]}]
