"""Retraining metrics (Prometheus, one registry per process) and the failure alert.

The alert goes three ways so it is seen whatever watches: an ERROR log line with `alert: true`, a CloudWatch
metric `RetrainFailures` (an alarm on it pages; see terraform/modules/cloudwatch), and a JSON object under
`s3://<data_bucket>/events/alerts/retrain/<model>/`. Prometheus users alert on `mlops_retrain_runs_total
{outcome="failed"}` (see monitoring/prometheus/rules/alerts.yml).

`mlops retrain serve` also publishes a heartbeat, `RetrainServiceHeartbeat`, per model after every poll: a failure
is published only when one happens, so without the heartbeat a dead service would look like a healthy quiet one
(the heartbeat alarm in terraform/modules/cloudwatch treats its absence as breaching).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mlops.core.clients import aws_client
from mlops.core.contracts import retrain_alert_key
from mlops.core.settings import Settings

log = logging.getLogger(__name__)


class RetrainMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "mlops_retrain_runs_total",
            "Retrains by final outcome",
            ["model", "trigger", "outcome"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "mlops_retrain_attempts_total", "Attempts, retries included", ["model", "result"], registry=self.registry
        )
        self.duration = Histogram(
            "mlops_retrain_duration_seconds",
            "Wall time of a retrain",
            ["model"],
            registry=self.registry,
            buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
        )
        self.in_progress = Gauge(
            "mlops_retrain_in_progress", "1 while a retrain runs", ["model"], registry=self.registry
        )
        self.last_success = Gauge(
            "mlops_retrain_last_success_timestamp_seconds",
            "When a retrain last finished",
            ["model"],
            registry=self.registry,
        )
        self.events = Counter(
            "mlops_retrain_drift_events_total", "Drift events consumed", ["model", "action"], registry=self.registry
        )


@functools.cache
def metrics() -> RetrainMetrics:
    return RetrainMetrics()


def alert_failure(settings: Settings, model: str, trigger: str, error: str) -> None:
    """Raise the alarm; a failure to deliver one channel is logged and never hides the others."""
    now = dt.datetime.now(dt.UTC)
    body = {"model": model, "trigger": trigger, "error": error, "at": now.isoformat(timespec="seconds")}
    log.error("retrain failed", extra={"alert": True, **body})
    try:
        aws_client("cloudwatch", settings).put_metric_data(
            Namespace=settings.metrics_namespace,
            MetricData=[
                {
                    "MetricName": "RetrainFailures",
                    "Dimensions": [{"Name": "Model", "Value": model}],
                    "Value": 1.0,
                    "Unit": "Count",
                    "Timestamp": now,
                }
            ],
        )
        key = retrain_alert_key(model, now, uuid.uuid4().hex[:8])
        aws_client("s3", settings).put_object(Bucket=settings.data_bucket, Key=key, Body=json.dumps(body).encode())
    except Exception as exc:  # alert delivery must not mask the failure itself
        log.error("could not deliver the retrain alert", extra={"model": model, "error": str(exc)})


def publish_heartbeat(settings: Settings, models: list[str]) -> None:
    """One `RetrainServiceHeartbeat` sample per model the service looks after; a failed publish is logged (the
    alarm on the missing heartbeat is what tells), never raised into the service loop."""
    now = dt.datetime.now(dt.UTC)
    data = [
        {"MetricName": "RetrainServiceHeartbeat", "Dimensions": [{"Name": "Model", "Value": model}], "Value": 1.0,
         "Unit": "Count", "Timestamp": now}
        for model in models
    ]  # fmt: skip
    try:
        for start in range(0, len(data), 1000):  # PutMetricData takes at most 1000 samples a call
            aws_client("cloudwatch", settings).put_metric_data(
                Namespace=settings.metrics_namespace, MetricData=data[start : start + 1000]
            )
    except Exception as exc:
        log.warning("could not publish the retraining heartbeat", extra={"error": str(exc)})
