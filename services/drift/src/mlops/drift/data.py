"""Reading data for drift: reference and current files (Parquet or CSV), and windows of the S3 capture.

Parquet is read with Arrow, text columns dictionary-encoded, and counted on Arrow arrays (no pandas); a large file
is streamed in batches, its row groups split across worker processes when checked. CSV is read with pandas in
chunks. The capture (`mlops.core.contracts.capture_key`, written by serving) holds request_id, timestamp,
model_version, the model inputs, `prediction` and, for classifiers, `prediction_proba`; labels (`labels_prefix`)
hold request_id and label.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.contracts import CAPTURE_PREDICTION_COLUMN, CAPTURE_PROBABILITIES_COLUMN, capture_prefix
from mlops.core.contracts import labels_prefix as labels_key_prefix
from mlops.core.errors import MlopsError
from mlops.drift.profile import ReferenceProfile
from mlops.drift.summary import ColumnSummary, default_workers, merge_summaries, summarise_batch, summarise_batches
from mlops.drift.values import ArrowBatch, Batch, FrameBatch

CSV_CHUNK_ROWS = 200_000
BATCH_ROWS = 262_144  # rows per streamed Parquet batch
IN_PROCESS_ROWS = 4_000_000  # a Parquet file up to this size is read whole and summarised in threads


class DataError(MlopsError, ValueError):
    """Data cannot be read or is unusable; the message names the file or object and what was wrong."""


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".gz") and path.name.lower().removesuffix(".gz").endswith(".csv"):
        return "csv"
    raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected .parquet or .csv")


def _readable(path: Path, kind: str, action: Callable[[], Any]) -> Any:
    """Run `action`, turning the many exceptions of a missing, empty or corrupt file into one DataError."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        return action()
    except MlopsError:
        raise
    except Exception as exc:  # pyarrow and the CSV parser raise many types for a corrupt file
        if type(exc).__name__ == "EmptyDataError":
            raise DataError(f"{path}: the file is empty (no header, no rows)") from None
        raise DataError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None


# ---- Parquet and CSV as batches ------------------------------------------------------------------------------
def arrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas (a second of start-up here) to ask whether its inputs are pandas objects.

    pyarrow imports pandas lazily, the first time any conversion asks "is this a pandas object?", which reading
    Parquet into numpy does. If that first import fails, pyarrow remembers that pandas is absent for those checks,
    and still imports it when a conversion really needs it (to_pandas), so blocking it for the first attempt only
    is safe. Does nothing once pandas is imported.
    """
    import sys

    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    class Refuse:  # an import hook that makes `import pandas` fail, for the one call below
        def find_spec(self, name: str, *args: Any) -> None:
            if name == "pandas":
                raise ImportError("pandas is not needed to read Parquet into numpy")

    hook = Refuse()
    sys.meta_path.insert(0, hook)
    try:
        pa.array([0.0]).to_numpy()  # the first check: pyarrow tries pandas once, and notes it absent
    finally:
        sys.meta_path.remove(hook)


def _text_columns(schema: Any) -> dict[str, Any]:
    """Text columns (read dictionary-encoded, so counting never builds a Python string per row) and their types."""
    import pyarrow as pa

    return {f.name: f.type for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}


def data_columns(schema: Any) -> list[str]:
    """The file's columns without the index pandas wrote beside the data (`__index_level_0__`, or a named index):
    `pd.read_parquet` gives it back as the index, not as a column, so it is neither a feature nor an extra column."""
    pandas_meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}") or b"{}")
    index = {name for name in pandas_meta.get("index_columns", []) if isinstance(name, str)}  # a RangeIndex: a dict
    return [name for name in schema.names if name not in index]


def parquet_batches(
    path: Path,
    columns: list[str] | None = None,
    batch_rows: int | None = BATCH_ROWS,
    row_groups: list[int] | None = None,
) -> Iterator[Batch]:
    """The file as ArrowBatches of `batch_rows` rows (None: the whole file, or the given row groups, at once)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_without_pandas()
    with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as handle:
        schema = handle.schema_arrow
        names = [n for n in (columns if columns is not None else data_columns(schema)) if n in schema.names]
        text = {n: t for n, t in _text_columns(schema).items() if n in names}
        # a fresh reader with the text columns dictionary-encoded (the option is fixed when the file is opened);
        # a whole file is read at once, buffered and decoded in Arrow's threads, a stream batch by batch, unbuffered
        whole = batch_rows is None
        reader = pq.ParquetFile(path, read_dictionary=list(text), pre_buffer=whole, buffer_size=0 if whole else 1 << 20)
        groups = row_groups if row_groups is not None else list(range(handle.metadata.num_row_groups))
        offsets = [0]
        for g in range(handle.metadata.num_row_groups):
            offsets.append(offsets[-1] + handle.metadata.row_group(g).num_rows)
        pool = pa.default_memory_pool()
        with reader:
            if batch_rows is None:
                table = reader.read_row_groups(groups, columns=names, use_threads=True) if groups else None
                if table is not None:
                    yield ArrowBatch(table, offsets[groups[0]], text)
                return
            for group in groups:
                start = offsets[group]
                for batch in reader.iter_batches(batch_size=batch_rows, row_groups=[group], columns=names,
                                                 use_threads=False):  # fmt: skip
                    # one row group at a time, unbuffered: pre-buffering and read-ahead across row groups made
                    # pyarrow hold gigabytes on a 50M-row file
                    yield ArrowBatch(batch, start, text)
                    start += batch.num_rows
                    del batch
                    pool.release_unused()  # mimalloc keeps freed batches otherwise: RSS would grow with the file


def csv_batches(path: Path, chunk_rows: int | None = None) -> Iterator[Batch]:
    import pandas as pd

    start = 0
    for chunk in pd.read_csv(path, chunksize=chunk_rows or CSV_CHUNK_ROWS):
        yield FrameBatch(chunk, start)
        start += len(chunk)


def file_rows(path: Path) -> int | None:
    """Rows of a Parquet file from its footer (None for CSV: unknown until read)."""
    if file_format(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    return _readable(path, "parquet", lambda: pq.ParquetFile(path).metadata.num_rows)


def file_columns(path: Path) -> list[str]:
    """The data columns of a Parquet or CSV file, from its footer or header line."""
    kind = file_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return _readable(path, kind, lambda: data_columns(pq.read_schema(path)))
    import pandas as pd

    return _readable(path, kind, lambda: [str(c) for c in pd.read_csv(path, nrows=0).columns])


def file_batches(path: Path, columns: list[str] | None = None) -> Callable[[], Iterator[Batch]]:
    """A function giving the file's batches afresh each call (a profile over a million rows reads twice)."""
    kind = file_format(path)
    rows = file_rows(path)

    def batches() -> Iterator[Batch]:
        if kind == "csv":
            return csv_batches(path)
        whole = rows is not None and rows <= IN_PROCESS_ROWS
        return parquet_batches(path, columns, None if whole else BATCH_ROWS)

    return batches


def read_frame(path: Path) -> Any:
    """A whole file as a pandas DataFrame."""
    import pandas as pd

    kind = file_format(path)
    frame = _readable(path, kind, lambda: pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path))
    if len(frame) == 0:
        raise DataError(f"{path}: the file has no rows")
    return frame


def profile_file(path: Path, **options: Any) -> ReferenceProfile:
    """The reference profile of a Parquet or CSV file, streamed: memory depends on the batch size and the sample
    (a million rows of the numeric columns), not on the file's size."""
    from mlops.drift.builder import ProfileBuilder

    kind = file_format(path)
    model_name = options.pop("model_name", None)
    batches = file_batches(path)

    def build() -> ReferenceProfile:
        builder = ProfileBuilder(**options)
        for batch in batches():
            builder.add(batch)
        if builder.rows == 0:
            raise DataError(f"{path}: the file has no rows")
        return builder.finish(batches, model_name=model_name)

    return _readable(path, kind, build)


# ---- current windows -----------------------------------------------------------------------------------------
@dataclass
class Window:
    """A current window reduced to summaries; only request ids, predictions and probabilities are kept whole
    (to join labels and to estimate performance)."""

    summaries: dict[str, ColumnSummary]
    columns: list[str]
    rows: int
    predictions: Any = None  # a pandas DataFrame of request_id, prediction (and prediction_proba), or None
    sources: list[str] = field(default_factory=list)
    probabilities: Any = None  # the prediction_proba values of every row (object array), when the data has them
    labels: Any = None  # a file's target column beside them, when it has one: the realised side of the estimate


def _worker(path: str, profile_dict: dict, groups: list[int], columns: list[str], total: int):
    """Worker process: summarise the given row groups batch by batch."""
    profile = ReferenceProfile.from_dict(profile_dict)
    return summarise_batches(profile, parquet_batches(Path(path), columns, BATCH_ROWS, groups), total_rows=total)[0]


def read_whole(path: Path) -> Batch | None:
    """A Parquet file small enough to summarise in this process, read whole (every column); else None. `drift
    check --reference` reads the current file this way while it profiles the reference."""
    if file_format(path) != "parquet" or not path.is_file() or (file_rows(path) or 0) > IN_PROCESS_ROWS:
        return None
    return _readable(path, "parquet", lambda: next(iter(parquet_batches(path, None, None)), None))


def _summarise_parquet(
    profile: ReferenceProfile, path: Path, columns: list[str], workers: int | None, whole: Batch | None = None
):
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        groups, rows = list(range(handle.metadata.num_row_groups)), handle.metadata.num_rows
    workers = max(1, min(workers or default_workers(), len(groups)))
    if rows <= IN_PROCESS_ROWS or workers == 1:
        small = rows <= IN_PROCESS_ROWS
        batches = [whole] if whole is not None else parquet_batches(path, columns, None if small else BATCH_ROWS)
        return summarise_batches(profile, batches, total_rows=rows, workers=default_workers())[0], rows
    from concurrent.futures import ProcessPoolExecutor

    shares = [groups[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        body = profile.to_dict()
        parts = list(pool.map(_worker, [str(path)] * workers, [body] * workers, shares, [columns] * workers,
                              [rows] * workers))  # fmt: skip
    return merge_summaries(parts), rows


def _kept(raw: dict[str, Any], extra: list[str]) -> dict[str, Any]:
    """Window fields from the whole columns kept: probabilities first in `extra`, then the target if any."""
    if not extra:
        return {}
    return {"probabilities": raw.get(extra[0]), "labels": raw.get(extra[1]) if len(extra) > 1 else None}


def summarise_file(
    profile: ReferenceProfile, path: Path, workers: int | None = None, whole: Batch | None = None
) -> Window:
    """Summarise a current-data file in chunks: Parquet in threads (or row groups in worker processes when
    large), CSV in chunks; `whole` is the file already read by `read_whole`. Prediction probabilities, if the file
    has the capture's column, are kept whole."""
    import pyarrow.parquet as pq

    kind = file_format(path)
    extra = [profile.estimation.get("column", CAPTURE_PROBABILITIES_COLUMN)] if profile.estimation else []
    if extra and profile.target:
        extra.append(profile.target)  # labels in the file: the estimate is shown beside the realised value

    def summarise() -> Window:
        if kind == "parquet":
            columns = data_columns(pq.read_schema(path))
            wanted = [c for c in profile.columns if c in columns]
            summaries, rows = _summarise_parquet(profile, path, wanted, workers, whole)
            found = [c for c in extra if c in columns]
            kept = pq.read_table(path, columns=found) if found else None
            raw = {c: kept.column(c).to_numpy(zero_copy_only=False) for c in found} if kept is not None else {}
            return Window(summaries, columns, rows, sources=[str(path)], **_kept(raw, extra))
        columns, rows, parts = [], 0, []
        kept_parts: dict[str, list[Any]] = {}
        for batch in csv_batches(path):
            columns = batch.names
            rows += batch.rows
            parts.append(summarise_batch(profile, batch, workers=workers or default_workers()))
            parts = [merge_summaries(parts)]
            for c in extra:
                if c in columns:
                    kept_parts.setdefault(c, []).append(batch.raw(c))
        import numpy as np

        raw = {c: np.concatenate(v) for c, v in kept_parts.items()}
        return Window(merge_summaries(parts), columns, rows, sources=[str(path)], **_kept(raw, extra))

    window: Window = _readable(path, kind, summarise)
    if window.rows == 0:
        raise DataError(f"{path}: the current window is empty (no rows)")
    return window


# ---- S3 capture windows -------------------------------------------------------------------------------------
def parse_window(text: str) -> dt.timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text or "")
    if not match or int(match.group(1)) == 0:
        raise DataError(f"window {text!r} is not a duration like 30m, 1h or 7d")
    amount, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


def _dates(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    day, days = start.date(), []
    while day <= end.date():
        days.append(day)
        day += dt.timedelta(days=1)
    return days


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".parquet"))
    return sorted(keys)


def _read_object(s3, bucket: str, key: str) -> Any:
    import pandas as pd

    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return pd.read_parquet(io.BytesIO(body))
    except Exception as exc:
        raise DataError(f"s3://{bucket}/{key}: not a readable Parquet file ({type(exc).__name__})") from None


def capture_window(
    s3,
    bucket: str,
    model: str,
    profile: ReferenceProfile,
    *,
    end: dt.datetime,
    span: dt.timedelta | None = None,
    rows: int | None = None,
) -> Window:
    """The capture of `model` in (end - span, end], or its last `rows` rows; summarised object by object."""
    import pandas as pd

    start = end - span if span else end - dt.timedelta(days=31)
    keys = [k for d in _dates(start, end) for k in _keys(s3, bucket, capture_prefix(model, d))]
    if rows:
        keys = keys[::-1]  # newest objects first, stop once enough rows are in
    parts: list[dict[str, ColumnSummary]] = []
    kept: list[Any] = []
    columns: set[str] = set()
    total = 0
    used: list[str] = []
    wanted = ["request_id", CAPTURE_PREDICTION_COLUMN, CAPTURE_PROBABILITIES_COLUMN]
    for key in keys:
        frame = _read_object(s3, bucket, key)
        if "timestamp" not in frame.columns:
            raise DataError(f"s3://{bucket}/{key}: capture object has no 'timestamp' column")
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        frame = frame[(stamps > pd.Timestamp(start)) & (stamps <= pd.Timestamp(end))]
        if rows:
            frame = frame.sort_values("timestamp").iloc[-(rows - total) :]
        if len(frame) == 0:
            continue
        columns.update(map(str, frame.columns))
        parts.append(summarise_batch(profile, FrameBatch(frame.reset_index(drop=True)), workers=2))
        parts = [merge_summaries(parts)]
        kept.append(frame[[c for c in wanted if c in frame.columns]])
        total += len(frame)
        used.append(f"s3://{bucket}/{key}")
        if rows and total >= rows:
            break
    if total == 0:
        what = f"the last {rows} rows" if rows else f"{start.isoformat()} .. {end.isoformat()}"
        raise DataError(f"the current window is empty: no capture of model {model!r} in s3://{bucket} for {what}")
    joined = pd.concat(kept, ignore_index=True)
    proba = joined[CAPTURE_PROBABILITIES_COLUMN].to_numpy() if CAPTURE_PROBABILITIES_COLUMN in joined else None
    predictions = joined if {"request_id", CAPTURE_PREDICTION_COLUMN} <= set(joined.columns) else None
    return Window(merge_summaries(parts), sorted(columns), total, predictions, used, proba)


def labels_since(s3, bucket: str, model: str, start: dt.datetime, end: dt.datetime) -> Any:
    """Labels that arrived from the window start until now (they come later than the requests)."""
    import pandas as pd

    frames = []
    for d in _dates(start, max(end, dt.datetime.now(dt.UTC))):
        for key in _keys(s3, bucket, labels_key_prefix(model, d)):
            frame = _read_object(s3, bucket, key)
            missing = {"request_id", "label"} - set(frame.columns)
            if missing:
                raise DataError(f"s3://{bucket}/{key}: labels need columns request_id and label; missing {missing}")
            frames.append(frame[["request_id", "label"]])
    if not frames:
        return pd.DataFrame({"request_id": pd.Series(dtype=str), "label": pd.Series(dtype=float)})
    return pd.concat(frames, ignore_index=True).drop_duplicates("request_id", keep="last")
