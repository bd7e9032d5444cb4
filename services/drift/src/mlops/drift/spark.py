"""Drift on Spark (`--engine spark`): the same summaries as the single-machine path, computed as Spark aggregations.

A check reduces the current data to the `ColumnSummary` objects of `mlops.drift.summary` and hands them to the one
statistics and report path (`check.run_check`, `check.estimate_performance`), so verdicts, p-values and effects are
those of the local engine. What is computed where:

- numeric columns: rows, missing (null, NaN, +-inf), sums and the values outside the reference range in one
  aggregation over every column; the counts on the profile's edges per column with a `Bucketizer` on the negated
  values (its buckets are closed on the left, the profile's bins on the right: negating turns one into the other);
- categorical columns: a group-by count per column; only the profile's categories, the 50 most frequent unseen
  values and the unseen total reach the driver;
- the multivariate test needs each sampled row's reconstruction error, which is not a sum: the rows the local path
  reads (every `step`-th row of the file, at most `multivariate.CHECK_ROWS`) are collected, a bounded sample, and
  their errors computed with `multivariate.errors`;
- label-free performance estimation (CBPE) needs every row's probabilities (ranks, a random subset for its band):
  the probability column (and the target, if present) is collected whole, as the local path holds it whole.

pyspark is an optional extra (`mlops-drift[spark]`) and is imported here only, so the local engine's start-up is
unchanged. The session runs in `local[*]` unless spark-submit started this process (on EMR it then uses the
cluster's master). `check_with_spark` checks one location; the EMR Serverless job (`emr_entry`) cuts its window
to one frame and calls `summarise_frame`. Spark 3.5 (EMR 7) and 4.x: results reach the driver through `toPandas`
with Arrow on (`collect_arrow`), as `DataFrame.toArrow` is 4.0+.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops.core.errors import MlopsError
from mlops.drift import multivariate
from mlops.drift.config import DriftConfig
from mlops.drift.data import DataError, Window, file_format
from mlops.drift.profile import ColumnProfile, ReferenceProfile
from mlops.drift.summary import MAX_UNSEEN_KEPT, ColumnSummary, current_kind, summarise_values
from mlops.drift.values import CATEGORICAL, NUMERIC, UNSUPPORTED, Values

APP_NAME = "mlops-drift"
INDEX_COLUMNS = ("__index_level_0__",)  # the index pandas writes beside the data: not data (as pd.read_parquet)
_ROW = "__mlops_row__"  # the row index column added where the local path's row selection must be reproduced


class SparkUnavailable(MlopsError):
    """`--engine spark` was asked for without pyspark installed (or without Java)."""


def _pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise SparkUnavailable(
            "--engine spark needs pyspark: install the drift service's `spark` extra "
            "(pip install 'mlops-drift[spark]') and a Java 17+ runtime, or use --engine local"
        ) from None
    return pyspark


def session(master: str | None = None) -> Any:
    """The SparkSession: an existing one (spark-submit, EMR, a test's), else a new one on `master` (default
    local[*]). Quiet: no UI, no progress bar, log level WARN, and the JVM's own console output goes to the log file
    beside mlops.log instead of the terminal."""
    _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(APP_NAME).config("spark.ui.enabled", "false")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    launched_by_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit (EMR): the master is its to choose
    if not launched_by_submit:
        builder = builder.master(master or "local[*]")
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local run binds loopback, not the first NIC
    with warnings.catch_warnings(), _jvm_output_to_log(not launched_by_submit):
        warnings.simplefilter("ignore")  # pyspark warns about the pandas version it was tested with
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


class _jvm_output_to_log:
    """While the JVM starts, point this process's stdout and stderr at the Spark log file, so the JVM inherits
    them: its start-up banner and WARN lines land in `<state_dir>/logs/spark.log`, not on the user's console."""

    def __init__(self, active: bool):
        self.active = active
        self.saved: list[tuple[int, int]] = []

    def __enter__(self) -> None:
        if not self.active:
            return
        from mlops.core.settings import get_settings

        path = get_settings().log_file.parent / "spark.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        for fd in (1, 2):
            self.saved.append((fd, os.dup(fd)))
            os.dup2(target, fd)
        os.close(target)

    def __exit__(self, *exc: object) -> None:
        for fd, saved in self.saved:
            os.dup2(saved, fd)
            os.close(saved)


# ---- reading -------------------------------------------------------------------------------------------------
def is_uri(location: str | os.PathLike) -> bool:
    return "://" in str(location)


def _spark_path(location: str | os.PathLike) -> str:
    return str(location) if is_uri(location) else str(Path(location).resolve())


def data_errors(location: str, action: Any) -> Any:
    """Run a Spark action, turning the JVM's exceptions for a missing or corrupt file into one DataError."""
    try:
        return action()
    except MlopsError:
        raise
    except Exception as exc:  # AnalysisException, Py4JJavaError, SparkException: their first line names the cause
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if "PATH_NOT_FOUND" in first or "does not exist" in first:
            raise DataError(f"{location}: no such file") from None
        raise DataError(f"{location}: Spark cannot read it ({type(exc).__name__}: {first})") from None


@contextmanager
def arrow_transfer(spark: Any) -> Iterator[None]:
    """Arrow for the driver's transfers while in use (`toPandas`, `createDataFrame` of pandas), then the session's
    setting back: columnar, without one Python object per value."""
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "true")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyspark warns about the pandas version it was tested with
            yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def collect_arrow(spark: Any, frame: Any) -> Any:
    """A bounded frame on the driver as a `pyarrow.Table`, as `DataFrame.toArrow` (4.0+) gives it, on Spark 3.5
    (EMR 7's) too: `toPandas` with Arrow on, back to Arrow, so nulls and types reach the callers as they would."""
    import pyarrow as pa

    with arrow_transfer(spark):
        table = frame.toPandas()
    return pa.Table.from_pandas(table, preserve_index=False)


@dataclass
class SparkData:
    """A Parquet or CSV input read by Spark, with what the summaries need to know about its columns."""

    location: str
    format: str
    frame: Any  # pyspark DataFrame
    columns: list[str]  # the data columns (no pandas index)
    types: dict[str, Any]  # column -> Spark DataType

    def row_indexed(self, spark: Any) -> Any:
        """The frame with `_ROW`: each row's index in the input as the local reader numbers it (file order; several
        files one after the other in name order)."""
        from pyspark.sql import functions as F

        if self.format == "parquet":
            # the Parquet reader's own row position within each file; several files: offset by the earlier ones
            frame = self.frame.withColumn(_ROW, F.col("_metadata.row_index"))
            files = sorted(self.frame.inputFiles())
            if len(files) <= 1:
                return frame
            counts = dict(self.frame.groupBy(F.col("_metadata.file_path")).count().collect())
            offsets, running = {}, 0
            for name in sorted(counts):
                offsets[name], running = running, running + counts[name]
            table = spark.createDataFrame(list(offsets.items()), "path string, offset long")
            joined = frame.join(F.broadcast(table), F.col("_metadata.file_path") == table["path"])
            return joined.withColumn(_ROW, F.col(_ROW) + F.col("offset")).drop("path", "offset")
        # CSV: the rows of a partition are consecutive, partitions follow the file (one file's splits keep their
        # order); the index is the partition's offset plus the position in it (the low 33 bits of the id)
        part = F.spark_partition_id()
        counts = dict(self.frame.groupBy(part.alias("p")).count().collect())
        offsets, running = {}, 0
        for p in sorted(counts):
            offsets[p], running = running, running + counts[p]
        offset = F.lit(0)
        for p, start in offsets.items():
            offset = F.when(part == p, F.lit(start)).otherwise(offset)
        return self.frame.withColumn(_ROW, offset + F.expr("monotonically_increasing_id() & 8589934591"))


def read(spark: Any, location: str | os.PathLike) -> SparkData:
    """A Parquet or CSV file (local path, s3a:// or s3:// URI; a directory of part files for URIs) read by Spark.
    CSV: a header line, types inferred as pandas would see them."""
    text = str(location)
    kind = file_format(Path(text.rstrip("/")))
    if not is_uri(text) and not Path(text).exists():
        raise DataError(f"{text}: no such file")
    path = _spark_path(text)

    def load() -> Any:
        if kind == "parquet":
            return spark.read.parquet(path)
        return spark.read.option("header", True).option("inferSchema", True).option("mode", "FAILFAST").csv(path)

    frame = data_errors(text, load)
    hidden = set(INDEX_COLUMNS)
    if kind == "parquet" and not is_uri(text):
        import pyarrow.parquet as pq

        from mlops.drift.data import data_columns

        hidden |= set(frame.columns) - set(data_errors(text, lambda: data_columns(pq.read_schema(path))))
    columns = [c for c in frame.columns if c not in hidden]
    types = {f.name: f.dataType for f in frame.schema.fields}
    return SparkData(text, kind, frame, columns, types)


# ---- types as the local readers see them ---------------------------------------------------------------------
_NUMERIC_TYPES = {"ByteType": "int8", "ShortType": "int16", "IntegerType": "int32", "LongType": "int64",
                  "FloatType": "float32", "DoubleType": "float64"}  # fmt: skip


def natural_kind(spark_type: Any) -> str:
    name = type(spark_type).__name__
    if name in _NUMERIC_TYPES:
        return NUMERIC
    if name in ("StringType", "VarcharType", "CharType", "BooleanType", "NullType", "DecimalType"):
        return CATEGORICAL  # (decimals and all-null columns are text to pandas: object)
    return UNSUPPORTED


def dtype_name(spark_type: Any, has_missing: bool, fmt: str) -> str:
    """The pandas dtype name the local reader gives the column (Arrow for Parquet, pandas for CSV)."""
    name = type(spark_type).__name__
    if name in _NUMERIC_TYPES:
        if name.startswith(("Float", "Double")):
            return "float64" if fmt == "csv" else _NUMERIC_TYPES[name]
        return "float64" if has_missing else ("int64" if fmt == "csv" else _NUMERIC_TYPES[name])
    if name == "BooleanType":
        return "object" if has_missing else "bool"
    if name in ("StringType", "VarcharType", "CharType"):
        return "string"
    if name in ("NullType", "DecimalType"):
        return "object"
    return spark_type.simpleString()


def _is_float(spark_type: Any) -> bool:
    return type(spark_type).__name__ in ("FloatType", "DoubleType")


def missing_expr(name: str, spark_type: Any, kind: str) -> Any:
    """Missing as the local path counts it: null; NaN too for floats; +-inf too for numeric columns."""
    from pyspark.sql import functions as F

    column = F.col(name)
    if not _is_float(spark_type):
        return column.isNull()
    bad = column.isNull() | F.isnan(column)
    return bad | (F.abs(column) == float("inf")) if kind == NUMERIC else bad


def label_expr(name: str, spark_type: Any) -> Any:
    """A categorical value as the text the local path counts: True/False for booleans (Python's spelling), the
    number as text for integer codes forced categorical."""
    from pyspark.sql import functions as F

    column = F.col(name)
    if type(spark_type).__name__ == "BooleanType":
        return F.when(column, F.lit("True")).otherwise(F.lit("False"))
    return column.cast("string")


def number_expr(name: str, spark_type: Any) -> Any:
    """A numeric value as a double, null where missing (NaN and +-inf included)."""
    from pyspark.sql import functions as F

    return F.when(~missing_expr(name, spark_type, NUMERIC), F.col(name).cast("double"))


# ---- summaries of a current window ---------------------------------------------------------------------------
@dataclass
class Counted:
    """What a group-by count of one column gives: numeric bins on the profile's edges, or category counts."""

    edges: list[float] | np.ndarray | None = None  # numeric: count on these edges
    known: list[str] | None = None  # categorical: keep these labels' counts and only the top unseen ones


def grouped_counts(frame: Any, types: dict[str, Any], columns: dict[str, Counted]) -> dict[str, Any]:
    """Every column's counts in two jobs: each row becomes (column, key) pairs (a numeric value's bin, a category's
    label), counted by a group-by; only the counts reach the driver. Per column: numeric -> counts[k] = #{edges[k-1]
    < x <= edges[k]} (k = 0: x <= edges[0]; last: x > edges[-1]), the profile's right-closed bins (Bucketizer's
    buckets are [s_i, s_i+1), so it bins -x on the negated edges); categorical -> (list of (label, count), total of
    the values outside `known`): every label without `known`, else the known ones and the most frequent others."""
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import functions as F

    if not columns:
        return {}
    names = list(columns)
    numeric = [n for n, spec in columns.items() if spec.edges is not None and len(spec.edges) > 0]
    keys = []
    for i, name in enumerate(names):
        spec = columns[name]
        if spec.edges is not None:  # -x, NaN where missing: Bucketizer keeps NaN in its own last bucket
            keys.append(F.coalesce(-number_expr(name, types[name]), F.lit(float("nan"))).alias(f"x{i}"))
        else:
            keys.append(F.when(~missing_expr(name, types[name], CATEGORICAL), label_expr(name, types[name]))
                        .alias(f"k{i}"))  # fmt: skip
    projected = frame.select(*keys)
    found: dict[int, list[tuple[Any, int, bool, int]]] = {}
    if numeric:  # integer keys: the group-by runs on Spark's fixed-width hash map (text keys were ~10x slower)
        index = {n: i for i, n in enumerate(names)}
        splits = [[-math.inf, *(-np.asarray(columns[n].edges, dtype=float)[::-1]).tolist(), math.inf]
                  for n in numeric]  # fmt: skip
        bucketed = Bucketizer(splitsArray=splits, inputCols=[f"x{index[n]}" for n in numeric],
                              outputCols=[f"b{index[n]}" for n in numeric], handleInvalid="keep",
                              ).transform(projected)  # fmt: skip
        pairs = ", ".join(f"{index[n]}, cast(b{index[n]} as int)" for n in numeric)
        stacked = bucketed.selectExpr(f"stack({len(numeric)}, {pairs}) as (c, v)")
        for c, v, count in stacked.groupBy("c", "v").count().collect():
            found.setdefault(int(c), []).append((v, int(count), True, 0))
    texts = [i for i, n in enumerate(names) if columns[n].edges is None]
    if texts:
        pairs = ", ".join(f"{i}, k{i}" for i in texts)
        stacked = projected.selectExpr(f"stack({len(texts)}, {pairs}) as (c, v)").where(F.col("v").isNotNull())
        _count_labels(stacked, names, columns, found)
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        spec, rows = columns[name], found.get(i, [])
        if spec.edges is not None:
            n = len(spec.edges)
            counts = np.zeros(n + 1, dtype=np.int64)
            for bucket, count, _, _ in rows:
                if bucket is not None and bucket <= n:  # bucket n + 1 holds the missing values
                    counts[n - bucket] = count  # bucket 0 holds x > edges[-1], bucket n holds x <= edges[0]
            out[name] = counts
        else:
            unseen = [r[3] for r in rows if not r[2]]
            out[name] = ([(r[0], r[1]) for r in rows if r[2] or spec.known is not None],
                         unseen[0] if unseen else 0)  # fmt: skip
    return out


def _count_labels(stacked: Any, names: list[str], columns: dict[str, Counted], found: dict) -> None:
    """Label counts per column into `found`; where `known` is given, only those labels and the most frequent others
    (with the others' total), so a column of millions of distinct values sends a few rows to the driver."""
    from pyspark.sql import Window as W
    from pyspark.sql import functions as F

    known = F.lit(True)
    for i, name in enumerate(names):
        labels = columns[name].known
        if labels is not None:
            known = F.when(F.col("c") == i, F.col("v").isin(labels) if labels else F.lit(False)).otherwise(known)
    by_kind = W.partitionBy("c", "known")
    ranked = (stacked.groupBy("c", "v").count().withColumn("known", known)
              .withColumn("rank", F.row_number().over(by_kind.orderBy(F.desc("count"), "v")))
              .withColumn("group_total", F.sum("count").over(by_kind))
              .where(F.col("known") | (F.col("rank") <= MAX_UNSEEN_KEPT)))  # fmt: skip
    for row in ranked.collect():
        found.setdefault(int(row["c"]), []).append((row["v"], int(row["count"]), bool(row["known"]),
                                                    int(row["group_total"])))  # fmt: skip


def _aggregates(frame: Any, types: dict[str, Any], kinds: dict[str, str], edges: dict[str, list[float]]) -> dict:
    """One pass over every column: the row count, missing values; for numeric columns the sums and the values below
    and above the reference range."""
    from pyspark.sql import functions as F

    exprs = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(kinds):
        exprs.append(F.sum(F.when(missing_expr(name, types[name], kinds[name]), 1).otherwise(0)).alias(f"m{i}"))
        if kinds[name] != NUMERIC:
            continue
        v = number_expr(name, types[name])
        exprs += [F.sum(v).alias(f"t{i}"), F.sum(v * v).alias(f"q{i}")]
        if edges.get(name):
            low, high = float(edges[name][0]), float(edges[name][-1])
            below, above = v < low, v > high
            exprs += [F.count(F.when(below, 1)).alias(f"bc{i}"), F.sum(F.when(below, v)).alias(f"bs{i}"),
                      F.count(F.when(above, 1)).alias(f"ac{i}"), F.sum(F.when(above, v)).alias(f"as{i}")]  # fmt: skip
    row = frame.agg(*exprs).collect()[0].asDict()
    out: dict[str, Any] = {"rows": int(row["rows"])}
    for i, name in enumerate(kinds):
        out[name] = {key: row.get(f"{key}{i}") or 0 for key in ("m", "t", "q", "bc", "bs", "ac", "as")}
    return out


def _multivariate_summary(
    spark: Any, data: SparkData, profile: ReferenceProfile, kinds: dict[str, str], rows: int
) -> ColumnSummary | None:
    """The reconstruction errors of the rows the local path reads (every `step`-th row, at most CHECK_ROWS), as a
    summary on the reference error's bins; None when the local path would not test either."""
    from pyspark.sql import functions as F

    model = profile.multivariate or {}
    if model.get("status") != "fitted" or not all(c in data.columns for c in model["columns"]):
        return None
    if not all(kinds.get(c) == NUMERIC for c in model["columns"]):
        return None
    step = max(1, math.ceil(rows / multivariate.CHECK_ROWS))
    indexed = data.row_indexed(spark)
    picked = indexed.where(F.col(_ROW) % step == 0) if step > 1 else indexed
    chosen = picked.select(_ROW, *[number_expr(c, data.types[c]).alias(c) for c in model["columns"]])
    table = collect_arrow(spark, chosen).sort_by(_ROW)  # at most CHECK_ROWS rows
    # (nulls arrive as NaN)
    numbers = [np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64) for c in model["columns"]]
    error = multivariate.errors(model, multivariate.tables_for(model), numbers)
    reference = ColumnProfile(**model["error"])
    return summarise_values(reference, Values(NUMERIC, "float64", len(error), 0, numbers=error))


def summarise(spark: Any, profile: ReferenceProfile, location: str | os.PathLike) -> Window:
    """The current data at `location` reduced to the summaries the check consumes (a `data.Window`, as
    `data.summarise_file` gives for the local engine)."""
    data = read(spark, location)
    return data_errors(data.location, lambda: _summarise(spark, profile, data))


def summarise_frame(spark: Any, profile: ReferenceProfile, frame: Any, location: str) -> Window:
    """`summarise` of a Parquet-read frame already cut to the window (the EMR job's: many capture objects and a time
    cut); `location` names it in errors and as the window's source."""
    columns = [c for c in frame.columns if c not in INDEX_COLUMNS]
    types = {f.name: f.dataType for f in frame.schema.fields}
    data = SparkData(location, "parquet", frame, columns, types)
    return data_errors(location, lambda: _summarise(spark, profile, data))


def _summarise(spark: Any, profile: ReferenceProfile, data: SparkData) -> Window:
    wanted = [c for c in profile.columns if c in data.columns]
    kinds: dict[str, str] = {}
    for name in wanted:
        ref = profile.columns[name]
        natural = natural_kind(data.types[name])
        kinds[name] = current_kind(ref, natural) if ref.kind != UNSUPPORTED else natural
    edges = {n: profile.columns[n].edges for n in wanted if kinds[n] == NUMERIC == profile.columns[n].kind}
    found = _aggregates(data.frame, data.types, kinds, edges)
    rows = found["rows"]
    if rows == 0:
        raise DataError(f"{data.location}: the current window is empty (no rows)")
    summaries: dict[str, ColumnSummary] = {}
    counted: dict[str, Counted] = {}
    for name in wanted:
        ref, kind = profile.columns[name], kinds[name]
        lost = int(found[name]["m"])
        dtype = dtype_name(data.types[name], lost > 0, data.format)
        if lost == rows and kind != ref.kind:  # all missing: nothing contradicts the reference kind
            kind = ref.kind
        summary = summaries[name] = ColumnSummary(name, kind, dtype, rows=rows, missing=lost)
        if kind != ref.kind:  # a changed type: only the missing count is kept, the check skips the column
            continue
        if kind == NUMERIC:
            sums = found[name]
            summary.total, summary.total_sq = float(sums["t"]), float(sums["q"])
            if ref.edges:
                summary.counts = np.zeros(len(ref.edges) + 1, dtype=np.int64)
                summary.below_count, summary.below_sum = int(sums["bc"]), float(sums["bs"])
                summary.above_count, summary.above_sum = int(sums["ac"]), float(sums["as"])
                if lost < rows:
                    counted[name] = Counted(edges=ref.edges)
        elif kind == CATEGORICAL:
            summary.category_counts = np.zeros(len(ref.categories), dtype=np.int64)
            if lost < rows:
                counted[name] = Counted(known=list(ref.categories))
    for name, result in grouped_counts(data.frame, data.types, counted).items():
        summary = summaries[name]
        if counted[name].edges is not None:
            summary.counts = result
            continue
        position = {label: i for i, label in enumerate(profile.columns[name].categories)}
        pairs, summary.unseen_count = result
        known = summary.category_counts
        assert known is not None  # set above for every categorical column counted
        unseen = []
        for label, count in pairs:
            if label in position:
                known[position[label]] = count
            else:
                unseen.append((label, count))
        summary.unseen = Counter(dict(sorted(unseen, key=lambda item: -item[1])))
    errors = _multivariate_summary(spark, data, profile, kinds, rows)
    if errors is not None:
        summaries[multivariate.KEY] = errors
    probabilities, labels = _kept_columns(spark, profile, data)
    return Window(summaries, data.columns, rows, sources=[data.location], probabilities=probabilities,
                  labels=labels)  # fmt: skip


def _kept_columns(spark: Any, profile: ReferenceProfile, data: SparkData) -> tuple[Any, Any]:
    """CBPE's inputs, whole and in file order: the probability column and, beside it, the target if present."""
    if not profile.estimation:
        return None, None
    from mlops.core.contracts import CAPTURE_PROBABILITIES_COLUMN

    column = profile.estimation.get("column", CAPTURE_PROBABILITIES_COLUMN)
    if column not in data.columns:
        return None, None
    names = [column] + ([profile.target] if profile.target and profile.target in data.columns else [])
    table = collect_arrow(spark, data.frame.select(*names))
    kept = [table.column(n).to_numpy(zero_copy_only=False) for n in names]
    return kept[0], kept[1] if len(kept) > 1 else None


def check_with_spark(
    profile: ReferenceProfile,
    current_uri: str,
    config: DriftConfig,
    *,
    spark: Any = None,
    data_classes: dict[str, str] | None = None,
) -> dict:
    """The drift report of the current data at `current_uri` (Parquet or CSV: a local path, s3a:// or s3:// URI)
    against `profile`, computed with Spark: exactly the dict `mlops drift check` writes for the local engine.
    `spark`: the session to use (default: the active one, else a new local one)."""
    from mlops.drift.check import estimate_performance, matching_columns, run_check

    spark = spark or session()
    window = summarise(spark, profile, current_uri)
    matching_columns(profile, window.columns, str(current_uri))
    report = run_check(profile, window.summaries, window.columns, config, current_rows=window.rows,
                       data_classes=data_classes)  # fmt: skip
    estimated = estimate_performance(profile, window.probabilities, config, window.labels)
    if estimated is not None:
        report["model"]["estimated_performance"] = estimated
    return report
