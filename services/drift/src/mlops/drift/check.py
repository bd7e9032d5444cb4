"""Turn a profile and a current window's summaries into the drift report (the JSON of DESIGN.md).

Report: `dataset_drift`, `drift_share`, `columns` -> name -> {drift, method, statistic, p_value, threshold,
status, ...}; columns that cannot be tested have status "skipped" and a `reason`, and the rest is still checked.
The prediction column, if profiled, is tested like a feature but reported under `model.prediction_drift`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from mlops.core.contracts import CAPTURE_META_COLUMNS
from mlops.drift import stats
from mlops.drift.config import DriftConfig
from mlops.drift.profile import ColumnProfile, ReferenceProfile
from mlops.drift.summary import ColumnSummary


def _skip(kind: str, reason: str) -> dict:
    return {"drift": False, "method": None, "statistic": None, "p_value": None, "threshold": None,
            "status": "skipped", "reason": reason, "kind": kind}  # fmt: skip


def _tests_for(ref: ColumnProfile, cur: ColumnSummary | None, config: DriftConfig) -> tuple[list, str | None]:
    """The tests a column gets, or the reason it gets none."""
    if ref.kind == "unsupported":
        return [], f"unsupported type {ref.dtype}"
    if cur is None:
        return [], "missing from the current data"
    if cur.kind == "mixed":
        return [], "the current data changes type between chunks"
    if cur.kind != ref.kind:
        return [], f"type changed: reference {ref.dtype} ({ref.kind}), current {cur.dtype} ({cur.kind})"
    if ref.reason:
        return [], ref.reason
    if cur.rows == 0:
        return [], "no current rows"
    thresholds = config.thresholds
    tests = [stats.missing_rate_test(ref, cur, thresholds["missing_rate"])]
    if cur.count < config.min_rows or ref.count < config.min_rows:
        return tests, None  # too few values for a distribution test; the missing-rate test still runs
    if ref.kind == "numeric":
        tests.insert(0, stats.numeric_tests(ref, cur, config.numeric_method, thresholds))
    else:
        tests.insert(0, stats.categorical_tests(ref, cur, config.categorical_method, thresholds))
        tests.append(stats.unseen_test(ref, cur, thresholds["unseen_categories"]))
    return tests, None


def _plot_data(ref: ColumnProfile, cur: ColumnSummary | None) -> dict | None:
    """Aggregated shares for the HTML plot: about 20 bins of equal reference mass, or the top categories."""
    if cur is None or cur.kind != ref.kind or ref.reason or cur.count == 0:
        return None
    if ref.kind == "numeric":
        ref_share, cur_share = stats.decile_shares(ref, cur, groups=20)
        ref_cdf, _ = stats.cdfs(ref, cur)
        cuts = np.unique(np.searchsorted(ref_cdf, np.linspace(0, 1, 21)[1:-1], side="left"))
        labels = [f"≤{ref.edges[c]:.4g}" for c in cuts] + [f">{ref.edges[cuts[-1]]:.4g}" if len(cuts) else "all"]
        return {"labels": labels, "reference": ref_share.tolist(), "current": cur_share.tolist()}
    labels, ref_table, cur_table = stats.category_table(ref, cur)
    order = np.argsort(-(ref_table + cur_table))[:20]
    return {"labels": [labels[i] for i in order],
            "reference": (ref_table[order] / ref_table.sum()).tolist(),
            "current": (cur_table[order] / max(cur_table.sum(), 1)).tolist()}  # fmt: skip


def _summary_stats(ref: ColumnProfile, cur: ColumnSummary | None) -> dict:
    out = {"reference": {"rows": ref.rows, "missing_share": ref.missing / ref.rows if ref.rows else None}}
    if ref.kind == "numeric":
        out["reference"].update(mean=ref.mean, std=ref.std, min=ref.min, max=ref.max)
    if cur is not None and cur.rows:
        out["current"] = {"rows": cur.rows, "missing_share": cur.missing / cur.rows}
        if cur.kind == "numeric" and cur.count:
            mean = cur.total / cur.count
            var = max(cur.total_sq / cur.count - mean * mean, 0.0)
            out["current"].update(mean=mean, std=var**0.5)
    return out


def run_check(
    profile: ReferenceProfile,
    summaries: dict[str, ColumnSummary],
    current_columns: list[str],
    config: DriftConfig,
    *,
    current_rows: int,
) -> dict:
    """Run every test, correct the p-values together, decide per column and for the dataset."""
    names = [n for n in profile.columns if n != profile.target]
    per_column: dict[str, dict] = {}
    all_tests: list[stats.TestResult] = []
    for name in names:
        ref, cur = profile.columns[name], summaries.get(name)
        tests, reason = _tests_for(ref, cur, config)
        if reason:
            per_column[name] = _skip(ref.kind, reason)
            continue
        per_column[name] = {"tests": tests, "kind": ref.kind, **_summary_stats(ref, cur), "plot": _plot_data(ref, cur)}
        all_tests.extend(tests)

    for test, adjusted in zip(all_tests, stats.benjamini_hochberg([t.p_value for t in all_tests]), strict=True):
        test.p_adjusted = adjusted
        test.drift = bool(adjusted <= config.alpha and test.statistic >= test.threshold)

    for entry in per_column.values():
        tests = entry.pop("tests", None)
        if tests is None:
            continue
        primary = next((t for t in tests if t.drift), tests[0])
        details = dict(entry)
        entry.clear()  # the contract's keys first, details after
        entry.update(
            drift=any(t.drift for t in tests),
            method=primary.test,
            statistic=primary.statistic,
            p_value=primary.p_adjusted,
            threshold=primary.threshold,
            status="tested",
            tests={t.test: {"statistic": t.statistic, "p_value": t.p_value, "p_adjusted": t.p_adjusted,
                            "threshold": t.threshold, "drift": t.drift, **(t.detail or {})} for t in tests},
            **details,
        )  # fmt: skip

    prediction = per_column.pop(profile.prediction, None) if profile.prediction else None
    tested = {n: c for n, c in per_column.items() if c["status"] == "tested"}
    weights = {n: float(config.importance.get(n, 1.0)) for n in tested}
    total = sum(weights.values())
    share = sum(weights[n] for n, c in tested.items() if c["drift"]) / total if total else 0.0
    extra = sorted(set(current_columns) - set(profile.columns) - set(CAPTURE_META_COLUMNS))
    return {
        "dataset_drift": bool(tested) and share >= config.drift_share,
        "drift_share": share,
        "drifted_columns": sorted(n for n, c in tested.items() if c["drift"]),
        "columns": per_column,
        "model": {"prediction_drift": prediction},
        "summary": {
            "reference_rows": profile.rows,
            "current_rows": current_rows,
            "tested_columns": len(tested),
            "skipped_columns": sorted(n for n, c in per_column.items() if c["status"] == "skipped"),
            "extra_columns": extra,
            "alpha": config.alpha,
            "drift_share_threshold": config.drift_share,
            "model_name": profile.model_name,
            "profile_created_at": profile.created_at,
            "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }
