"""Reading data for drift: reference and current files (Parquet or CSV), and windows of the S3 capture.

The capture (`mlops.core.contracts.capture_key`, written by serving) holds request_id, timestamp, model_version,
the model inputs and `prediction`; labels (`labels_prefix`) hold request_id and label.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mlops.core.contracts import capture_prefix, labels_prefix
from mlops.core.errors import MlopsError
from mlops.drift.profile import ReferenceProfile
from mlops.drift.summary import ColumnSummary, merge_summaries, summarise_frame, summarise_parquet

CSV_CHUNK_ROWS = 200_000


class DataError(MlopsError, ValueError):
    """Data cannot be read or is unusable; the message names the file or object and what was wrong."""


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".gz") and path.name.lower().removesuffix(".gz").endswith(".csv"):
        return "csv"
    raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected .parquet or .csv")


def read_frame(path: Path) -> pd.DataFrame:
    """A whole file as a DataFrame (for building a profile)."""
    kind = file_format(path)
    try:
        frame = pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (no header, no rows)") from None
    except Exception as exc:  # pyarrow and the CSV parser raise many types for a corrupt file
        raise DataError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    if len(frame) == 0:
        raise DataError(f"{path}: the file has no rows")
    return frame


@dataclass
class Window:
    """A current window reduced to summaries; only request ids and predictions are kept whole (for labels)."""

    summaries: dict[str, ColumnSummary]
    columns: list[str]
    rows: int
    predictions: pd.DataFrame | None = None
    sources: list[str] = field(default_factory=list)


def summarise_file(profile: ReferenceProfile, path: Path, workers: int | None = None) -> Window:
    """Summarise a current-data file in chunks: Parquet row groups in worker processes, CSV in chunks."""
    kind = file_format(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            columns = list(pq.read_schema(path).names)
            wanted = [c for c in profile.columns if c in columns]
            summaries, rows = summarise_parquet(profile, str(path), wanted, workers=workers)
        else:
            columns, rows, parts = [], 0, []
            for chunk in pd.read_csv(path, chunksize=CSV_CHUNK_ROWS):
                columns = list(chunk.columns)
                rows += len(chunk)
                parts.append(summarise_frame(profile, chunk, workers=workers or 2))
                parts = [merge_summaries(parts)]
            summaries = merge_summaries(parts)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (no header, no rows)") from None
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None
    if rows == 0:
        raise DataError(f"{path}: the current window is empty (no rows)")
    return Window(summaries, [str(c) for c in columns], rows, sources=[str(path)])


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


def _read_object(s3, bucket: str, key: str) -> pd.DataFrame:
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
    start = end - span if span else end - dt.timedelta(days=31)
    keys = [k for d in _dates(start, end) for k in _keys(s3, bucket, capture_prefix(model, d))]
    if rows:
        keys = keys[::-1]  # newest objects first, stop once enough rows are in
    parts: list[dict[str, ColumnSummary]] = []
    predictions: list[pd.DataFrame] = []
    columns: set[str] = set()
    total = 0
    used: list[str] = []
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
        parts.append(summarise_frame(profile, frame, workers=2))
        parts = [merge_summaries(parts)]
        if "request_id" in frame.columns and "prediction" in frame.columns:
            predictions.append(frame[["request_id", "prediction"]])
        total += len(frame)
        used.append(f"s3://{bucket}/{key}")
        if rows and total >= rows:
            break
    if total == 0:
        what = f"the last {rows} rows" if rows else f"{start.isoformat()} .. {end.isoformat()}"
        raise DataError(f"the current window is empty: no capture of model {model!r} in s3://{bucket} for {what}")
    joined = pd.concat(predictions, ignore_index=True) if predictions else None
    return Window(merge_summaries(parts), sorted(columns), total, joined, used)


def labels_since(s3, bucket: str, model: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Labels that arrived from the window start until now (they come later than the requests)."""
    frames = []
    for d in _dates(start, max(end, dt.datetime.now(dt.UTC))):
        for key in _keys(s3, bucket, labels_prefix(model, d)):
            frame = _read_object(s3, bucket, key)
            missing = {"request_id", "label"} - set(frame.columns)
            if missing:
                raise DataError(f"s3://{bucket}/{key}: labels need columns request_id and label; missing {missing}")
            frames.append(frame[["request_id", "label"]])
    if not frames:
        return pd.DataFrame({"request_id": pd.Series(dtype=str), "label": pd.Series(dtype=float)})
    return pd.concat(frames, ignore_index=True).drop_duplicates("request_id", keep="last")
