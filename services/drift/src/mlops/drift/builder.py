"""Building a reference profile from chunks of rows, in memory bounded by the chunk size and a fixed sample.

Pass 1 counts what chunks add up exactly (missing values, category counts, sums, minimum, maximum) and keeps a
row-aligned sample: the rows whose hashed row index is among the `SAMPLE_ROWS` smallest. Which rows those are does
not depend on how the input was cut into chunks, so a streamed profile equals the in-memory one. Numeric edges are
quantiles of the sample: with up to `SAMPLE_ROWS` rows the sample is every row and the edges are the exact
quantiles. Above that a second pass counts every value on those edges, so bin counts stay exact while the edges
are quantiles of a million-row sample (a bin then holds 0.1% of the reference, give or take 3% of that). The sample
holds at most `SAMPLE_VALUES` numbers, so a table with more than 24 numeric columns samples fewer rows.
The same sample fits the multivariate test and calibrates performance estimation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops.core.data_classes import CapturePolicy
from mlops.drift.profile import DEFAULT_BINS, DEFAULT_MAX_CATEGORIES, ColumnProfile, ProfileError, ReferenceProfile
from mlops.drift.values import CATEGORICAL, NUMERIC, UNSUPPORTED, Batch, FrameBatch, Values

SAMPLE_ROWS = 1_000_000
SAMPLE_VALUES = 24_000_000  # and at most this many sampled values (192 MB): wide tables get fewer rows
_GOLDEN, _MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def row_keys(start: int, count: int) -> np.ndarray:
    """splitmix64 of the row indices: a bijection, so keys never tie, and a good hash, so the rows with the
    smallest keys are a uniform sample."""
    z = np.arange(start, start + count, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class Sample:
    """The rows with the `limit` smallest keys seen so far, with the given columns of each (no copy while every
    row fits)."""

    def __init__(self, limit: int):
        self.limit, self.size, self.cut = limit, 0, None
        self.parts: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []

    @property
    def complete(self) -> bool:
        """Every row seen is in the sample."""
        return self.cut is None and self.size <= self.limit

    def add(self, start: int, rows: int, columns: dict[str, np.ndarray]) -> None:
        keys = row_keys(start, rows)
        index = np.arange(start, start + rows, dtype=np.int64)
        if self.cut is not None:
            keep = np.flatnonzero(keys < self.cut)
            keys, index, columns = keys[keep], index[keep], {n: a[keep] for n, a in columns.items()}
        self.parts.append((keys, index, columns))
        self.size += len(keys)
        if self.size > self.limit + self.limit // 2:
            self._prune()

    def _merged(self, take: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """The parts as one (the rows at `take` only), a column at a time so that only one is ever copied whole."""
        names = {n for _, _, cols in self.parts for n in cols}
        keys, index = _concat([k for k, _, _ in self.parts]), _concat([i for _, i, _ in self.parts])
        columns = {}
        for name in names:  # a column first seen in a later chunk was all missing before it
            whole = _concat([cols[name] if name in cols else np.full(len(k), np.nan) for k, _, cols in self.parts])
            columns[name] = whole if take is None else whole[take]
            for _, _, cols in self.parts:
                cols.pop(name, None)  # free each part's copy as soon as it is merged
        return (keys, index, columns) if take is None else (keys[take], index[take], columns)

    def _prune(self) -> None:
        keys = _concat([k for k, _, _ in self.parts])
        keep = np.argpartition(keys, self.limit - 1)[: self.limit]
        self.parts = [self._merged(keep)]
        self.size, self.cut = self.limit, self.parts[0][0].max()

    def finish(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Keys, row indices and columns of the sample, in row order."""
        if self.size > self.limit:
            self._prune()
        if not self.parts:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64), {}
        keys, index, columns = self._merged()
        if np.all(index[1:] > index[:-1]):  # every row kept, in order: no copy
            return keys, index, columns
        order = np.argsort(index, kind="stable")
        return keys[order], index[order], {n: a[order] for n, a in columns.items()}


def _widen(a: str, b: str) -> str:
    """The dtype pandas gives a column whose chunks had dtypes a and b."""
    if a == b:
        return a
    numbers = ("int", "uint", "float")
    return "float64" if a.startswith(numbers) and b.startswith(numbers) else "object"


@dataclass
class _Column:
    """What pass 1 accumulates for one column."""

    name: str
    kind: str | None  # decided on the first chunk with a value (a column may start all missing)
    dtype: str = ""
    first_kind: str = UNSUPPORTED  # the kind of the first chunk, for a column that is never anything but missing
    rows: int = 0
    missing: int = 0
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations (Chan et al.: chunks merge without losing precision)
    low: float = np.inf
    high: float = -np.inf
    categories: dict[str, int] = field(default_factory=dict)
    counts: np.ndarray | None = None  # pass 2: counts on the edges

    def add(self, values: Values, first_row: int) -> np.ndarray | None:
        if not self.rows:
            self.first_kind, self.dtype = values.kind, values.dtype
        if values.count and self.kind is None:
            self.kind = values.kind
        elif values.count and values.kind != self.kind:
            raise ProfileError(
                f"column {self.name!r} changes type at row {first_row}: {self.kind} before, {values.kind} "
                f"({values.dtype}) after; pass it as categorical or fix the data"
            )
        self.rows += values.rows
        self.missing += values.missing
        self.dtype = _widen(self.dtype, values.dtype)
        if values.kind == CATEGORICAL and values.labels is not None and values.counts is not None:
            for label, count in zip(values.labels, values.counts.tolist(), strict=True):
                self.categories[label] = self.categories.get(label, 0) + count
        if values.kind != NUMERIC or values.numbers is None:
            return np.full(values.rows, np.nan) if self.kind in (None, NUMERIC) else None
        finite = values.finite()
        if len(finite):
            n, total_sum, squares = len(finite), float(finite.sum()), float(np.dot(finite, finite))
            mean = total_sum / n
            m2 = squares - total_sum * mean  # one pass; exact enough unless the mean dwarfs the spread ...
            if m2 < 1e-8 * squares:  # ... where it cancels: then the two-pass form
                m2 = float(np.dot(finite - mean, finite - mean))
            total = self.count + n
            delta = mean - self.mean
            self.m2 += m2 + delta * delta * self.count * n / total
            self.mean += delta * n / total
            self.count = total
            self.low, self.high = min(self.low, float(finite.min())), max(self.high, float(finite.max()))
        return values.numbers


class ProfileBuilder:
    """Feed it batches (`add`), then `finish`; give `finish` the batches again when the sample is not every row."""

    def __init__(
        self,
        *,
        target: str | None = None,
        prediction: str | None = None,
        probabilities: str | list[str] | None = None,
        categorical: Iterable[str] = (),
        bins: int = DEFAULT_BINS,
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        workers: int | None = None,
        sample_rows: int | None = None,
        policy: CapturePolicy | None = None,
    ):
        if bins < 2 or max_categories < 1:
            raise ProfileError("bins must be at least 2 and max_categories at least 1")
        self.target, self.prediction, self.probabilities = target, prediction, probabilities
        # one JSON text column of {class: probability} (the capture's), or one column per class
        self.probability_columns = [probabilities] if isinstance(probabilities, str) else list(probabilities or [])
        self.forced = set(categorical)
        self.bins, self.max_categories = bins, max_categories
        self.workers = workers or min(2, os.cpu_count() or 1)
        self.sample_rows = sample_rows
        # the capture's data classes: the reference is profiled as the capture stores it (mlops.drift.privacy)
        self.policy = policy
        self.sample = Sample(1)  # sized on the first batch, when the number of numeric columns is known
        self.columns: dict[str, _Column] = {}
        self.rows = 0

    @property
    def roles(self) -> list[str]:
        """Columns kept whole in the sample for metrics and calibration, besides the features."""
        return [c for c in (self.target, self.prediction, *self.probability_columns) if c]

    def add(self, batch: Batch) -> None:
        if self.policy is not None:
            from mlops.drift.privacy import PseudonymisedBatch

            batch = PseudonymisedBatch(batch, self.policy)
        names = [n for n in batch.names if n not in self.probability_columns]
        if not self.columns:
            wanted = [("target", self.target), ("prediction", self.prediction),
                      *(("probabilities", p) for p in self.probability_columns),
                      *(("categorical", c) for c in sorted(self.forced))]  # fmt: skip
            for role, name in wanted:
                if name is not None and name not in batch.names:
                    raise ProfileError(f"{role} column {name!r} is not in the reference data")
            self.columns = {n: _Column(n, CATEGORICAL if n in self.forced else None) for n in names}
            wide = sum(1 for n in names if n not in self.forced and batch.natural_kind(n) == NUMERIC)
            rows = min(self.sample_rows or SAMPLE_ROWS, max(100_000, SAMPLE_VALUES // max(1, wide + len(self.roles))))
            self.sample = Sample(rows)
        elif names != list(self.columns):
            raise ProfileError(f"the columns change at row {batch.start}: {', '.join(names[:8])}")

        def reduce(name: str) -> np.ndarray | None:
            column = self.columns[name]
            kind = column.kind
            if kind == NUMERIC and batch.natural_kind(name) != NUMERIC:
                kind = None  # read as what it is: `add` names the type change (unless it is all missing)
            return column.add(batch.values(name, kind), batch.start)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:  # numpy and Arrow release the GIL
            numbers = dict(zip(names, pool.map(reduce, names), strict=True))
        kept = {n: a for n, a in numbers.items() if a is not None}
        kept.update({f"role:{r}": batch.raw(r) for r in self.roles})
        self.sample.add(batch.start, batch.rows, kept)
        self.rows += batch.rows

    def _edges(self, column: _Column, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quantile edges of the sample (exact minimum and maximum at the ends) and, when the sample is every row,
        the exact counts: counts[k] = #{edges[k-1] < x <= edges[k]}, and nothing above the maximum."""
        ordered = np.sort(values if self.sample.complete and not column.missing else values[~np.isnan(values)])
        positions = np.linspace(0, len(ordered) - 1, self.bins + 1).round().astype(np.int64)
        edges = ordered[positions]
        edges[0], edges[-1] = column.low, column.high
        edges = np.unique(edges)
        if not self.sample.complete:
            return edges, np.zeros(len(edges) + 1, dtype=np.int64)
        counts = np.diff(np.searchsorted(ordered, edges, side="right"), prepend=0)
        return edges, np.append(counts, 0)

    def finish(
        self, again: Callable[[], Iterable[Batch]] | None = None, model_name: str | None = None
    ) -> ReferenceProfile:
        if self.rows == 0:
            raise ProfileError("reference data has no rows")
        keys, _, sample = self.sample.finish()
        numeric = [c for c in self.columns.values() if c.kind == NUMERIC and c.count]

        def edges(column: _Column) -> tuple[np.ndarray, np.ndarray]:
            return self._edges(column, sample[column.name])

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            found = dict(zip([c.name for c in numeric], pool.map(edges, numeric), strict=True))
        if not self.sample.complete:  # pass 2: every value counted on the edges
            if again is None:
                raise ProfileError("a reference larger than the sample needs a second pass over the data")
            for batch in again():
                if self.policy is not None:
                    from mlops.drift.privacy import PseudonymisedBatch

                    batch = PseudonymisedBatch(batch, self.policy)
                self._count(batch, found)
        columns = {name: self._profile(col, found.get(name)) for name, col in self.columns.items()}
        profile = ReferenceProfile(columns=columns, rows=self.rows, target=self.target, prediction=self.prediction,
                                   model_name=model_name,
                                   data_classes=dict(self.policy.classes) if self.policy else None)  # fmt: skip
        from mlops.drift import multivariate, roles

        features = {n: sample[n] for n in profile.feature_columns if columns[n].kind == NUMERIC and n in sample}
        profile.multivariate = multivariate.fit(columns, features, keys)
        roles.describe(profile, {r: sample[f"role:{r}"] for r in self.roles}, self.probabilities)
        return profile

    def _count(self, batch: Batch, found: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        def count(name: str) -> None:
            edges, counts = found[name]
            values = batch.values(name, NUMERIC).finite()
            at_most = np.searchsorted(np.sort(values), edges, side="right")
            counts[:-1] += np.diff(at_most, prepend=0)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            list(pool.map(count, list(found)))

    def _profile(self, col: _Column, found: tuple[np.ndarray, np.ndarray] | None) -> ColumnProfile:
        kind = col.kind or col.first_kind
        profile = ColumnProfile(col.name, kind, col.dtype, col.rows - col.missing, col.missing)
        if kind == UNSUPPORTED:
            profile.reason = f"type {col.dtype}"
        elif profile.count == 0:
            profile.reason = "every reference value is missing"
        elif kind == NUMERIC and found is not None:
            edges, counts = found
            profile.edges, profile.counts = edges.tolist(), counts.tolist()
            profile.mean = col.mean
            profile.std = float(np.sqrt(col.m2 / (col.count - 1))) if col.count > 1 else 0.0
            profile.min, profile.max = col.low, col.high
            profile.is_integer = bool(np.all(np.mod(edges, 1) == 0))
        elif kind == CATEGORICAL:
            ranked = sorted(col.categories.items(), key=lambda item: (-item[1], item[0]))
            profile.categories = dict(ranked[: self.max_categories])
            profile.other = sum(count for _, count in ranked[self.max_categories :])
            profile.singletons = sum(1 for _, count in ranked if count == 1)
            profile.distinct = len(ranked)
        return profile


def build_profile(
    frame: Any,
    *,
    target: str | None = None,
    prediction: str | None = None,
    probabilities: Any = None,
    model_name: str | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    workers: int | None = None,
    policy: CapturePolicy | None = None,
) -> ReferenceProfile:
    """Profile every column of a pandas DataFrame.

    `target` and `prediction` name the label and model-output columns; with both, the reference performance is
    stored so later label-joined windows can be compared with it. `probabilities` (a DataFrame with one column per
    class label, row-aligned with `frame`, e.g. from `predict_proba`) calibrates label-free performance estimation.
    `categorical` forces integer-coded columns to be treated as categories. `policy` (the capture's data classes and
    hash key) profiles the reference as the capture stores it: personal columns hashed, sensitive ones left out.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ProfileError(f"reference data must be a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise ProfileError("reference data has no rows")
    if frame.columns.has_duplicates:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ProfileError(f"reference data has duplicate column names: {', '.join(dupes)}")
    columns: list[str] | None = None
    if probabilities is not None:
        from mlops.drift.roles import probability_frame

        extra = probability_frame(probabilities, len(frame))
        columns = list(extra.columns)
        frame = pd.concat([frame.reset_index(drop=True), extra], axis=1)
    builder = ProfileBuilder(target=target, prediction=prediction, probabilities=columns, categorical=categorical,
                             bins=bins, max_categories=max_categories, workers=workers, policy=policy)  # fmt: skip

    def batches() -> Iterable[Batch]:
        for start in range(0, len(frame), SAMPLE_ROWS):
            yield FrameBatch(frame.iloc[start : start + SAMPLE_ROWS], start)

    for batch in batches():
        builder.add(batch)
    return builder.finish(batches, model_name=model_name)
