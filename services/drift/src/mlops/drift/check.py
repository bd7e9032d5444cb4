"""Turn a profile and a current window's summaries into the drift report (the JSON of DESIGN.md).

Report: `dataset_drift`, `drift_share`, `columns` -> name -> {drift, method, statistic, p_value, threshold,
status, ...}; columns that cannot be tested have status "skipped" and a `reason`, and the rest is still checked.
The prediction column, if profiled, is tested like a feature but reported under `model.prediction_drift`.
`multivariate` holds the dataset-level test of the joint distribution; `model.estimated_performance` the
label-free performance estimate, when the profile and the window allow them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from mlops.core.contracts import CAPTURE_META_COLUMNS, CAPTURE_PROBABILITIES_COLUMN
from mlops.drift import multivariate, stats
from mlops.drift.config import DriftConfig
from mlops.drift.privacy import skip_reason
from mlops.drift.profile import ColumnProfile, ProfileError, ReferenceProfile
from mlops.drift.summary import ColumnSummary


def matching_columns(profile: ReferenceProfile, columns: list[str], source: str) -> None:
    """The data shares at least one column with the profile, else it is almost surely another model's."""
    if not set(profile.feature_columns) & set(columns):
        raise ProfileError(
            f"{source} shares no column with the profile (profile: {', '.join(profile.feature_columns[:8])}; "
            f"data: {', '.join(columns[:8])}): the profile is probably from another model"
        )


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
    data_classes: dict[str, str] | None = None,
) -> dict:
    """Run every test, correct the p-values together, decide per column and for the dataset. `data_classes`: the
    classes the capture applied (the model version's), over those the profile was built with (mlops.drift.privacy)."""
    names = [n for n in profile.columns if n != profile.target]
    per_column: dict[str, dict] = {}
    all_tests: list[stats.TestResult] = []
    profiled = profile.data_classes or {}
    classes = {**profiled, **(data_classes or {})}
    for name in names:
        ref, cur = profile.columns[name], summaries.get(name)
        reason = skip_reason(name, classes, profiled)
        if reason:
            per_column[name] = _skip(ref.kind, reason)
            continue
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
    probabilities = (profile.estimation or {}).get("column", CAPTURE_PROBABILITIES_COLUMN)
    extra = sorted(set(current_columns) - set(profile.columns) - {*CAPTURE_META_COLUMNS, probabilities})
    return {
        "dataset_drift": bool(tested) and share >= config.drift_share,
        "multivariate": multivariate_test(profile, summaries.get(multivariate.KEY), config),
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


def multivariate_test(profile: ReferenceProfile, errors: ColumnSummary | None, config: DriftConfig) -> dict[str, Any]:
    """The PCA reconstruction-error test (mlops.drift.multivariate): KS p-value and normalised Wasserstein effect
    on the error distribution, drift when p <= multivariate_alpha and the effect >= its threshold."""
    model = profile.multivariate or {}
    if model.get("status") != "fitted":
        reason = model.get("reason") or "the profile has no multivariate model (built before this version)"
        return {"status": "skipped", "reason": reason, "drift": False}
    if errors is None or errors.count == 0:
        return {"status": "skipped", "drift": False,
                "reason": f"the current data lacks numeric values for {', '.join(model['columns'][:8])}"}  # fmt: skip
    if errors.count < config.min_rows:
        return {"status": "skipped", "drift": False, "reason": f"only {errors.count} rows (need {config.min_rows})"}
    reference = ColumnProfile(**model["error"])
    threshold = config.thresholds["multivariate"]
    result = stats.numeric_tests(reference, errors, "wasserstein", {"wasserstein": threshold})
    drift = bool(result.p_value <= config.multivariate_alpha and result.statistic >= threshold)
    mean = errors.total / errors.count
    return {"status": "tested", "method": "pca_reconstruction", "drift": drift, "statistic": result.statistic,
            "p_value": result.p_value, "threshold": threshold, "rows": errors.count, "columns": model["columns"],
            "components": len(model["components"]), "reference_error_mean": reference.mean,
            "current_error_mean": mean, "detail": result.detail,
            "plot": _plot_data(reference, errors)}  # fmt: skip


def estimate_performance(
    profile: ReferenceProfile, probabilities: Any, config: DriftConfig, labels: Any = None
) -> dict[str, Any] | None:
    """CBPE on the window's prediction probabilities (the capture's JSON column), None without a calibration in
    the profile. `labels`, row-aligned with `probabilities` (None where not arrived), add the realised values."""
    if not profile.estimation:
        return None
    if probabilities is None:
        column = profile.estimation.get("column", CAPTURE_PROBABILITIES_COLUMN)
        return {"status": "skipped", "drift": False, "reason": f"the current data has no {column} column"}
    from mlops.drift.estimate import estimate_window, parse_probabilities
    from mlops.drift.performance import as_labels, present

    matrix, _ = parse_probabilities(np.asarray(probabilities, dtype=object), profile.estimation["classes"])
    valid = ~np.isnan(matrix).any(axis=1)
    truth = None
    if labels is not None:
        labels = np.asarray(labels, dtype=object)[valid]
        known = present(labels)
        if known.any():
            truth = (as_labels(labels[known]), known)
    return estimate_window(profile.estimation, matrix[valid], drop=config.estimated_drop, labels=truth)


def any_drift(report: dict[str, Any]) -> bool:
    """Dataset drift, multivariate drift or an estimated performance drop: what --fail-on-drift and the drift
    event act on (performance drift on labels counts in the event too)."""
    estimated = (report.get("model") or {}).get("estimated_performance") or {}
    return bool(report["dataset_drift"] or report["multivariate"]["drift"] or estimated.get("drift"))
