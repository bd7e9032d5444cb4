"""Where a drift report goes: JSON and HTML files, Prometheus, CloudWatch and the drift event in S3.

Prometheus: a batch job has no server to scrape, so the check writes the node-exporter *textfile* format
(`<dir>/<model>.prom`, atomically) and `mlops drift exporter --dir DIR` serves every .prom file in DIR on
/metrics, for Prometheus to scrape (a sidecar beside the CronJob, or node-exporter's textfile collector).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from mlops.core.contracts import DriftEvent, drift_event_key, drift_report_prefix, event_stamp
from mlops.drift.html import render_html
from mlops.drift.profile import write_atomic

CLOUDWATCH_BATCH = 500  # PutMetricData accepts up to 1000 metrics per call


def clean(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to null (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_json(report: dict) -> str:
    return json.dumps(clean(report), indent=1, allow_nan=False)


def write_report(report: dict, json_path: Path | None, html_path: Path | None) -> None:
    """Render both first, then write each atomically: a failure leaves no half-written file behind."""
    rendered = []
    if json_path:
        rendered.append((json_path, report_json(report)))
    if html_path:
        rendered.append((html_path, render_html(clean(report))))
    for path, text in rendered:
        write_atomic(path, text)


# ---- Prometheus ----------------------------------------------------------------------------------------------
def prometheus_registry(report: dict, model: str):
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    share = Gauge("mlops_drift_share_ratio", "Share of tested columns that drifted", ["model"], registry=registry)
    dataset = Gauge("mlops_drift_dataset_drift", "1 when the dataset drifted", ["model"], registry=registry)
    rows = Gauge("mlops_drift_current_rows", "Rows in the checked window", ["model"], registry=registry)
    stamp = Gauge("mlops_drift_last_check_timestamp_seconds", "When the check ran", ["model"], registry=registry)
    score = Gauge("mlops_drift_column_score", "Effect size per column", ["model", "column", "method"],
                  registry=registry)  # fmt: skip
    flag = Gauge("mlops_drift_column_drift", "1 when the column drifted", ["model", "column"], registry=registry)
    multivariate = Gauge("mlops_drift_multivariate_score", "PCA reconstruction-error drift (effect size)", ["model"],
                         registry=registry)  # fmt: skip
    multivariate_flag = Gauge("mlops_drift_multivariate_drift", "1 when the joint distribution drifted", ["model"],
                              registry=registry)  # fmt: skip
    estimated = Gauge("mlops_drift_estimated_performance", "Performance estimated without labels (CBPE)",
                      ["model", "metric", "bound"], registry=registry)  # fmt: skip
    estimated_flag = Gauge("mlops_drift_estimated_performance_drift", "1 when the estimated performance dropped",
                           ["model"], registry=registry)  # fmt: skip
    realized = Gauge("mlops_drift_realized_performance", "Performance on the labels that arrived",
                     ["model", "metric"], registry=registry)  # fmt: skip
    share.labels(model).set(report["drift_share"])
    mv = report.get("multivariate") or {}
    if mv.get("status") == "tested":
        multivariate.labels(model).set(mv["statistic"])
        multivariate_flag.labels(model).set(int(mv["drift"]))
    for name, value, bound in _estimates(report):
        estimated.labels(model, name, bound).set(value)
    guess = (report.get("model") or {}).get("estimated_performance") or {}
    if guess.get("status") == "tested":
        estimated_flag.labels(model).set(int(guess["drift"]))
    for name, value in _realized(report):
        realized.labels(model, name).set(value)
    dataset.labels(model).set(int(report["dataset_drift"]))
    rows.labels(model).set(report["summary"]["current_rows"])
    stamp.labels(model).set(dt.datetime.now(dt.UTC).timestamp())
    for name, col in _scored_columns(report):
        score.labels(model, name, col["method"]).set(col["statistic"])
        flag.labels(model, name).set(int(col["drift"]))
    return registry


def _estimates(report: dict):
    """(metric, value, bound) of the label-free estimate: bound "estimate", "lower" or "upper"."""
    guess = (report.get("model") or {}).get("estimated_performance") or {}
    if guess.get("status") != "tested":
        return
    for name, entry in guess["metrics"].items():
        for bound, key in (("estimate", "estimated"), ("lower", "lower"), ("upper", "upper")):
            value = entry.get(key)
            if value is not None and math.isfinite(value):
                yield name, float(value), bound


def _realized(report: dict):
    performance = (report.get("model") or {}).get("performance") or {}
    for name, entry in (performance.get("metrics") or {}).items():
        if entry.get("current") is not None and math.isfinite(entry["current"]):
            yield name, float(entry["current"])


def _scored_columns(report: dict):
    columns = dict(report["columns"])
    prediction = (report.get("model") or {}).get("prediction_drift")
    if prediction:
        columns["prediction"] = prediction
    for name, col in columns.items():
        if col["status"] == "tested" and col["statistic"] is not None and math.isfinite(col["statistic"]):
            yield name, col


def write_textfile(report: dict, model: str, directory: Path) -> Path:
    from prometheus_client import generate_latest

    text = generate_latest(prometheus_registry(report, model)).decode()
    return write_atomic(Path(directory) / f"{_safe(model)}.prom", text)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def exporter_server(directory: Path, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering /metrics with the concatenation of every *.prom file in `directory`."""
    directory = Path(directory)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served")
                return
            body = "".join(p.read_text() for p in sorted(directory.glob("*.prom"))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # requests are not worth a log line each
            pass

    return ThreadingHTTPServer((host, port), Handler)


# ---- CloudWatch ----------------------------------------------------------------------------------------------
def cloudwatch_data(report: dict, model: str) -> list[dict]:
    now = dt.datetime.now(dt.UTC)
    model_dim = [{"Name": "Model", "Value": model}]
    data = [
        {"MetricName": "DriftShare", "Dimensions": model_dim, "Value": float(report["drift_share"]),
         "Unit": "None", "Timestamp": now},
        {"MetricName": "DatasetDrift", "Dimensions": model_dim, "Value": float(report["dataset_drift"]),
         "Unit": "Count", "Timestamp": now},
    ]  # fmt: skip
    mv = report.get("multivariate") or {}
    if mv.get("status") == "tested":
        data.append({"MetricName": "MultivariateDriftScore", "Dimensions": model_dim, "Value": float(mv["statistic"]),
                     "Unit": "None", "Timestamp": now})  # fmt: skip
        data.append({"MetricName": "MultivariateDrift", "Dimensions": model_dim, "Value": float(mv["drift"]),
                     "Unit": "Count", "Timestamp": now})  # fmt: skip
    guess = (report.get("model") or {}).get("estimated_performance") or {}
    if guess.get("status") == "tested":
        data.append({"MetricName": "EstimatedPerformanceDrift", "Dimensions": model_dim,
                     "Value": float(guess["drift"]), "Unit": "Count", "Timestamp": now})  # fmt: skip
    for name, value, bound in _estimates(report):
        if bound == "estimate":
            dims = [*model_dim, {"Name": "Metric", "Value": name}]
            data.append({"MetricName": "EstimatedPerformance", "Dimensions": dims, "Value": value, "Unit": "None",
                         "Timestamp": now})  # fmt: skip
    for name, col in _scored_columns(report):
        dims = [*model_dim, {"Name": "Column", "Value": name}]
        method = {"Name": "Method", "Value": col["method"]}
        data.append({"MetricName": "ColumnDriftScore", "Dimensions": [*dims, method],
                     "Value": float(col["statistic"]), "Unit": "None", "Timestamp": now})  # fmt: skip
        data.append({"MetricName": "ColumnDrift", "Dimensions": dims, "Value": float(col["drift"]),
                     "Unit": "Count", "Timestamp": now})  # fmt: skip
    return data


def put_cloudwatch(cloudwatch, namespace: str, report: dict, model: str) -> int:
    data = cloudwatch_data(report, model)
    for start in range(0, len(data), CLOUDWATCH_BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + CLOUDWATCH_BATCH])
    return len(data)


# ---- S3: the report and the drift event ----------------------------------------------------------------------
def upload_report(s3, bucket: str, model: str, report: dict, html: str | None, stamp: str, event_id: str) -> str:
    prefix = drift_report_prefix(model, stamp, event_id)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/report.json", Body=report_json(report).encode(),
                  ContentType="application/json")  # fmt: skip
    if html is not None:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/report.html", Body=html.encode(), ContentType="text/html")
    return f"s3://{bucket}/{prefix}/report.json"


def drift_event(
    report: dict, model: str, model_version: str | None, report_uri: str, event_id: str, performance_drift: bool
) -> DriftEvent:
    multivariate = report.get("multivariate") or {"drift": False}
    estimated = (report.get("model") or {}).get("estimated_performance") or {}
    return DriftEvent(
        event_id=event_id,
        model_name=model,
        model_version=model_version,
        detected_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        dataset_drift=bool(report["dataset_drift"]),
        drift_share=float(report["drift_share"]),
        drifted_columns=list(report["drifted_columns"]),
        performance_drift=performance_drift,
        report_uri=report_uri,
        multivariate_drift=bool(multivariate["drift"]),
        multivariate_score=multivariate.get("statistic"),
        estimated_performance_drift=bool(estimated.get("drift")),
        estimated_performance={
            k: float(v["estimated"])
            for k, v in (estimated.get("metrics") or {}).items()
            if v.get("estimated") is not None and math.isfinite(v["estimated"])
        },  # fmt: skip
    )


def put_event(s3, bucket: str, event: DriftEvent, stamp: str) -> str:
    """One object per event; S3 writes are atomic, so a consumer never sees half an event."""
    key = drift_event_key(event.model_name, stamp, event.event_id)
    s3.put_object(Bucket=bucket, Key=key, Body=event.model_dump_json().encode(), ContentType="application/json")
    return f"s3://{bucket}/{key}"


def new_event_id() -> tuple[str, str]:
    return event_stamp(dt.datetime.now(dt.UTC)), uuid.uuid4().hex[:12]
