"""Summarise current data on the reference profile's bins and categories, chunk by chunk.

A summary is a few counts per column, so chunks can be summarised independently (in worker processes for a large
Parquet file) and merged: memory depends on the chunk size, not on the row count. The multivariate test's
reconstruction errors are summarised the same way, as one more numeric column (`multivariate.KEY`).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops.drift import multivariate
from mlops.drift.profile import ColumnProfile, ReferenceProfile
from mlops.drift.values import CATEGORICAL, NUMERIC, Batch, FrameBatch, Values

MAX_UNSEEN_KEPT = 50  # distinct unseen category names kept for the report


@dataclass
class ColumnSummary:
    name: str
    kind: str
    dtype: str
    rows: int = 0
    missing: int = 0
    # numeric: counts on the profile's edges, and what falls outside the reference range
    counts: np.ndarray | None = None
    below_count: int = 0
    below_sum: float = 0.0
    above_count: int = 0
    above_sum: float = 0.0
    total: float = 0.0
    total_sq: float = 0.0
    # categorical: counts on the profile's categories, and unseen values
    category_counts: np.ndarray | None = None
    unseen: Counter = field(default_factory=Counter)
    unseen_count: int = 0

    @property
    def count(self) -> int:
        return self.rows - self.missing

    def merge(self, other: ColumnSummary) -> ColumnSummary:
        if other.kind != self.kind:  # a chunk whose type differs: the later check reports the column skipped
            self.kind = "mixed"
            return self
        self.rows += other.rows
        self.missing += other.missing
        if self.counts is not None and other.counts is not None:
            self.counts += other.counts
        if self.category_counts is not None and other.category_counts is not None:
            self.category_counts += other.category_counts
        for attr in ("below_count", "below_sum", "above_count", "above_sum", "total", "total_sq", "unseen_count"):
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))
        self.unseen.update(other.unseen)
        if len(self.unseen) > 4 * MAX_UNSEEN_KEPT:
            self.unseen = Counter(dict(self.unseen.most_common(MAX_UNSEEN_KEPT)))
        return self


def _numeric_name(dtype: str) -> bool:
    return dtype.lower().startswith(("int", "uint", "float"))


def current_kind(ref: ColumnProfile, natural: str) -> str:
    """The reference kind when the current values fit it, else the kind they have (a type change; a column that
    turns out all missing is given back its reference kind by `_column`)."""
    if natural == ref.kind:
        return ref.kind
    # integer-coded categories, forced categorical at profile time, stay categorical
    if ref.kind == CATEGORICAL and natural == NUMERIC and _numeric_name(ref.dtype):
        return ref.kind
    return natural


def summarise_values(ref: ColumnProfile, values: Values) -> ColumnSummary:
    summary = ColumnSummary(ref.name, values.kind, values.dtype, rows=values.rows, missing=values.missing)
    if values.kind != ref.kind:  # a changed type: only the missing count is kept, the check skips the column
        return summary
    if ref.kind == NUMERIC and values.numbers is not None:
        finite = values.finite()
        edges = np.asarray(ref.edges)
        if len(edges):
            # sorting the chunk and looking the edges up in it is ~5x faster than looking every value up in
            # the edges (a vectorised sort beats a million cache-missing binary searches)
            ordered = np.sort(finite)
            at_most = np.searchsorted(ordered, edges, side="right")  # #{x <= edge}
            summary.counts = np.diff(at_most, prepend=0, append=len(ordered))
            below = int(np.searchsorted(ordered, edges[0], side="left"))
            summary.below_count, summary.below_sum = below, float(ordered[:below].sum())
            summary.above_count = len(ordered) - int(at_most[-1])
            summary.above_sum = float(ordered[at_most[-1] :].sum())
        summary.total, summary.total_sq = float(finite.sum()), float(np.dot(finite, finite))
    elif ref.kind == CATEGORICAL and values.labels is not None and values.counts is not None:
        position = {name: i for i, name in enumerate(ref.categories)}
        summary.category_counts = np.zeros(len(position), dtype=np.int64)
        unseen: list[tuple[str, int]] = []
        for label, count in zip(values.labels, values.counts.tolist(), strict=True):
            i = position.get(label)
            if i is None:
                unseen.append((label, count))
            else:
                summary.category_counts[i] += count
        summary.unseen_count = sum(c for _, c in unseen)
        summary.unseen = Counter(dict(sorted(unseen, key=lambda item: -item[1])[:MAX_UNSEEN_KEPT]))
    return summary


def _column(profile: ReferenceProfile, batch: Batch, name: str) -> tuple[ColumnSummary, Values]:
    ref = profile.columns[name]
    natural = batch.natural_kind(name)
    values = batch.values(name, current_kind(ref, natural) if ref.kind != "unsupported" else natural)
    if values.count == 0 and values.kind != ref.kind:  # all missing: nothing contradicts the reference kind
        values = Values(ref.kind, values.dtype, values.rows, values.rows,
                        numbers=np.full(values.rows, np.nan) if ref.kind == NUMERIC else None,
                        labels=[] if ref.kind == CATEGORICAL else None,
                        counts=np.zeros(0, dtype=np.int64) if ref.kind == CATEGORICAL else None)  # fmt: skip
    return summarise_values(ref, values), values


def summarise_batch(
    profile: ReferenceProfile, batch: Batch, *, total_rows: int | None = None, workers: int = 1
) -> dict[str, ColumnSummary]:
    """Summaries of the profile's columns present in `batch` (columns in threads: numpy and Arrow release the
    GIL), and of the multivariate reconstruction errors on an even spread of at most CHECK_ROWS rows."""
    names = [c for c in profile.columns if c in batch.names]

    def one(name: str) -> tuple[ColumnSummary, Values]:
        return _column(profile, batch, name)

    if workers <= 1:
        done = [one(n) for n in names]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(one, names))
    summaries = {n: s for n, (s, _) in zip(names, done, strict=True)}
    model = profile.multivariate or {}
    if model.get("status") == "fitted" and all(c in batch.names for c in model["columns"]):
        found = {n: v for n, (_, v) in zip(names, done, strict=True)}
        columns = [found[c] for c in model["columns"]]
        if all(v.kind == NUMERIC and v.numbers is not None for v in columns):
            step = max(1, math.ceil((total_rows or 0) / multivariate.CHECK_ROWS))
            rows = np.arange(-batch.start % step, batch.rows, step)
            numbers = [v.numbers[rows] for v in columns if v.numbers is not None]
            tables = multivariate.tables_for(model)
            error = multivariate.errors(model, tables, numbers)
            reference = ColumnProfile(**model["error"])
            summaries[multivariate.KEY] = summarise_values(
                reference, Values(NUMERIC, "float64", len(error), 0, numbers=error)
            )
    return summaries


def summarise_frame(profile: ReferenceProfile, frame: Any, workers: int = 1) -> dict[str, ColumnSummary]:
    """A pandas DataFrame (all of it one chunk)."""
    return summarise_batch(profile, FrameBatch(frame), total_rows=len(frame), workers=workers)


def merge_summaries(parts: Iterable[dict[str, ColumnSummary]]) -> dict[str, ColumnSummary]:
    merged: dict[str, ColumnSummary] = {}
    for part in parts:
        for name, summary in part.items():
            if name in merged:
                merged[name].merge(summary)
            else:
                merged[name] = summary
    return merged


def summarise_batches(
    profile: ReferenceProfile, batches: Iterable[Batch], *, total_rows: int | None = None, workers: int = 1
) -> tuple[dict[str, ColumnSummary], int]:
    """Summaries of a stream of batches, keeping one running summary; and the row count."""
    merged: dict[str, ColumnSummary] = {}
    rows = 0
    for batch in batches:
        merged = merge_summaries([merged, summarise_batch(profile, batch, total_rows=total_rows, workers=workers)])
        rows += batch.rows
    return merged, rows


def default_workers() -> int:
    return min(2, os.cpu_count() or 1)
