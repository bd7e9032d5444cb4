"""One column of one chunk of data, reduced to what profiles and summaries count, from pandas or from Arrow.

Both front ends give the same `Values` for the same data, so a profile or a check reads the same whether the rows
came from a DataFrame, a Parquet file or a CSV file. The Arrow path never turns a text column into Python
objects: Parquet text columns are read dictionary-encoded and counted on their codes (only the distinct values
become strings). pandas is imported only when a pandas object is given or an unusual Arrow type needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

NUMERIC, CATEGORICAL, UNSUPPORTED = "numeric", "categorical", "unsupported"


@dataclass
class Values:
    kind: str
    dtype: str  # the pandas dtype name of the column, for messages and type-change checks
    rows: int
    missing: int
    numbers: np.ndarray | None = None  # numeric: float64 per row, NaN where missing (+-inf counts as missing)
    labels: list[str] | None = None  # categorical: the distinct present values, as text
    counts: np.ndarray | None = None  # categorical: how often each label occurs

    @property
    def count(self) -> int:
        return self.rows - self.missing

    def finite(self) -> np.ndarray:
        assert self.numbers is not None
        return self.numbers if self.missing == 0 else self.numbers[~np.isnan(self.numbers)]


def _numeric(values: np.ndarray, dtype: str) -> Values:
    numbers = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(numbers)
    missing = int(bad.sum())
    if missing and np.isinf(numbers).any():
        numbers = np.where(bad, np.nan, numbers)
    return Values(NUMERIC, dtype, len(numbers), missing, numbers=numbers)


def _tally(labels: list[str], counts: np.ndarray, dtype: str, rows: int, missing: int) -> Values:
    """Values from (label, count) pairs that may repeat a label (a dictionary per chunk)."""
    if len(set(labels)) != len(labels):
        merged: dict[str, int] = {}
        for label, count in zip(labels, counts.tolist(), strict=True):
            merged[label] = merged.get(label, 0) + count
        labels, counts = list(merged), np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
    keep = counts > 0
    if not keep.all():
        labels = [label for label, k in zip(labels, keep.tolist(), strict=True) if k]
        counts = counts[keep]
    return Values(CATEGORICAL, dtype, rows, missing, labels=labels, counts=counts.astype(np.int64, copy=False))


# ---- pandas --------------------------------------------------------------------------------------------------
def dtype_name(series: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        name = str(series.dtype).lower()  # nullable Int64/boolean named as the Arrow reader names them
        if pd.api.types.is_extension_array_dtype(series.dtype) and series.hasnans:
            return "object" if name == "boolean" else "float64" if name.startswith(("int", "uint")) else name
        return "bool" if name == "boolean" else name
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_string_dtype(series):  # object (of text), str and string[pyarrow] alike
        return "string"
    return str(series.dtype)


def series_kind(series: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series.dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(series.dtype):
        return NUMERIC
    if (
        pd.api.types.is_string_dtype(series.dtype)
        or isinstance(series.dtype, pd.CategoricalDtype)
        or series.dtype == object
    ):
        return CATEGORICAL
    return UNSUPPORTED


def from_series(series: Any, kind: str | None = None) -> Values:
    """A pandas Series as Values; `kind` overrides the natural kind (integer codes forced categorical)."""
    kind = kind or series_kind(series)
    dtype = dtype_name(series)
    if kind == NUMERIC:
        return _numeric(series.to_numpy(dtype="float64", na_value=np.nan), dtype)
    if kind == CATEGORICAL:
        present = series.dropna()
        # as text, so 1, "1" and True/"True" compare as the profile stores them
        frequencies = present.astype(str).value_counts(sort=False)
        labels = [str(label) for label in frequencies.index]
        return _tally(labels, frequencies.to_numpy(dtype=np.int64), dtype, len(series), len(series) - len(present))
    return Values(UNSUPPORTED, dtype, len(series), int(series.isna().sum()))


# ---- Arrow ---------------------------------------------------------------------------------------------------
def arrow_kind(arrow_type: Any) -> str | None:
    """The kind pandas would give a column of this Arrow type, or None when only pandas can tell."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return CATEGORICAL
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return NUMERIC
    if _is_text(arrow_type):
        return CATEGORICAL
    if pa.types.is_dictionary(arrow_type) and _is_text(arrow_type.value_type):
        return CATEGORICAL
    return None


def _is_text(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def arrow_dtype(arrow_type: Any, has_missing: bool) -> str:
    """The pandas dtype name of a column of this type (integers with missing values become float64 in pandas)."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "object" if has_missing else "bool"
    if pa.types.is_integer(arrow_type):  # (Arrow's own to_pandas_dtype imports pandas: a second of start-up)
        signed = "int" if pa.types.is_signed_integer(arrow_type) else "uint"
        return "float64" if has_missing else f"{signed}{arrow_type.bit_width}"
    if pa.types.is_floating(arrow_type):
        return f"float{arrow_type.bit_width}"
    if pa.types.is_dictionary(arrow_type):
        return "category"
    if _is_text(arrow_type):
        return "string"
    return str(arrow_type)


def from_arrow(column: Any, kind: str | None = None, file_type: Any = None) -> Values:
    """An Arrow Array or ChunkedArray as Values, counted without building Python objects per row. `file_type` is
    the column's type in the file when it was read as another (text read dictionary-encoded)."""
    import pyarrow as pa

    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    arrow_type, rows, missing = column.type, len(column), column.null_count
    natural = arrow_kind(arrow_type)
    if natural is None or (kind == NUMERIC and natural != NUMERIC):
        return _via_pandas(column, kind)
    kind = kind or natural
    dtype = arrow_dtype(file_type or arrow_type, missing > 0)
    if kind == NUMERIC:
        return _numeric(_to_numpy(column), dtype)
    if pa.types.is_dictionary(arrow_type):
        return _dictionary_counts(column, dtype)
    if _is_text(arrow_type):
        import pyarrow.compute as pc

        table = pc.value_counts(column.drop_null()) if rows else None
        if table is None or len(table) == 0:
            return Values(CATEGORICAL, dtype, rows, missing, labels=[], counts=np.zeros(0, dtype=np.int64))
        labels = table.field("values").to_pylist()
        return _tally(labels, table.field("counts").to_numpy(), dtype, rows, missing)
    if pa.types.is_boolean(arrow_type):
        import pyarrow.compute as pc

        true = int(pc.sum(column).as_py() or 0)
        counts = np.array([true, rows - missing - true], dtype=np.int64)
        return _tally(["True", "False"], counts, dtype, rows, missing)
    # numbers forced categorical: the distinct values as pandas writes them (1 -> "1", 1.0 -> "1.0")
    numbers = _to_numpy(column)
    present = numbers[~np.isnan(numbers)] if numbers.dtype.kind == "f" else numbers
    distinct, counts = np.unique(present, return_counts=True)
    return _tally([str(v) for v in distinct.tolist()], counts, dtype, rows, rows - len(present))


def _to_numpy(column: Any) -> np.ndarray:
    """A numeric ChunkedArray as numpy: without a copy for one chunk without nulls; nulls become NaN (so
    integers with nulls become floats, as in pandas)."""
    if column.num_chunks == 0:
        return np.empty(0)
    parts = [chunk.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _dictionary_counts(column: Any, dtype: str) -> Values:
    """Counts of a dictionary-encoded text column on its codes; only each chunk's dictionary becomes strings."""
    import pyarrow.compute as pc

    labels: list[str] = []
    parts: list[np.ndarray] = []
    for chunk in column.chunks:
        size = len(chunk.dictionary)
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, size)
        counts = np.bincount(indices.to_numpy(zero_copy_only=False), minlength=size + 1)[:size]
        labels.extend(chunk.dictionary.to_pylist())
        parts.append(counts)
    counts = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return _tally(labels, counts, dtype, len(column), column.null_count)


def _via_pandas(column: Any, kind: str | None) -> Values:
    """Types the Arrow path does not count itself (dates, decimals, timestamps, nulls): as pandas sees them."""
    return from_series(column.to_pandas(), kind)


# ---- chunks of rows ------------------------------------------------------------------------------------------
class Batch(Protocol):
    """Consecutive rows of a table: `start` is the index of its first row in the whole input."""

    rows: int
    start: int
    names: list[str]

    def values(self, name: str, kind: str | None = None) -> Values: ...

    def natural_kind(self, name: str) -> str: ...

    def raw(self, name: str) -> np.ndarray: ...


@dataclass
class FrameBatch:
    frame: Any  # a pandas DataFrame
    start: int = 0
    rows: int = field(init=False)
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.rows, self.names = len(self.frame), [str(c) for c in self.frame.columns]

    def values(self, name: str, kind: str | None = None) -> Values:
        return from_series(self.frame[name], kind)

    def natural_kind(self, name: str) -> str:
        return series_kind(self.frame[name])

    def raw(self, name: str) -> np.ndarray:
        return np.asarray(self.frame[name].to_numpy())


@dataclass
class ArrowBatch:
    table: Any  # a pyarrow Table or RecordBatch
    start: int = 0
    file_types: dict[str, Any] = field(default_factory=dict)  # types in the file, where read as another type
    rows: int = field(init=False)
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.rows, self.names = self.table.num_rows, list(self.table.column_names)

    def values(self, name: str, kind: str | None = None) -> Values:
        return from_arrow(self.table.column(name), kind, self.file_types.get(name))

    def natural_kind(self, name: str) -> str:
        column = self.table.column(name)
        found = arrow_kind(column.type)
        return found if found is not None else series_kind(column.slice(0, 0).to_pandas())

    def raw(self, name: str) -> np.ndarray:
        return np.asarray(self.table.column(name).to_numpy(zero_copy_only=False))
