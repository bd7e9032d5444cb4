"""A self-contained HTML drift report: summary, a table of every column, one inline-SVG bar chart per column.

Only aggregated shares (about 20 bins or the top 20 categories per column) are embedded, never raw rows; at most
`MAX_PLOTS` columns get a chart (drifted first), so the file stays small whatever the data size (~3 KB/chart).
"""

from __future__ import annotations

from html import escape

from mlops.drift.verdicts import ranked, reason, severity

MAX_PLOTS = 200
WIDTH, HEIGHT, PAD = 640, 180, 28
COLOURS = {"reference": "#4c78a8", "current": "#f58518"}


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def bar_chart(plot: dict, title: str) -> str:
    """Grouped bars of reference and current shares per bin/category, as one inline SVG."""
    labels = plot["labels"]
    bins = max(len(labels), 1)
    top = max([*plot["reference"], *plot["current"], 1e-9])
    slot = (WIDTH - 2 * PAD) / bins
    bar = min(max(slot / 2 - 1, 0.5), 24.0)
    parts = [
        f'<svg class="plot" role="img" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 40}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT + 40}"><title>{escape(title)}</title>',
        f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT}" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):  # the y axis: share of rows, at 0, half and the top of the tallest bar
        y = HEIGHT - (HEIGHT - PAD) * fraction
        parts.append(
            f'<text class="tick" x="{PAD - 3}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{top * fraction:.0%}'
            f'</text><line x1="{PAD - 2}" y1="{y:.1f}" x2="{PAD}" y2="{y:.1f}" stroke="#999"/>'
        )
    for i, label in enumerate(labels):
        for j, side in enumerate(("reference", "current")):
            share = plot[side][i]
            h = (HEIGHT - PAD) * share / top
            x = PAD + i * slot + j * (bar + 1)
            parts.append(
                f'<rect class="{side}" x="{x:.1f}" y="{HEIGHT - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[side]}"><title>{escape(label)} {side}: {share:.3%}</title></rect>'
            )
        if bins <= 24:
            x = PAD + i * slot + slot / 2
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT + 12}" font-size="10" text-anchor="end" '
                f'transform="rotate(-35 {x:.1f} {HEIGHT + 12})">{escape(label[:14])}</text>'
            )
    parts.append(
        f'<text x="{PAD}" y="14" font-size="11" fill="{COLOURS["reference"]}">■ reference</text>'
        f'<text x="{PAD + 90}" y="14" font-size="11" fill="{COLOURS["current"]}">■ current</text>'
        f'<text x="{WIDTH - PAD}" y="14" font-size="10" text-anchor="end" fill="#555">share of rows</text></svg>'
    )
    return "".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.drift td{background:#fde2e1}tr.skipped td{color:#888}
.verdict{font-size:1.3em;padding:.5em 1em;display:inline-block;border-radius:4px}
.verdict.drift{background:#d62728;color:#fff}.verdict.ok{background:#2ca02c;color:#fff}
section.column{margin:1.5em 0;border-top:1px solid #eee}
"""


def render_html(report: dict) -> str:
    summary = report["summary"]
    columns = report["columns"]
    drift = report["dataset_drift"]
    rows = []
    for name, col in ranked(report):  # most severe first: drifted columns by how far past their threshold
        css = "drift" if col["drift"] else col["status"]
        rows.append(
            f'<tr class="{css}"><td><a href="#col-{escape(name)}">{escape(name)}</a></td><td>{_fmt(col["kind"])}</td>'
            f"<td>{_fmt(col['status'])}</td><td>{_fmt(col['drift'])}</td><td>{_fmt(col['method'])}</td>"
            f"<td>{_fmt(col['statistic'])}</td><td>{_fmt(col['threshold'])}</td><td>{_fmt(col['p_value'])}</td>"
            f"<td>{escape(reason(col, summary['alpha']))}</td></tr>"
        )
    plotted = sorted((n for n, c in columns.items() if c.get("plot")), key=lambda n: (severity(columns[n]), n))
    sections = []
    for name in plotted[:MAX_PLOTS]:
        col = columns[name]
        tests = ", ".join(
            f"{t}: {_fmt(v['statistic'])} (p={_fmt(v['p_adjusted'], 2)})" for t, v in col["tests"].items()
        )
        sections.append(
            f'<section class="column" id="col-{escape(name)}"><h3>{escape(name)} '
            f"{'— drift' if col['drift'] else ''}</h3><p>{escape(tests)}</p>{bar_chart(col['plot'], name)}</section>"
        )
    if len(plotted) > MAX_PLOTS:
        sections.append(f"<p>{len(plotted) - MAX_PLOTS} more columns are in the table but not plotted.</p>")
    model = report.get("model") or {}
    perf = model.get("performance")
    perf_html = ""
    if perf and perf.get("status") == "tested":
        items = "".join(
            f"<tr><td>{escape(k)}</td><td>{_fmt(v['reference'])}</td><td>{_fmt(v['current'])}</td>"
            f"<td>{_fmt(v['drift'])}</td></tr>"
            for k, v in perf["metrics"].items()
        )
        perf_html = f'<h2>Model performance</h2><table id="performance"><tr><th>metric</th><th>reference</th>' \
                    f"<th>current</th><th>drift</th></tr>{items}</table>"  # fmt: skip
    prediction = model.get("prediction_drift")
    pred_html = (
        f'<p id="prediction-drift">Prediction drift: {_fmt(prediction["drift"])} ({_fmt(prediction["method"])} '
        f"{_fmt(prediction['statistic'])})</p>"
        if prediction
        else ""
    )
    extra_html = _multivariate_html(report.get("multivariate")) + _estimate_html(model.get("estimated_performance"))
    title = f"Drift report{' — ' + summary['model_name'] if summary.get('model_name') else ''}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f'<p id="verdict" class="verdict {"drift" if drift else "ok"}">'
        f"{'Dataset drift detected' if drift else 'No dataset drift'}</p>"
        f'<p id="drift-share">Drift share: {report["drift_share"]:.1%} of {summary["tested_columns"]} tested columns '
        f"(threshold {summary['drift_share_threshold']:.0%}); reference rows {summary['reference_rows']}, "
        f"current rows {summary['current_rows']}; checked {escape(summary['checked_at'])}.</p>"
        f"{pred_html}{perf_html}{extra_html}"
        f'<h2>Columns</h2><table id="columns"><tr><th>column</th><th>kind</th><th>status</th><th>drift</th>'
        f"<th>method</th><th>statistic</th><th>threshold</th><th>p (BH)</th><th>reason</th></tr>{''.join(rows)}"
        f"</table><h2>Distributions</h2>{''.join(sections)}</body></html>"
    )


def _multivariate_html(result: dict | None) -> str:
    """The joint-distribution test: verdict, effect and p-value, and reference against current error shares."""
    if not result:
        return ""
    head = '<h2>Multivariate drift</h2><section id="multivariate">'
    if result["status"] != "tested":
        return f"{head}<p>Not tested: {escape(result.get('reason') or '')}</p></section>"
    chart = bar_chart(result["plot"], "reconstruction error") if result.get("plot") else ""
    return (
        f"{head}<p>{'Drift' if result['drift'] else 'No drift'} in how the {len(result['columns'])} numeric features "
        f"move together: PCA ({result['components']} components) reconstruction error, mean "
        f"{_fmt(result['reference_error_mean'])} in the reference, {_fmt(result['current_error_mean'])} now; effect "
        f"{_fmt(result['statistic'])} (threshold {_fmt(result['threshold'])}), p = {_fmt(result['p_value'], 2)}, "
        f"on {result['rows']} rows.</p>{chart}</section>"
    )


def _estimate_html(result: dict | None) -> str:
    """Estimated (CBPE) against reference and, where labels arrived, realised performance, side by side."""
    if not result:
        return ""
    head = '<h2>Estimated performance (before labels)</h2><section id="estimated-performance">'
    if result["status"] != "tested":
        return f"{head}<p>Not estimated: {escape(result.get('reason') or '')}</p></section>"
    rows = "".join(
        f'<tr class="{"drift" if m.get("drift") else ""}"><td>{escape(name)}</td><td>{_fmt(m["reference"])}</td>'
        f"<td>{_fmt(m['estimated'])}</td><td>{_fmt(m['lower'])} – {_fmt(m['upper'])}</td>"
        f"<td>{_fmt(m.get('realized'))}</td><td>{_fmt(m.get('drift', False))}</td></tr>"
        for name, m in result["metrics"].items()
    )
    labelled = (
        f"; realised on the {result['realized_rows']} rows whose labels arrived" if result["realized_rows"] else ""
    )
    return (
        f"{head}<p>CBPE on {result['rows']} rows{labelled}. Drift when the estimate is more than the threshold "
        f"below the reference and the whole 95% band is below it.</p><table><tr><th>metric</th><th>reference</th>"
        f"<th>estimated</th><th>95% band</th><th>realised</th><th>drift</th></tr>{rows}</table></section>"
    )
