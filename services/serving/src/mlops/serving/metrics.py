"""Prometheus metrics, safe with several worker processes.

prometheus-client's multiprocess mode keeps each process's values in mmap files under PROMETHEUS_MULTIPROC_DIR and
sums them at scrape time. The directory must be set before prometheus_client is first imported, so `mlops serve`
sets it before starting the workers and this module imports prometheus_client only inside functions.

One process can serve several models: every series about a model's traffic, batches, loads or capture carries the
label `model` (the registered name; "" for routes that are about no model, such as /metrics or an unknown path).
Only the served names ever become label values, never a name a caller sent. `model_info` keeps its `model_name`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.core.processes import pid_alive

if TYPE_CHECKING:  # for the annotations only: at run time prometheus_client is imported inside functions (see above)
    from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass
class Metrics:
    requests: Counter
    latency: Histogram
    in_flight: Gauge
    batch_rows: Histogram
    batch_requests: Histogram
    predict_latency: Histogram
    model_info: Gauge
    reloads: Counter
    captured_rows: Counter
    capture_dropped: Counter
    rejected: Counter
    registry_up: Gauge


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    from prometheus_client import Counter, Gauge, Histogram

    return Metrics(
        requests=Counter(
            "mlops_serving_requests_total", "HTTP requests answered", ["route", "method", "status", "model"]
        ),
        latency=Histogram(
            "mlops_serving_request_duration_seconds",
            "Time from request to response",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
        ),
        in_flight=Gauge(
            "mlops_serving_in_flight_requests", "Requests being handled", ["model"], multiprocess_mode="livesum"
        ),
        batch_rows=Histogram("mlops_serving_batch_rows", "Rows per predict call", ["model"], buckets=BATCH_BUCKETS),
        batch_requests=Histogram(
            "mlops_serving_batch_requests", "Requests merged per predict call", ["model"], buckets=BATCH_BUCKETS
        ),
        predict_latency=Histogram(
            "mlops_serving_predict_duration_seconds",
            "Time in the model's predict call",
            ["model"],
            buckets=LATENCY_BUCKETS,
        ),
        model_info=Gauge(
            "mlops_serving_model_info",
            "1 for the model version each live worker serves",
            ["model_name", "model_version"],
            multiprocess_mode="livemax",
        ),
        reloads=Counter("mlops_serving_model_reloads_total", "Model loads by outcome", ["result", "model"]),
        captured_rows=Counter("mlops_serving_captured_rows_total", "Rows written to the inference capture", ["model"]),
        capture_dropped=Counter(
            "mlops_serving_capture_dropped_rows_total",
            "Sampled rows left out of the capture, by reason (request_cap, rate_cap, backlog, upload_failed)",
            ["reason", "model"],
        ),
        rejected=Counter(
            "mlops_serving_rejected_connections_total",
            "Requests refused by the transport before the app, by reason (header_too_large, too_many_headers, "
            "header_timeout, body_timeout, too_many_connections, malformed)",
            ["reason"],
        ),
        registry_up=Gauge(
            "mlops_serving_registry_up",
            "1 when the last registry poll answered, 0 when the registry could not be reached",
            ["model"],
            multiprocess_mode="livemin",
        ),
    )


def render() -> tuple[bytes, str]:
    """The exposition text for every worker combined."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Drop a finished worker's live gauges (in-flight, model info) so they no longer count."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def sweep_dead_workers() -> None:
    """At a worker's start, drop the live gauges of workers that died without `worker_exited` (SIGKILL, OOM):
    otherwise a dead worker's in-flight count and model version would be reported for ever."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    from prometheus_client import multiprocess

    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            multiprocess.mark_process_dead(int(pid))
