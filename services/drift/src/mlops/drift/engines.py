"""Which engine computes a `drift run` window, and the window's capture objects with their row counts.

`auto` keeps a window on this machine below `MLOPS_DRIFT_EMR_MIN_ROWS` rows and hands it to EMR Serverless at or
above it (when the env has an application). The rows are counted without reading data: the S3 listing gives the
objects, each Parquet footer (one ranged GET of its last bytes) its row count.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from dataclasses import dataclass

from mlops.core.contracts import capture_prefix
from mlops.core.settings import Settings
from mlops.drift.data import DataError, _dates, _keys

ENGINES = ("local", "spark", "emr-serverless", "auto")
FOOTER_TAIL_BYTES = 64 * 1024  # one GET holds the footer of a capture object (a few KB); a larger one takes two
_UPLOADED = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/(\d{6})-[^/]+\.parquet$")  # mlops.core.contracts.capture_key


@dataclass(frozen=True)
class CaptureObject:
    uri: str
    rows: int


@dataclass(frozen=True)
class WindowBounds:
    """Which rows of the capture objects belong to the window: timestamps in (start, end], and of those the
    newest `rows` when the window is a row count (as mlops.drift.data.capture_window cuts them)."""

    start: dt.datetime
    end: dt.datetime
    rows: int | None = None

    def arguments(self) -> list[str]:
        """The job entry point's options for these bounds (mlops.drift.emr_entry)."""
        args = ["--start", self.start.isoformat(), "--end", self.end.isoformat()]
        return [*args, "--rows", str(self.rows)] if self.rows else args


@dataclass(frozen=True)
class WindowObjects:
    """The capture objects that hold a window's rows, and the bounds that cut the rows out of them."""

    objects: list[CaptureObject]
    bounds: WindowBounds

    @property
    def object_rows(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def uris(self) -> list[str]:
        return [o.uri for o in self.objects]


def _uploaded_at(key: str) -> dt.datetime | None:
    """When serving uploaded a capture object, from its key (None for a key not in the capture's layout)."""
    match = _UPLOADED.search(key)
    if not match:
        return None
    return dt.datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H%M%S").replace(tzinfo=dt.UTC)


def parquet_rows(s3, bucket: str, key: str) -> int:
    """Rows of a Parquet object from its footer: the last bytes only, never the data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = f"s3://{bucket}/{key}"
    tail = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{FOOTER_TAIL_BYTES}")["Body"].read()
    if len(tail) < 12 or tail[-4:] != b"PAR1":
        raise DataError(f"{where}: not a Parquet file (no footer)")
    footer = struct.unpack("<I", tail[-8:-4])[0] + 8
    if footer > len(tail):  # a footer larger than the first read: fetch exactly it
        tail = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{footer}")["Body"].read()
    try:  # the footer's offsets count from the end, so the tail alone is a readable Parquet footer
        return pq.ParquetFile(pa.BufferReader(tail[-footer:])).metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where}: unreadable Parquet footer ({exc})") from None


def window_objects(
    s3, bucket: str, model: str, *, end: dt.datetime, span: dt.timedelta | None, rows: int | None
) -> WindowObjects:
    """The capture objects of (end - span, end], or the newest objects holding at least `rows` rows. Serving
    uploads a row after it happened, so an object uploaded at or before the window start holds none of its rows;
    an object uploaded inside the window may still hold rows from just before it, which the job filters out."""
    start = end - span if span else end - dt.timedelta(days=31)
    keys = [k for d in _dates(start, end) for k in _keys(s3, bucket, capture_prefix(model, d))]
    if span:
        keys = [k for k in keys if (_uploaded_at(k) or end) > start]
    found: list[CaptureObject] = []
    for key in reversed(keys) if rows else keys:  # a row count: newest objects first, until enough rows are in
        count = parquet_rows(s3, bucket, key)
        if count:
            found.append(CaptureObject(f"s3://{bucket}/{key}", count))
        if rows and sum(o.rows for o in found) >= rows:
            break
    if not found:
        what = f"the last {rows} rows" if rows else f"{start.isoformat()} .. {end.isoformat()}"
        raise DataError(f"the current window is empty: no capture of model {model!r} in s3://{bucket} for {what}")
    return WindowObjects(found[::-1] if rows else found, WindowBounds(start, end, rows))


def emr_configured(settings: Settings) -> bool:
    return bool(settings.drift_emr_application_id)


def choose_engine(settings: Settings, engine: str, window_rows: int) -> str:
    """`auto`: EMR Serverless from `drift_emr_min_rows` rows when the env has an application, else this machine."""
    if engine != "auto":
        return engine
    return "emr-serverless" if emr_configured(settings) and window_rows >= settings.drift_emr_min_rows else "local"


def estimated_rows(window: WindowObjects) -> int:
    """The rows the window holds at most (objects at its edge may add rows from just before it)."""
    rows = window.bounds.rows
    return min(rows, window.object_rows) if rows else window.object_rows
