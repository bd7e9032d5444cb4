"""Multivariate drift: a change in how the numeric features move together, while each may look the same alone.

The method is NannyML's data reconstruction with PCA, made to fit the profile design. Each numeric feature is
mapped to normal scores through its own reference quantiles, so skewed, heavy-tailed and integer columns all enter
on one scale and a column's marginal shape does not dominate. A PCA fitted on reference rows
keeps the components that explain 65% of the variance; a row's reconstruction error is its distance from that
subspace. Rows that follow the reference's correlations reconstruct well; a correlation flipped, a mixture shifted
or a block rotated leaves rows off the subspace, and their errors grow.

NannyML compares the mean error of a chunk with a band of 3 standard deviations. Here the error is tested like a
numeric column: the reference error distribution comes from other reference rows than those the PCA was fitted
on, so under no drift the current errors are a sample of the same distribution and the two-sample KS p-value is
valid; the effect size (Wasserstein distance over the reference error's standard deviation) stops trivia at
millions of rows, as for columns. The profile stores 100 quantiles per feature (its score map), means, scales,
components and the binned error distribution: no raw rows, about features x (100 + kept components) + 2,000
numbers, some 2.5 KB per feature + 25 KB, against some 25 KB per numeric column the column tests already keep.

Limits: only numeric columns take part (categories are tested one by one); a change confined to the kept
components' span with the same spread (a pure shift along a principal direction) moves marginals, which the
column tests catch; nonlinear dependence with unchanged correlations (e.g. a symmetric XOR pattern) is invisible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.drift.profile import ColumnProfile
from mlops.drift.special import ndtri

KEY = "(multivariate)"  # the summary of the reconstruction error, beside the column summaries
FIT_ROWS = 10_000  # reference rows the PCA is fitted on; as many others give the reference error distribution
CHECK_ROWS = 50_000  # a window's rows the test reads at most, spread evenly over the window
MIN_ROWS = 200
VARIANCE_KEPT = 0.65  # NannyML's default
ERROR_BINS = 1000
TABLE_POINTS = 100  # quantiles per feature for its normal-score map


def _quantiles(values: np.ndarray) -> np.ndarray:
    """The fit rows' values at TABLE_POINTS evenly spaced probabilities: all the profile keeps of a feature."""
    return np.quantile(values[~np.isnan(values)], (np.arange(TABLE_POINTS) + 0.5) / TABLE_POINTS)


def _score_table(quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The normal score at each stored quantile (tied quantiles share their mean score), to interpolate."""
    z = np.array([ndtri(p) for p in ((np.arange(len(quantiles)) + 0.5) / len(quantiles)).tolist()])
    x, group = np.unique(quantiles, return_inverse=True)
    return x, np.bincount(group, weights=z) / np.bincount(group)


def usable(column: ColumnProfile) -> bool:
    return column.kind == "numeric" and column.reason is None and len(column.edges) > 1


def scores(tables: list[tuple[np.ndarray, np.ndarray]], columns: list[np.ndarray]) -> np.ndarray:
    """Rows x features of normal scores (NaN where a value is missing)."""
    out = np.empty((len(columns[0]), len(columns)))
    for j, ((edges, normal), values) in enumerate(zip(tables, columns, strict=True)):
        out[:, j] = np.interp(values, edges, normal)
    return out


def errors(model: dict[str, Any], tables: list[tuple[np.ndarray, np.ndarray]], columns: list[np.ndarray]):
    """Each row's distance from the PCA subspace, in standardised normal scores (missing values at the mean)."""
    z = (scores(tables, columns) - np.asarray(model["mean"])) / np.asarray(model["scale"])
    z = np.nan_to_num(z, nan=0.0)
    kept = z @ np.asarray(model["components"]).T
    return np.sqrt(np.maximum((z * z).sum(axis=1) - (kept * kept).sum(axis=1), 0.0))


def error_column(values: np.ndarray, bins: int = ERROR_BINS) -> ColumnProfile:
    """A numeric column profile of the reference reconstruction errors (exact quantile edges and counts)."""
    ordered = np.sort(values)
    edges = np.unique(ordered[np.linspace(0, len(ordered) - 1, bins + 1).round().astype(np.int64)])
    counts = np.diff(np.searchsorted(ordered, edges, side="right"), prepend=0)
    return ColumnProfile(
        KEY, "numeric", "float64", len(values), 0, mean=float(values.mean()), std=float(values.std(ddof=1)),
        min=float(ordered[0]), max=float(ordered[-1]), edges=edges.tolist(), counts=[*counts.tolist(), 0],
    )  # fmt: skip


def tables_for(model: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [_score_table(np.asarray(q)) for q in model["quantiles"]]


def fit(columns: dict[str, ColumnProfile], sample: dict[str, np.ndarray], keys: np.ndarray) -> dict[str, Any]:
    """The profile's `multivariate` entry from the builder's row sample (or why there is none)."""
    names = [n for n in sample if usable(columns[n])]
    if len(names) < 2:
        return {"status": "skipped", "reason": "fewer than two numeric features"}
    if len(keys) < MIN_ROWS:
        return {"status": "skipped", "reason": f"fewer than {MIN_ROWS} reference rows"}
    chosen = np.arange(len(keys))
    if len(keys) > 2 * FIT_ROWS:  # the rows with the smallest keys: a uniform sample
        chosen = np.argpartition(keys, 2 * FIT_ROWS - 1)[: 2 * FIT_ROWS]
    chosen = chosen[np.argsort(keys[chosen])]
    fit_rows, hold_rows = np.sort(chosen[0::2]), np.sort(chosen[1::2])
    # everything is fitted on the fit rows only (score maps, centring, components), so the held-out rows are,
    # like a current window without drift, new data to it: their errors are the valid reference distribution
    fitting = [sample[n][fit_rows] for n in names]
    quantiles = [_quantiles(values) for values in fitting]
    tables = [_score_table(q) for q in quantiles]
    z = scores(tables, fitting)
    mean, scale = np.nanmean(z, axis=0), np.nanstd(z, axis=0)
    constant = scale < 1e-9
    if constant.any():  # a column that is one value on these rows carries no joint information
        keep = ~constant
        names = [n for n, k in zip(names, keep, strict=True) if k]
        quantiles = [q for q, k in zip(quantiles, keep, strict=True) if k]
        tables = [t for t, k in zip(tables, keep, strict=True) if k]
        z, mean, scale = z[:, keep], mean[keep], scale[keep]
        if len(names) < 2:
            return {"status": "skipped", "reason": "fewer than two varying numeric features"}
    standard = np.nan_to_num((z - mean) / scale, nan=0.0)
    variance, vectors = np.linalg.eigh(standard.T @ standard / len(standard))  # features x features: cheap
    variance, vectors = variance[::-1], vectors[:, ::-1]  # largest first
    share = np.cumsum(variance) / np.sum(variance)
    kept = min(int(np.searchsorted(share, VARIANCE_KEPT)) + 1, len(names) - 1)
    vt = vectors.T
    model: dict[str, Any] = {"status": "fitted", "method": "pca_reconstruction", "columns": names,
                             "quantiles": [q.tolist() for q in quantiles],
                             "mean": mean.tolist(), "scale": scale.tolist(), "components": vt[:kept].tolist(),
                             "variance_kept": float(share[kept - 1]), "fit_rows": len(fit_rows)}  # fmt: skip
    reference = errors(model, tables, [sample[n][hold_rows] for n in names])
    model["error"] = dict(vars(error_column(reference)))  # (dataclasses.asdict deep-copies: 60 ms here)
    return model
