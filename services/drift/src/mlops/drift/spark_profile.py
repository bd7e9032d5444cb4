"""A reference profile built with Spark (`mlops drift profile --engine spark`), equal to the local engine's.

The local builder (`mlops.drift.builder`) counts what adds up exactly and takes numeric edges from a row sample:
the rows whose hashed row index (`builder.row_keys`) is among the `SAMPLE_ROWS` smallest, every row up to that
size. Spark's `approxQuantile` would give other edges (a Greenwald-Khanna sketch, not the sample's order
statistics), so profiles would differ. Instead the same rule runs here: the chosen row indices are computed on the
driver from the row count alone (they do not depend on the data), those rows are collected (a bounded sample, as
the local builder keeps it), and the builder's own code turns counts and sample into the profile (`_edges`,
`_profile`, the multivariate fit, the calibration). Spark computes the exact parts as aggregations: rows, missing
values, mean and variance, minimum and maximum, category counts, and (above the sample size) the counts on the
edges. Means and standard deviations are summed in another order than the local engine's, so they agree to about
1e-12 relative; everything else is identical.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mlops.core.data_classes import CapturePolicy
from mlops.drift.builder import SAMPLE_ROWS, SAMPLE_VALUES, ProfileBuilder, Sample, _Column, row_keys
from mlops.drift.data import DataError
from mlops.drift.profile import DEFAULT_BINS, DEFAULT_MAX_CATEGORIES, ProfileError, ReferenceProfile
from mlops.drift.spark import (
    _ROW,
    Counted,
    SparkData,
    arrow_transfer,
    collect_arrow,
    data_errors,
    dtype_name,
    grouped_counts,
    missing_expr,
    natural_kind,
    number_expr,
    read,
    session,
)
from mlops.drift.values import CATEGORICAL, NUMERIC

KEY_CHUNK = 8_000_000  # row keys hashed at a time on the driver when choosing the sample


def sample_rows(total: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and keys of the builder's sample of `total` rows: the `limit` smallest keys (all rows when they
    fit), in row order."""
    if total <= limit:
        return np.arange(total, dtype=np.int64), row_keys(0, total)
    best_keys, best_rows = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    for start in range(0, total, KEY_CHUNK):
        count = min(KEY_CHUNK, total - start)
        keys = np.concatenate([best_keys, row_keys(start, count)])
        rows = np.concatenate([best_rows, np.arange(start, start + count, dtype=np.int64)])
        keep = np.argpartition(keys, limit - 1)[:limit] if len(keys) > limit else np.arange(len(keys))
        best_keys, best_rows = keys[keep], rows[keep]
    order = np.argsort(best_rows)
    return best_rows[order], best_keys[order]


class _SparkBuilder(ProfileBuilder):
    """The local builder's finish (edges, profiles, multivariate fit, calibration) on counts made by Spark; its
    second pass counts every value on the edges with Spark too."""

    data: SparkData

    def _count(self, batch: Any, found: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        specs = {name: Counted(edges=edges) for name, (edges, _) in found.items()}
        for name, counts in grouped_counts(self.data.frame, self.data.types, specs).items():
            found[name][1][:] += counts


def profile_with_spark(
    location: str | os.PathLike,
    *,
    spark: Any = None,
    target: str | None = None,
    prediction: str | None = None,
    probabilities: str | None = None,
    model_name: str | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    policy: CapturePolicy | None = None,
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    sample_limit: int | None = None,
) -> ReferenceProfile:
    """The reference profile of a Parquet or CSV input (local path, s3a:// or s3:// URI), computed with Spark:
    the profile `data.profile_file` builds from the same data. `probabilities`: the capture's JSON column."""
    spark = spark or session()
    data = read(spark, location)
    if policy is not None and policy.personal:
        raise ProfileError(
            f"personal columns ({', '.join(policy.personal)}) are hashed with a key the Spark engine does not apply; "
            "profile this data with --engine local"
        )
    return data_errors(data.location, lambda: _build(spark, data, target, prediction, probabilities, model_name,
                                                  categorical, policy, bins, max_categories, sample_limit))  # fmt: skip


def _build(spark, data, target, prediction, probabilities, model_name, categorical, policy, bins, max_categories,
           sample_limit) -> ReferenceProfile:  # fmt: skip
    from pyspark.sql import functions as F

    builder = _SparkBuilder(target=target, prediction=prediction, probabilities=probabilities,
                            categorical=categorical, bins=bins, max_categories=max_categories)  # fmt: skip
    builder.data = data
    sensitive = set(policy.sensitive) if policy is not None else set()
    names = [n for n in data.columns if n not in builder.probability_columns and n not in sensitive]
    wanted = [("target", target), ("prediction", prediction),
              *(("probabilities", p) for p in builder.probability_columns),
              *(("categorical", c) for c in sorted(builder.forced))]  # fmt: skip
    for role, name in wanted:
        if name is not None and name not in data.columns:
            raise ProfileError(f"{role} column {name!r} is not in the reference data")
    kinds = {n: CATEGORICAL if n in builder.forced else natural_kind(data.types[n]) for n in names}
    exprs = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(names):
        spark_type = data.types[name]
        exprs.append(F.sum(F.when(missing_expr(name, spark_type, kinds[name]), 1).otherwise(0)).alias(f"m{i}"))
        if kinds[name] == NUMERIC:
            v = number_expr(name, spark_type)
            exprs += [F.avg(v).alias(f"mean{i}"), F.var_samp(v).alias(f"var{i}"), F.min(v).alias(f"low{i}"),
                      F.max(v).alias(f"high{i}")]  # fmt: skip
    row = data.frame.agg(*exprs).collect()[0].asDict()
    rows = int(row["rows"])
    if rows == 0:
        raise DataError(f"{data.location}: the file has no rows")
    for i, name in enumerate(names):
        kind, missing = kinds[name], int(row[f"m{i}"] or 0)
        count = rows - missing
        column = _Column(name, kind if count else None, dtype_name(data.types[name], missing > 0, data.format),
                         first_kind=kind, rows=rows, missing=missing)  # fmt: skip
        if kind == NUMERIC and count:
            column.count, column.mean = count, float(row[f"mean{i}"])
            variance = row[f"var{i}"]
            column.m2 = float(variance) * (count - 1) if count > 1 and variance is not None else 0.0
            column.low, column.high = float(row[f"low{i}"]), float(row[f"high{i}"])
        builder.columns[name] = column
    texts = {n: Counted() for n in names if kinds[n] == CATEGORICAL and builder.columns[n].kind}
    for name, (pairs, _) in grouped_counts(data.frame, data.types, texts).items():
        builder.columns[name].categories = dict(pairs)  # every distinct value, as the local builder keeps them
    builder.rows = rows
    # the builder's sample: as many rows as it would keep for this many numeric columns, chosen by row index
    numeric = [n for n in names if kinds[n] == NUMERIC and builder.columns[n].count]
    wide = sum(1 for n in names if kinds[n] == NUMERIC)
    limit = min(sample_limit or SAMPLE_ROWS, max(100_000, SAMPLE_VALUES // max(1, wide + len(builder.roles))))
    index, keys = sample_rows(rows, limit)
    builder.sample = _collected_sample(spark, data, numeric, builder.roles, index, keys, limit, rows)
    policy_kept, builder.policy = policy, None  # sensitive columns are already left out; nothing is hashed
    # the second pass, when the sample is not every row, is one Spark job (`_count`): no batches to give it
    profile = builder.finish(lambda: [None], model_name=model_name)  # type: ignore[list-item]
    profile.data_classes = dict(policy_kept.classes) if policy_kept is not None else None
    return profile


def _collected_sample(spark, data, numeric, roles, index, keys, limit, rows) -> Sample:
    """The chosen rows' numeric values (NaN where missing) and raw role columns, as the builder's Sample."""
    from pyspark.sql import functions as F

    indexed = data.row_indexed(spark)
    columns = [*[number_expr(n, data.types[n]).alias(n) for n in numeric],
               *[F.col(r).alias(f"role:{r}") for r in roles]]  # fmt: skip
    if len(index) < rows:  # only the chosen rows: a broadcast join on their indices
        import pandas as pd

        with arrow_transfer(spark):
            chosen = spark.createDataFrame(pd.DataFrame({_ROW: index}))
        indexed = indexed.join(F.broadcast(chosen), _ROW)
    table = collect_arrow(spark, indexed.select(_ROW, *columns)).sort_by(_ROW)  # at most `limit` rows
    found = table.column(_ROW).to_numpy()
    if len(found) != len(index) or not np.array_equal(found, index):
        raise DataError(f"{data.location}: Spark read {len(found)} of the {len(index)} sampled rows")
    sample = Sample(limit)
    values = {}
    for name in table.column_names[1:]:
        raw = table.column(name).to_numpy(zero_copy_only=False)
        values[name] = np.asarray(raw, dtype=np.float64) if not name.startswith("role:") else raw
    sample.parts = [(keys, index, values)]
    sample.size = len(index)
    sample.cut = None if len(index) == rows else keys.max()
    return sample
