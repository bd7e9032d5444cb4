"""Request bodies -> validated rows, checked against the model signature.

The fast path covers column-based signatures of scalar types (what tabular models log): every accepted request
becomes a list of rows in signature order, so concurrent requests can be concatenated into one predict call. A bad
body raises `ClientError` naming the field; the payload itself is never quoted back.

Every layout counts its rows before building anything from them: more than `max_rows` (MLOPS_SERVE_MAX_REQUEST_ROWS)
is a 413 naming the limit, so one request cannot make the server allocate or score without bound.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np
import orjson

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
NUMPY_TYPES = {
    "double": np.float64,
    "float": np.float32,
    "long": np.int64,
    "integer": np.int32,
    "boolean": np.bool_,
    "string": object,
}


Rows = np.ndarray | list[list]  # one request's rows in signature order (see TabularSchema.check_rows)
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some clients put first; it is not part of the JSON or CSV
INT_RANGE = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
DEFAULT_MAX_ROWS = 10_000
PRECHECK_BYTES = 1 << 20  # JSON bodies from this size are counted before they are parsed (see check_json_size)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


class ClientError(Exception):
    """A client mistake: answered with `status` and a JSON body {"error": message, "field": field}."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def body(self) -> dict:
        return {"error": self.message, "field": self.field} if self.field else {"error": self.message}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # MLflow type name: double, float, long, integer, boolean, string
    required: bool


class TabularSchema:
    """A column-based MLflow input schema of scalar types, with fast row validation."""

    def __init__(self, columns: list[Column], max_rows: int = DEFAULT_MAX_ROWS):
        self.columns = columns
        self.max_rows = max_rows
        self.names = [c.name for c in columns]
        self.index = {c.name: i for i, c in enumerate(columns)}
        self.all_floating = all(c.kind in ("double", "float") for c in columns)
        self.all_double = all(c.kind == "double" for c in columns)

    @classmethod
    def from_mlflow(cls, schema, max_rows: int = DEFAULT_MAX_ROWS) -> TabularSchema | None:
        """None when the model has no signature or one this fast path does not cover (tensors, arrays, objects)."""
        if schema is None or not schema.has_input_names() or schema.is_tensor_spec():
            return None
        columns = []
        for spec in schema.inputs:
            kind = getattr(getattr(spec, "type", None), "name", None)
            if kind not in NUMPY_TYPES:
                return None
            columns.append(Column(spec.name, kind, bool(getattr(spec, "required", True))))
        return cls(columns, max_rows)

    def check_count(self, n: int, where: str, counted: str | None = None) -> None:
        """413 before anything is built from more than max_rows rows."""
        if n > self.max_rows:
            raise ClientError(
                413,
                f"'{where}' has {counted or n} rows; the limit is {self.max_rows} rows per request "
                "(MLOPS_SERVE_MAX_REQUEST_ROWS)",
                where,
            )

    # ---- values ----------------------------------------------------------------------------------------
    def check_value(self, value, j: int, row: int, where: str):
        """Return `value` converted for column j, or raise 422 naming the column and row."""
        col = self.columns[j]
        field = f"{where}[{row}].{col.name}"
        if value is None:
            if col.required:
                raise ClientError(422, f"column '{col.name}' is required but row {row} has no value", field)
            return float("nan") if col.kind in ("double", "float") else None
        kind = col.kind
        if kind in ("double", "float"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif kind in ("long", "integer"):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                low, high = INT_RANGE[kind]
                if not low <= value <= high:
                    raise ClientError(422, f"column '{col.name}' row {row} is out of range for {kind}", field)
                return value
        elif kind == "boolean":
            if isinstance(value, bool):
                return value
        elif isinstance(value, str):
            return value
        raise ClientError(422, f"column '{col.name}' expects {kind}, row {row} has {type(value).__name__}", field)

    def check_json_size(self, body: bytes) -> None:
        """Refuse a large JSON body that holds more values than max_rows rows of this signature can, counted as the
        commas outside strings, before parsing it: parsing holds the GIL (and the event loop with it) for about 2 s
        per 20 MB of small values, and a million tiny rows would make the server pay that to learn they are too
        many. Every layout has about one comma per value, so a body under the row limit always passes."""
        if len(body) < PRECHECK_BYTES:
            return
        values = _JSON_STRING.sub(b'""', body).count(b",")
        if values > self.max_rows * (len(self.columns) + 1) + 1000:
            raise ClientError(
                413,
                f"the body holds about {values} values, more than {self.max_rows} rows of {len(self.columns)} "
                f"columns; the limit is {self.max_rows} rows per request (MLOPS_SERVE_MAX_REQUEST_ROWS)",
                "body",
            )

    def check_rows(self, rows: list[list], where: str, fast: bool = True) -> Rows:
        """Validate rows already in signature order. Numeric-only schemas are checked in one numpy pass and come
        back as a 2-D array (cheap to concatenate into a batch); others as lists of checked values. `fast=False`
        when the body may hold booleans, which numpy would quietly turn into 1.0 and 0.0."""
        if not rows:
            raise ClientError(422, f"'{where}' has no rows", where)
        self.check_count(len(rows), where)
        if self.all_floating and fast:
            try:
                arr = np.asarray(rows)
            except (ValueError, OverflowError):
                arr = None  # ragged: fall through to the per-value check, which names the row
            if arr is not None and arr.dtype.kind in "fiu" and arr.ndim == 2 and arr.shape[1] == len(self.columns):
                return arr
        width = len(self.columns)
        checked = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                got = len(row) if isinstance(row, list) else type(row).__name__
                raise ClientError(422, f"row {i} must be a list of {width} values in signature order, got {got}", where)
            checked.append([self.check_value(v, j, i, where) for j, v in enumerate(row)])
        return checked

    def _missing(self, present, where: str) -> None:
        for col in self.columns:
            if col.required and col.name not in present:
                raise ClientError(422, f"required column '{col.name}' is missing", f"{where}.{col.name}")

    # ---- layouts ---------------------------------------------------------------------------------------
    def from_split(self, obj, where: str, fast: bool = True) -> Rows:
        if not isinstance(obj, dict):
            raise ClientError(422, f"'{where}' must be an object with 'columns' and 'data'", where)
        columns, data = obj.get("columns"), obj.get("data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ClientError(422, f"'{where}.columns' must be a list of column names", f"{where}.columns")
        if not isinstance(data, list):
            raise ClientError(422, f"'{where}.data' must be a list of rows", f"{where}.data")
        self._missing(columns, where)
        self.check_count(len(data), f"{where}.data")
        if columns == self.names:
            return self.check_rows(data, f"{where}.data", fast)
        positions = [(self.index[c], k) for k, c in enumerate(columns) if c in self.index]
        reordered = []
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(columns):
                raise ClientError(422, f"row {i} must have {len(columns)} values, one per column", f"{where}.data")
            out = [None] * len(self.columns)
            for j, k in positions:
                out[j] = row[k]
            reordered.append(out)
        return self.check_rows(reordered, f"{where}.data", fast)

    def from_records(self, records, where: str, fast: bool = True) -> Rows:
        if not isinstance(records, list) or not records:
            raise ClientError(422, f"'{where}' must be a non-empty list of objects", where)
        self.check_count(len(records), where)
        rows = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise ClientError(422, f"'{where}[{i}]' must be an object mapping column to value", f"{where}[{i}]")
            self._missing(rec, f"{where}[{i}]")
            rows.append([rec.get(name) for name in self.names])
        return self.check_rows(rows, where, fast)

    def from_columns(self, obj: dict, where: str, fast: bool = True) -> Rows:
        self._missing(obj, where)
        lengths = {len(v) if isinstance(v, list) else 1 for k, v in obj.items() if k in self.index}
        if len(lengths) != 1:
            raise ClientError(422, f"every column in '{where}' must hold the same number of values", where)
        n = lengths.pop()
        self.check_count(n, where)
        cols = [obj.get(name, [None] * n) for name in self.names]
        cols = [c if isinstance(c, list) else [c] for c in cols]
        return self.check_rows([list(r) for r in zip(*cols, strict=True)], where, fast)

    def from_tensor_like(self, value, where: str, fast: bool = True) -> Rows:
        """`instances` / `inputs`: records, a column dict, or rows of values in signature order."""
        if isinstance(value, dict):
            return self.from_columns(value, where, fast)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return self.from_records(value, where, fast)
        if isinstance(value, list):
            return self.check_rows(value, where, fast)
        raise ClientError(422, f"'{where}' must be a list of rows, a list of objects or an object of columns", where)

    def parse_json(self, body: bytes) -> Rows:
        self.check_json_size(body)
        payload = decode_json(body)
        key = format_key(payload)
        value = payload[key]
        fast = may_skip_bool_check(body)
        if key == "dataframe_split":
            return self.from_split(value, key, fast)
        if key == "dataframe_records":
            return self.from_records(value, key, fast)
        return self.from_tensor_like(value, key, fast)

    def parse_csv(self, body: bytes) -> Rows:
        text = decode_text(body)
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader, None)
            if not header:
                raise ClientError(400, "CSV body is empty; expected a header row naming the columns", "body")
            self._missing(header, "csv")
            positions = [(self.index[c], k) for k, c in enumerate(header) if c in self.index]
            rows = []
            for i, line in enumerate(reader):
                if i >= self.max_rows:  # counted as read: the rest is never split into fields
                    self.check_count(i + 1, "csv", counted=f"more than {self.max_rows}")
                if len(line) != len(header):
                    raise ClientError(422, f"CSV row {i} has {len(line)} fields, the header has {len(header)}", "csv")
                out = [None] * len(self.columns)
                for j, k in positions:
                    out[j] = _csv_value(line[k], self.columns[j], i)
                rows.append(out)
        except csv.Error as exc:
            row = max(reader.line_num - 2, 0)
            if "field larger than field limit" in str(exc):
                limit = csv.field_size_limit()
                raise ClientError(413, f"CSV row {row} has a field longer than {limit} characters", "csv") from None
            raise ClientError(400, f"CSV row {row} is not valid CSV", "csv") from None
        return self.check_rows(rows, "csv")

    def frame(self, groups: list[Rows]):
        """One DataFrame, with the signature's column names and dtypes, from the rows of one or more requests."""
        import pandas as pd

        arrays = [g for g in groups if isinstance(g, np.ndarray)]
        if len(arrays) == len(groups):
            arr = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            if self.all_double:
                return pd.DataFrame(arr.astype(np.float64, copy=False), columns=self.names)
            data: dict[str, np.ndarray] = {
                c.name: arr[:, j].astype(NUMPY_TYPES[c.kind]) for j, c in enumerate(self.columns)
            }
            return pd.DataFrame(data, columns=self.names)
        rows = [row for group in groups for row in group]
        data = {}
        for j, col in enumerate(self.columns):
            values = [r[j] for r in rows]
            dtype = NUMPY_TYPES[col.kind]
            if None in values and col.kind in ("long", "integer", "boolean"):
                dtype = object  # optional column with gaps: keep None, as pandas would
            data[col.name] = np.asarray(values, dtype=dtype)
        return pd.DataFrame(data, columns=self.names)

    def describe(self) -> list[dict]:
        return [{"name": c.name, "type": c.kind, "required": c.required} for c in self.columns]


def _csv_value(text: str, col: Column, row: int):
    if text == "":
        return None
    try:
        if col.kind in ("double", "float"):
            return float(text)
        if col.kind in ("long", "integer"):
            return int(text)
        if col.kind == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}[text.strip().lower()]
    except (ValueError, KeyError):
        raise ClientError(422, f"column '{col.name}' expects {col.kind}, CSV row {row} does not parse", "csv") from None
    return text


def decode_text(body: bytes) -> str:
    try:
        return body.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        raise ClientError(400, "body is not valid UTF-8", "body") from None


def decode_json(body: bytes) -> dict:
    try:
        payload = orjson.loads(body.removeprefix(BOM))
    except orjson.JSONDecodeError:
        raise ClientError(400, "body is not valid JSON", "body") from None
    if not isinstance(payload, dict):
        raise ClientError(400, f"body must be a JSON object with one of the keys {list(FORMATS)}", "body")
    return payload


def may_skip_bool_check(body: bytes) -> bool:
    """Whether a JSON body surely holds no boolean: then numeric rows may take the numpy fast path (a false alarm,
    such as a column named "true", only costs the per-value check)."""
    return b"true" not in body and b"false" not in body


def format_key(payload: dict) -> str:
    keys = [k for k in FORMATS if k in payload]
    if len(keys) != 1:
        found = "none" if not keys else ", ".join(keys)
        raise ClientError(400, f"body must have exactly one of the keys {list(FORMATS)} (found {found})", "body")
    return keys[0]


def media_type(content_type: str | None) -> str:
    """'application/json' or 'text/csv'; anything else (or a charset other than UTF-8) is a 415."""
    if not content_type:
        raise ClientError(415, "Content-Type is missing; send application/json or text/csv", "content-type")
    parts = [p.strip() for p in content_type.split(";")]
    mime = parts[0].lower()
    for param in parts[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise ClientError(415, "only the parameter charset=utf-8 is supported in Content-Type", "content-type")
    if mime not in ("application/json", "text/csv"):
        raise ClientError(
            415, f"unsupported Content-Type '{mime[:64]}'; send application/json or text/csv", "content-type"
        )
    return mime
