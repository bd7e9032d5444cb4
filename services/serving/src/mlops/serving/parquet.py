"""Captured rows as one Parquet file, written with arro3 (Arrow in Rust, about 33 MB installed) rather than pyarrow
(about 150 MB): the serving image stays small, and the drift service reads the files with pyarrow like any other.

Columns: request_id and model_version (string), timestamp (UTC, microseconds), one column per model input typed
from the signature, prediction (bool, int64 or float64 when every value is one; JSON text otherwise) and, when any
row has it, prediction_proba (JSON text of {class label: probability}).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

from mlops.core.contracts import CAPTURE_META_COLUMNS, CAPTURE_PREDICTION_COLUMN, CAPTURE_PROBABILITIES_COLUMN

# MLflow signature type -> Arrow type name (arro3.core.DataType factory)
_ARROW_TYPE = {
    "double": "float64",
    "float": "float64",
    "long": "int64",
    "integer": "int64",
    "boolean": "bool",
    "string": "string",
}


class _Sink(io.BytesIO):
    def close(self) -> None:  # the writer closes its file; the bytes must outlive that
        pass


def _prediction_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int64"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "float64"
    return "string"


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value, default=str)


def encode(rows: Sequence[dict[str, Any]], input_kinds: dict[str, str]) -> bytes:
    """One Parquet file of `rows` (dicts with the meta columns, every input and `prediction`)."""
    from arro3.core import Array, DataType, Table
    from arro3.io import write_parquet

    def array(values: list[Any], type_name: str) -> Any:
        if type_name == "string":
            values = [_text(v) for v in values]
        elif type_name == "float64":
            values = [None if v is None else float(v) for v in values]
        return Array(values, getattr(DataType, type_name)())

    request_id, timestamp, model_version = CAPTURE_META_COLUMNS
    micros = [int(row[timestamp].astimezone(dt.UTC).timestamp() * 1_000_000) for row in rows]
    columns = {
        request_id: array([row[request_id] for row in rows], "string"),
        timestamp: Array(micros, DataType.int64()).cast(DataType.timestamp("us", tz="UTC")),
        model_version: array([row[model_version] for row in rows], "string"),
    }
    for name, kind in input_kinds.items():
        columns[name] = array([row[name] for row in rows], _ARROW_TYPE[kind])
    predictions = [row[CAPTURE_PREDICTION_COLUMN] for row in rows]
    columns[CAPTURE_PREDICTION_COLUMN] = array(predictions, _prediction_type(predictions))
    if any(CAPTURE_PROBABILITIES_COLUMN in row for row in rows):
        columns[CAPTURE_PROBABILITIES_COLUMN] = array([row.get(CAPTURE_PROBABILITIES_COLUMN) for row in rows], "string")
    sink = _Sink()
    write_parquet(Table.from_pydict(columns), sink)
    return sink.getvalue()
