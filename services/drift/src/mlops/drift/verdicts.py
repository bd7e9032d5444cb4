"""Each column's verdict in words, and the columns in order of severity: what the console table and the HTML report
show first. A column drifts when a test's corrected p-value is at most alpha *and* its effect size reaches the
test's threshold; the reason says which of the two held."""

from __future__ import annotations

from typing import Any


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def severity(column: dict[str, Any]) -> tuple[int, float]:
    """Sort key, most severe first: drifted columns by how far the effect passes its threshold, then the tested
    ones the same way, then the skipped ones."""
    if column["status"] != "tested":
        return (2, 0.0)
    threshold = column.get("threshold") or 0.0
    ratio = (column["statistic"] or 0.0) / threshold if threshold else 0.0
    return (0 if column["drift"] else 1, -ratio)


def ranked(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(report["columns"].items(), key=lambda item: (severity(item[1]), item[0]))


def reason(column: dict[str, Any], alpha: float) -> str:
    """Why the verdict: the deciding test, its corrected p-value against alpha and its effect against the threshold
    (for a skipped column, why it was not tested)."""
    if column["status"] != "tested":
        return f"not tested: {column.get('reason') or 'no data'}"
    p_value, statistic, threshold = column["p_value"], column["statistic"], column["threshold"]
    significant = p_value is not None and p_value <= alpha
    large = statistic is not None and threshold is not None and statistic >= threshold
    p_text = f"p (BH) {_num(p_value, 2)} {'<=' if significant else '>'} alpha {_num(alpha, 2)}"
    effect_text = f"{column['method']} {_num(statistic)} {'>=' if large else '<'} {_num(threshold)}"
    if column["drift"]:
        return f"drift: {p_text} and {effect_text}"
    if significant and not large:
        return f"no drift: {p_text}, but the effect is small ({effect_text})"
    return f"no drift: {p_text} ({effect_text})"


def table(report: dict[str, Any], limit: int = 20) -> list[str]:
    """Console lines: the most severe `limit` columns, one per line."""
    alpha = report["summary"]["alpha"]
    columns = ranked(report)
    width = max([6, *(len(name) for name, _ in columns[:limit])])
    lines = [f"  {'column':{width}}  {'kind':11}  verdict"]
    for name, column in columns[:limit]:
        lines.append(f"  {name:{width}}  {column['kind'] or '-':11}  {reason(column, alpha)}")
    if len(columns) > limit:
        lines.append(f"  ... {len(columns) - limit} more columns (--json or --html for all)")
    return lines
