"""Send metric figures to CloudWatch without ever blocking or failing the caller.

Recording only updates an in-memory aggregate under a lock: a statistic set (count, sum, min, max) per series, or,
for distributions such as latency, a count per value rounded to two significant digits, sent as Values/Counts so
CloudWatch can compute percentiles (it cannot from statistic sets). A daemon thread swaps the aggregate out every
`flush_seconds` and sends it with PutMetricData, retrying with backoff; a window that still cannot be sent is
dropped and counted. `close()` sends what is left. Several processes (serving workers) may publish the same series:
CloudWatch adds their data points up.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from mlops.core.clients import aws_client

if TYPE_CHECKING:
    from mlops.core.settings import Settings

log = logging.getLogger("mlops.cloudwatch_metrics")

_DATUMS_PER_CALL = 100  # PutMetricData takes up to 1000 datums and 1 MB; 100 keeps a call far below both
_VALUES_PER_DATUM = 150  # the Values/Counts limit per datum

Dimensions = tuple[tuple[str, str], ...]
Series = tuple[str, Dimensions, str]  # (name, dimensions, unit)


def _round2(value: float) -> float:
    """Two significant digits: at most 90 distinct values per decade, within 5% of the true value."""
    if value <= 0 or not math.isfinite(value):
        return 0.0
    return round(value, 1 - math.floor(math.log10(value)))


class MetricsPublisher:
    def __init__(self, namespace: str, region: str | None = None, flush_seconds: float = 60.0, max_series: int = 1000,
                 retries: int = 3, backoff_seconds: float = 1.0, client: Any = None):  # fmt: skip
        self.namespace, self.region = namespace, region
        self.flush_seconds, self.max_series = flush_seconds, max_series
        self.retries, self.backoff_seconds = retries, backoff_seconds
        self.sent = 0  # samples delivered
        self.dropped = 0  # samples given up on: too many series, or CloudWatch kept refusing
        self._client = client
        self._lock = threading.Lock()
        self._stats: dict[Series, list[float]] = {}  # (name, dims, unit) -> [count, sum, min, max]
        self._values: dict[Series, dict[float, int]] = {}  # (name, dims, unit) -> rounded value -> count
        self._requests: dict[str, list[Any]] = {}  # model -> [requests, 4xx, 5xx, {rounded latency: count}]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- recording (any thread, never blocks on I/O) ---------------------------------------------------------
    def add(self, name: str, value: float, dimensions: Dimensions = (), unit: str = "Count") -> None:
        """One sample of a statistic-set series (Sum, SampleCount, Average, Minimum, Maximum on CloudWatch)."""
        key = (name, dimensions, unit)
        with self._lock:
            stat = self._stats.get(key)
            if stat is None:
                if len(self._stats) + len(self._values) >= self.max_series:
                    self.dropped += 1
                    return
                self._stats[key] = [1, value, value, value]
                return
            stat[0] += 1
            stat[1] += value
            stat[2] = min(stat[2], value)
            stat[3] = max(stat[3], value)

    def observe(self, name: str, value: float, dimensions: Dimensions = (), unit: str = "Seconds") -> None:
        """One sample of a distribution series (percentiles work on CloudWatch)."""
        key = (name, dimensions, unit)
        with self._lock:
            counts = self._values.get(key)
            if counts is None:
                if len(self._stats) + len(self._values) >= self.max_series:
                    self.dropped += 1
                    return
                counts = self._values[key] = defaultdict(int)
            counts[_round2(value)] += 1

    def record_request(self, model: str, status: int, seconds: float) -> None:
        """A served request: ServingRequests, Serving4xxErrors / Serving5xxErrors (0 or 1 per request, so the
        Average is the ratio) and ServingLatency, all with dimension Model. One lock and a few additions: this runs
        on every request."""
        rounded = _round2(seconds)
        with self._lock:
            entry = self._requests.get(model)
            if entry is None:
                if len(self._requests) >= self.max_series:
                    self.dropped += 1
                    return
                entry = self._requests[model] = [0, 0, 0, defaultdict(int)]
            entry[0] += 1
            if status >= 500:
                entry[2] += 1
            elif status >= 400:
                entry[1] += 1
            entry[3][rounded] += 1

    # ---- sending ---------------------------------------------------------------------------------------------
    def start(self) -> MetricsPublisher:
        self._thread = threading.Thread(target=self._run, name="cloudwatch-metrics", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread and send what is left (bounded by `timeout`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self.flush(attempts=1)  # shutdown must not wait out a retry schedule

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self, attempts: int | None = None) -> None:
        with self._lock:
            stats, self._stats = self._stats, {}
            values, self._values = self._values, {}
            requests, self._requests = self._requests, {}
        _merge_requests(requests, stats, values)
        data, samples = self._datums(stats, values)
        for start in range(0, len(data), _DATUMS_PER_CALL):
            chunk = data[start : start + _DATUMS_PER_CALL]
            count = sum(samples[start : start + _DATUMS_PER_CALL])
            if self._send(chunk, attempts or self.retries):
                self.sent += count
            else:
                self.dropped += count

    def _datums(
        self, stats: dict[Series, list[float]], values: dict[Series, dict[float, int]]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        now = dt.datetime.now(dt.UTC)
        data: list[dict[str, Any]] = []
        samples: list[int] = []
        for (name, dims, unit), (count, total, low, high) in stats.items():
            statistics = {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high}
            data.append({"MetricName": name, "Dimensions": _dims(dims), "Unit": unit, "Timestamp": now,
                         "StatisticValues": statistics})  # fmt: skip
            samples.append(int(count))
        for (name, dims, unit), counts in values.items():
            items = sorted(counts.items())
            for start in range(0, len(items), _VALUES_PER_DATUM):
                part = items[start : start + _VALUES_PER_DATUM]
                data.append({"MetricName": name, "Dimensions": _dims(dims), "Unit": unit, "Timestamp": now,
                             "Values": [v for v, _ in part], "Counts": [float(c) for _, c in part]})  # fmt: skip
                samples.append(sum(c for _, c in part))
        return data, samples

    def _send(self, data: list[dict[str, Any]], attempts: int) -> bool:
        delay = self.backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                self._cloudwatch().put_metric_data(Namespace=self.namespace, MetricData=data)
                return True
            except Exception as exc:  # noqa: BLE001 - any failure: retry, then count; never raise into the caller
                if attempt == attempts:
                    log.warning("could not send metrics to CloudWatch; dropped",
                                extra={"error": str(exc)[:300], "datums": len(data)})  # fmt: skip
                    return False
                time.sleep(delay)
                delay *= 2
        return False

    def _cloudwatch(self) -> Any:
        if self._client is None:
            # our own retry loop decides; botocore's would multiply it
            self._client = aws_client("cloudwatch", region=self.region, connect_timeout=5, read_timeout=10,
                                      max_attempts=1)  # fmt: skip
        return self._client


def _merge_requests(
    requests: dict[str, list[Any]], stats: dict[Series, list[float]], values: dict[Series, dict[float, int]]
) -> None:
    """Per-model request tallies as the statistic sets and distributions they stand for."""
    for model, (count, client, server, latency) in requests.items():
        dims = (("Model", model),)
        stats[("ServingRequests", dims, "Count")] = [count, count, 1.0, 1.0]
        for name, errors in (("Serving4xxErrors", client), ("Serving5xxErrors", server)):
            stats[(name, dims, "Count")] = [count, errors, 0.0 if errors < count else 1.0, 1.0 if errors else 0.0]
        values[("ServingLatency", dims, "Seconds")] = latency


def _dims(dims: Dimensions) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dims]


def from_settings(settings: Settings) -> MetricsPublisher | None:
    """The publisher the settings ask for (started), or None when CloudWatch metrics are off."""
    if not settings.cloudwatch_metrics:
        return None
    return MetricsPublisher(settings.metrics_namespace, settings.region,
                            settings.cloudwatch_metrics_flush_seconds).start()  # fmt: skip
