"""Per-column tests, all computed from the profile's bins and the current window's counts on them.

Every test gives a p-value (is there *a* difference?) and an effect size (is it big enough to matter?). A column
drifts only when both say so, after the p-values of all tests in a report are corrected with Benjamini-Hochberg:
at a million rows p-values flag differences nobody cares about, and the effect size stops that; at a thousand
rows effect sizes are noisy, and the corrected p-value stops that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlops.drift import special  # not scipy: its import alone is a third of a million-row check
from mlops.drift.profile import ColumnProfile
from mlops.drift.summary import ColumnSummary

EPS = 1e-4  # floor for empty bins in PSI
MIN_EXPECTED = 10  # categories with fewer reference values are pooled into "(other)" for chi-square
TEST_CATEGORIES = 20  # so are all but the most frequent categories


@dataclass
class TestResult:
    test: str  # "ks", "wasserstein", "psi", "chi2", "jensenshannon", "missing_rate", "unseen_categories"
    statistic: float  # the effect size compared with `threshold`
    p_value: float
    threshold: float
    detail: dict | None = None
    p_adjusted: float = 1.0
    drift: bool = False


def ks_p_value(d: float, n: int, m: int) -> float:
    """Two-sample KS p-value, asymptotic with the Stephens small-sample correction (conservative for ties)."""
    ne = n * m / (n + m)
    root = math.sqrt(ne)
    return float(min(1.0, special.kolmogorov((root + 0.12 + 0.11 / root) * d)))


def cdfs(ref: ColumnProfile, cur: ColumnSummary) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDFs of reference and current at every profile edge (P(X <= edge))."""
    assert cur.counts is not None  # a numeric column's summary is always counted on the profile's edges
    ref_cdf = np.cumsum(ref.counts[:-1]) / ref.count
    cur_cdf = np.cumsum(cur.counts[:-1]) / cur.count
    return ref_cdf, cur_cdf


def ks_statistic(ref: ColumnProfile, cur: ColumnSummary) -> float:
    ref_cdf, cur_cdf = cdfs(ref, cur)
    gaps = np.abs(ref_cdf - cur_cdf)
    return float(max(gaps.max(initial=0.0), cur.below_count / cur.count))


def wasserstein(ref: ColumnProfile, cur: ColumnSummary) -> float:
    """W1 = integral of |F_ref - F_cur|: exact outside the reference range (from the sums kept there), and
    step-wise between edges (exact for discrete values, within one bin's mass for continuous ones)."""
    edges = np.asarray(ref.edges)
    ref_cdf, cur_cdf = cdfs(ref, cur)
    inside = float(np.sum(np.abs(ref_cdf[:-1] - cur_cdf[:-1]) * np.diff(edges)))
    below = (cur.below_count * edges[0] - cur.below_sum) / cur.count
    above = (cur.above_sum - cur.above_count * edges[-1]) / cur.count
    return inside + below + above


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    r, c = np.maximum(ref_share, EPS), np.maximum(cur_share, EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def decile_shares(ref: ColumnProfile, cur: ColumnSummary, groups: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current shares in about `groups` bins of equal reference mass (from the fine bins)."""
    ref_cdf, _ = cdfs(ref, cur)
    assert cur.counts is not None  # checked by cdfs
    cuts = np.unique(np.searchsorted(ref_cdf, np.linspace(0, 1, groups + 1)[1:-1], side="left"))
    bounds = [*cuts.tolist(), len(ref.counts) - 1]
    ref_counts = np.add.reduceat(np.asarray(ref.counts, dtype=float), [0, *[b + 1 for b in bounds[:-1]]])
    cur_counts = np.add.reduceat(cur.counts.astype(float), [0, *[b + 1 for b in bounds[:-1]]])
    return ref_counts / ref.count, cur_counts / cur.count


def numeric_tests(ref: ColumnProfile, cur: ColumnSummary, method: str, thresholds: dict[str, float]) -> TestResult:
    """KS gives the p-value; the effect size is the normalised Wasserstein distance (default), KS D or PSI."""
    d = ks_statistic(ref, cur)
    p = ks_p_value(d, ref.count, cur.count)
    w = wasserstein(ref, cur) / ref.scale
    ref_share, cur_share = decile_shares(ref, cur)
    psi = _psi(ref_share, cur_share)
    effect = {"wasserstein": w, "ks": d, "psi": psi}[method]
    detail = {"ks_d": d, "wasserstein_normed": w, "psi": psi}
    return TestResult(method, effect, p, thresholds[method], detail)


def category_table(ref: ColumnProfile, cur: ColumnSummary) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Reference and current counts on the `TEST_CATEGORIES` most frequent reference categories that have at
    least `MIN_EXPECTED` values, plus one "(other)" bin for every other value, seen or not. Pooling the rare
    levels keeps the test honest: a level seen a few times in the reference is rarer than it looks there
    (winner's curse), and summed over hundreds of rare levels that bias alone would read as drift."""
    names = list(ref.categories)[:TEST_CATEGORIES]  # stored most frequent first
    ref_counts = np.asarray([ref.categories[n] for n in names], dtype=float)
    assert cur.category_counts is not None  # a categorical column's summary always counts the profile's categories
    cur_counts = cur.category_counts[: len(names)].astype(float)
    keep = ref_counts >= MIN_EXPECTED
    labels = [n for n, k in zip(names, keep, strict=True) if k]
    ref_table, cur_table = ref_counts[keep], cur_counts[keep]
    ref_rest, cur_rest = ref.count - ref_table.sum(), cur.count - cur_table.sum()
    if ref_rest > 0 or cur_rest > 0:
        labels.append("(other)")
        ref_table, cur_table = np.append(ref_table, ref_rest), np.append(cur_table, cur_rest)
    return labels, ref_table, cur_table


def chi_square(ref_table: np.ndarray, cur_table: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square test of homogeneity for two samples over the same bins (no continuity correction)."""
    live = (ref_table + cur_table) > 0
    if live.sum() < 2:
        return 0.0, 1.0
    table = np.vstack([ref_table[live], cur_table[live]])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return chi2, float(special.chi2_sf(float(live.sum() - 1), chi2))


def _rel_entr(p: np.ndarray, q: np.ndarray) -> float:
    """sum of p log(p / q), with 0 log 0 = 0."""
    live = p > 0
    return float(np.sum(p[live] * np.log(p[live] / q[live])))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0 = same distribution, 1 = disjoint)."""
    m = (p + q) / 2
    divergence = (_rel_entr(p, m) + _rel_entr(q, m)) / (2 * np.log(2))
    return float(np.sqrt(max(divergence, 0.0)))


def categorical_tests(ref: ColumnProfile, cur: ColumnSummary, method: str, thresholds: dict[str, float]):
    """Chi-square gives the p-value; the effect size is Jensen-Shannon distance (default) or PSI."""
    _, ref_table, cur_table = category_table(ref, cur)
    ref_share, cur_share = ref_table / ref_table.sum(), cur_table / cur_table.sum()
    chi2, p = chi_square(ref_table, cur_table)
    js = jensen_shannon(ref_share, cur_share)
    psi = _psi(ref_share, cur_share)
    effect = {"jensenshannon": js, "psi": psi, "chi2": js}[method]
    detail = {"chi2": float(chi2), "jensenshannon": js, "psi": psi, "bins": len(ref_table)}
    return TestResult(method if method != "chi2" else "jensenshannon", effect, float(p), thresholds[method], detail)


def missing_rate_test(ref: ColumnProfile, cur: ColumnSummary, threshold: float) -> TestResult:
    """Two-proportion z-test on the share of missing values; the effect is the absolute change in that share."""
    n, m = ref.rows, cur.rows
    r, c = ref.missing / n, cur.missing / m
    pooled = (ref.missing + cur.missing) / (n + m)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    p = 1.0 if se == 0 else float(2 * special.ndtr(-abs(c - r) / se))
    return TestResult("missing_rate", abs(c - r), p, threshold, {"reference": r, "current": c})


def unseen_test(ref: ColumnProfile, cur: ColumnSummary, threshold: float) -> TestResult:
    """One-sided test that values outside the reference categories became more common than the reference
    predicts (values beyond the stored top categories, plus the Good-Turing estimate of never-seen values)."""
    n, m = ref.count, cur.count
    # values beyond the stored categories plus the Good-Turing new-value mass; the two can overlap (singletons
    # are often among the unstored), so this errs high, i.e. towards no alarm
    expected = min(1.0, (ref.other + ref.singletons) / n)
    share = cur.unseen_count / m
    pooled = min(1.0, (expected * n + cur.unseen_count) / (n + m))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    p = (0.0 if share > expected else 1.0) if se == 0 else float(special.ndtr(-(share - expected) / se))
    top = [name for name, _ in cur.unseen.most_common(10)]
    return TestResult("unseen_categories", share - expected, p, threshold, {"share": share, "examples": top})


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values (step-up), so that rejecting those <= alpha controls the false discovery rate."""
    if not p_values:
        return []
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return result.tolist()
