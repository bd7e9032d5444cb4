"""Monitoring end to end on the local stack, around one real `mlops serve` (1 worker, CloudWatch metrics on):

- a real Prometheus on the central config (rendered by services/demo/prometheus.py) scrapes the server, a drift
  exporter serving a textfile `publish.write_textfile` wrote, and the retraining metrics endpoint; the rules load
  healthy, every Grafana panel expression evaluates without an error and returns data, the drift alert fires;
- the serving figures reach CloudWatch on the moto server (sent at shutdown: the send period is set long)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import httpx
import pytest

from mlops.devstack.demo.prometheus import PROMETHEUS_DIR, LocalPrometheus, render_config
from tests.support.serving import (
    API_KEY,
    auth,
    free_port,
    start_server,
    training_frame,
)

pytestmark = pytest.mark.integration
MODEL = "serving-test"  # the name pinned_model registers
NAMESPACE = f"MLOpsTest{uuid.uuid4().hex[:8]}"  # this module's own, so other tests' data cannot add up here
DASHBOARD = PROMETHEUS_DIR.parent / "grafana" / "dashboards" / "mlops.json"


@pytest.fixture(scope="module")
def server(pinned_model, tmp_path_factory):  # noqa: F811
    env = {
        "MLOPS_CLOUDWATCH_METRICS": "true",
        # longer than this module runs: what CloudWatch gets, it gets from the flush at shutdown
        "MLOPS_CLOUDWATCH_METRICS_FLUSH_SECONDS": "900",
        "MLOPS_METRICS_NAMESPACE": NAMESPACE,
    }
    srv = start_server(pinned_model, tmp_path_factory.mktemp("serve") / "serve.log", workers=1, env=env)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def traffic(server) -> dict[str, int]:
    """Scoring requests (good and bad), plus probes and scrapes that CloudWatch must not count."""
    good = json.dumps({"dataframe_split": json.loads(training_frame(3, 1).to_json(orient="split", index=False))})
    counts = {"ok": 0, "client_error": 0}
    with httpx.Client(headers={**auth(), "Content-Type": "application/json"}, timeout=10) as client:
        for i in range(40):
            bad = i % 8 == 0
            answer = client.post(server.url + "/invocations", content='{"rows": []}' if bad else good)
            assert answer.status_code == (400 if bad else 200), answer.text
            counts["client_error" if bad else "ok"] += 1
            client.get(server.url + "/health/ready")
            client.get(server.url + "/metrics")
    return counts


def _drift_exporter(directory):
    from mlops.drift.publish import exporter_server, write_textfile

    report = {"drift_share": 0.5, "dataset_drift": True, "summary": {"current_rows": 100},
              "columns": {"f0": {"status": "tested", "statistic": 0.4, "method": "ks", "drift": True},
                          "f1": {"status": "tested", "statistic": 0.01, "method": "ks", "drift": False}}}  # fmt: skip
    write_textfile(report, MODEL, directory)
    port = free_port()
    exporter = exporter_server(directory, "127.0.0.1", port)
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    return exporter, port


def _retrain_endpoint():
    from prometheus_client import start_http_server

    from mlops.retraining.metrics import RetrainMetrics

    m = RetrainMetrics()
    m.runs.labels(MODEL, "drift", "failed").inc()
    m.runs.labels(MODEL, "schedule", "promoted").inc()
    m.last_success.labels(MODEL).set(time.time() - 3600)
    m.in_progress.labels(MODEL).set(0)
    port = free_port()
    endpoint, _ = start_http_server(port, "127.0.0.1", registry=m.registry)
    return endpoint, port


def test_prometheus_loads_the_rules_and_answers_every_dashboard_panel(server, traffic, tmp_path):
    exporter, drift_port = _drift_exporter(tmp_path / "drift")
    endpoint, retrain_port = _retrain_endpoint()
    targets = {
        "mlops-serve": [f"127.0.0.1:{server.port}"],
        "mlops-drift": [f"127.0.0.1:{drift_port}"],
        "mlops-retrain": [f"127.0.0.1:{retrain_port}"],
    }
    try:
        with LocalPrometheus(render_config(tmp_path / "prom", targets, API_KEY), tmp_path / "prom") as prom:
            up = prom.wait_for("count(up == 1) == 3", timeout=30)
            assert up, prom.log_tail()
            # more traffic between scrapes so the rates are not zero
            with httpx.Client(headers=auth(), timeout=10) as client:
                for _ in range(20):
                    client.post(server.url + "/invocations", content='{"rows": []}',
                                headers={"Content-Type": "application/json"})  # fmt: skip
                    traffic["client_error"] += 1
                    time.sleep(0.1)
            prom.wait_for('model_route:mlops_serving_requests:rate5m{route="/invocations"} > 0', timeout=30)

            groups = prom.api("rules")["groups"]
            loaded = {r["name"]: r for g in groups for r in g["rules"]}
            import yaml

            defined = {r.get("alert") or r.get("record") for f in (PROMETHEUS_DIR / "rules").glob("*.yml")
                       for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]}  # fmt: skip
            assert set(loaded) == defined
            assert {n: r["health"] for n, r in loaded.items() if r["health"] != "ok"} == {}

            dashboard = json.loads(DASHBOARD.read_text())
            exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
            empty = []
            for expr in exprs:
                concrete = expr.replace("$model", MODEL)
                try:
                    prom.wait_for(concrete, timeout=15)  # raises on a PromQL error at once, on no data at the end
                except Exception as exc:  # noqa: BLE001 - collect every failing panel, not just the first
                    empty.append(f"{concrete}: {exc}")
            assert empty == []
            models = prom.api("label/model/values")  # what the dashboard's `model` variable lists
            assert MODEL in models

            firing = prom.wait_for('ALERTS{alertname="MlopsDriftShareHigh",alertstate="firing"}', timeout=15)
            assert firing[0]["metric"]["model"] == MODEL
    finally:
        exporter.shutdown()
        endpoint.shutdown()


def test_demo_prometheus_query_uses_the_central_config(server, traffic, tmp_path):
    from mlops.devstack.demo.prometheus import scrape_and_query

    answer = scrape_and_query(server.url, API_KEY, tmp_path, timeout=30)
    assert answer["result"]["200"] >= traffic["ok"]
    assert "rules/alerts.yml" in (tmp_path / "prometheus.yml").read_text()


def test_serving_figures_reach_cloudwatch_on_the_moto_server(server, traffic, local_stack):
    cloudwatch = local_stack.boto3_client("cloudwatch")
    assert server.stop() == 0, server.log()[-3000:]  # the flush at shutdown sends the figures

    def stats(name: str, *statistics: str) -> dict:
        now = dt.datetime.now(dt.UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=name, Dimensions=[{"Name": "Model", "Value": MODEL}],
            StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5), Period=3600,
            Statistics=list(statistics),
        )["Datapoints"]  # fmt: skip
        assert len(points) == 1, (name, points)
        return points[0]

    total = traffic["ok"] + traffic["client_error"]
    assert stats("ServingRequests", "Sum")["Sum"] == total  # probes and scrapes are not counted
    client_errors = stats("Serving4xxErrors", "Sum", "SampleCount")
    assert client_errors["Sum"] == traffic["client_error"] and client_errors["SampleCount"] == total
    assert stats("Serving5xxErrors", "Sum")["Sum"] == 0
    latency = stats("ServingLatency", "SampleCount", "Maximum")
    assert latency["SampleCount"] == total and 0 < latency["Maximum"] < 10
    assert "could not send metrics" not in server.log()
