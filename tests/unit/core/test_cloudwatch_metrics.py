"""The CloudWatch metrics publisher: what it sends, how it retries and drops, and that recording never waits.

CloudWatch itself is replaced by a recording client here (the publisher is the thing under test); the integration
test tests/integration/test_monitoring_serving.py sends to the moto server through a real `mlops serve`."""

from __future__ import annotations

import threading
import time

import pytest

from mlops.core.cloudwatch_metrics import MetricsPublisher, _round2, from_settings
from mlops.core.settings import SettingsError, get_settings

pytestmark = pytest.mark.unit


class Client:
    def __init__(self, failures: int = 0, gate: threading.Event | None = None):
        self.calls: list[dict] = []
        self.failures, self.gate = failures, gate

    def put_metric_data(self, Namespace, MetricData):  # noqa: N803 - boto3's names
        if self.gate is not None:
            self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("throttled")
        self.calls.append({"Namespace": Namespace, "MetricData": MetricData})


def datums(client: Client) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for call in client.calls:
        for datum in call["MetricData"]:
            found.setdefault(datum["MetricName"], []).append(datum)
    return found


def test_requests_become_statistic_sets_and_latency_values_per_model():
    client = Client()
    pub = MetricsPublisher("MLOps", client=client, backoff_seconds=0)
    for status, seconds in [(200, 0.012), (200, 0.0123), (422, 0.004), (503, 1.5)]:
        pub.record_request("churn", status, seconds)
    pub.record_request("fraud", 200, 0.02)
    pub.flush()
    sent = datums(client)
    assert client.calls[0]["Namespace"] == "MLOps"
    requests = {d["Dimensions"][0]["Value"]: d["StatisticValues"] for d in sent["ServingRequests"]}
    assert requests["churn"] == {"SampleCount": 4, "Sum": 4.0, "Minimum": 1.0, "Maximum": 1.0}
    assert requests["fraud"]["Sum"] == 1.0
    errors = {d["Dimensions"][0]["Value"]: d["StatisticValues"] for d in sent["Serving5xxErrors"]}
    assert errors["churn"]["Sum"] == 1.0 and errors["churn"]["SampleCount"] == 4  # Average = 5xx ratio
    assert {d["Dimensions"][0]["Value"]: d["StatisticValues"]["Sum"] for d in sent["Serving4xxErrors"]}["churn"] == 1
    latency = next(d for d in sent["ServingLatency"] if d["Dimensions"] == [{"Name": "Model", "Value": "churn"}])
    assert latency["Unit"] == "Seconds"
    assert dict(zip(latency["Values"], latency["Counts"], strict=True)) == {0.004: 1, 0.012: 2, 1.5: 1}
    assert pub.sent == 5 * 4 and pub.dropped == 0
    pub.flush()  # nothing recorded since: nothing sent
    assert len(client.calls) == 1


def test_rounding_keeps_two_significant_digits():
    assert [_round2(v) for v in (0.012345, 0.0987, 1.26, 123.0, 0.0, -1.0)] == [0.012, 0.099, 1.3, 120.0, 0.0, 0.0]


def test_many_distinct_latencies_are_split_into_datums_of_150_values():
    client = Client()
    pub = MetricsPublisher("MLOps", client=client)
    for i in range(1, 400):
        pub.observe("ServingLatency", i * 0.001)
    pub.flush()
    parts = datums(client)["ServingLatency"]
    assert all(len(p["Values"]) <= 150 for p in parts)
    assert sum(sum(p["Counts"]) for p in parts) == 399


def test_a_transient_failure_is_retried_and_a_persistent_one_counted_as_dropped():
    client = Client(failures=2)
    pub = MetricsPublisher("MLOps", client=client, retries=3, backoff_seconds=0)
    pub.record_request("churn", 200, 0.01)
    pub.flush()
    assert len(client.calls) == 1 and pub.dropped == 0

    client.failures = 10
    pub.record_request("churn", 200, 0.01)
    pub.flush()  # gives up after 3 attempts, never raises
    assert pub.dropped == 4 and client.failures == 7


def test_series_beyond_the_limit_are_dropped_and_counted():
    pub = MetricsPublisher("MLOps", client=Client(), max_series=2)
    pub.add("A", 1)
    pub.add("B", 1)
    pub.add("C", 1)
    pub.observe("D", 0.1)
    pub.add("A", 1)  # an existing series still counts
    assert pub.dropped == 2
    pub.flush()
    assert pub.sent == 3

    one_model = MetricsPublisher("MLOps", client=Client(), max_series=1)
    one_model.record_request("churn", 200, 0.01)
    one_model.record_request("fraud", 200, 0.01)
    assert one_model.dropped == 1


def test_recording_does_not_wait_for_a_slow_cloudwatch_and_close_sends_the_rest():
    gate = threading.Event()
    client = Client(gate=gate)
    pub = MetricsPublisher("MLOps", client=client, flush_seconds=0.05).start()
    pub.record_request("churn", 200, 0.01)
    time.sleep(0.3)  # the thread is now stuck inside put_metric_data
    started = time.perf_counter()
    for _ in range(1000):
        pub.record_request("churn", 200, 0.01)
    assert time.perf_counter() - started < 0.5
    gate.set()
    pub.close()
    assert sum(d["StatisticValues"]["Sum"] for d in datums(client)["ServingRequests"]) == 1001


def test_settings_turn_it_on_and_name_a_bad_value(monkeypatch):
    assert from_settings(get_settings()) is None
    monkeypatch.setenv("MLOPS_CLOUDWATCH_METRICS", "true")
    monkeypatch.setenv("MLOPS_CLOUDWATCH_METRICS_FLUSH_SECONDS", "5")
    monkeypatch.setenv("MLOPS_METRICS_NAMESPACE", "Team/Models")
    pub = from_settings(get_settings())
    try:
        assert pub.namespace == "Team/Models" and pub.flush_seconds == 5
    finally:
        pub.close(timeout=1)
    monkeypatch.setenv("MLOPS_CLOUDWATCH_METRICS_FLUSH_SECONDS", "0")
    with pytest.raises(SettingsError, match="MLOPS_CLOUDWATCH_METRICS_FLUSH_SECONDS"):
        get_settings()
