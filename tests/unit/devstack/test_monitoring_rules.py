"""The central monitoring config (monitoring/), read statically: every alert is tested firing and not firing; every
metric a rule or a Grafana panel reads is one our code exports (or a recording rule, or Prometheus' own `up`); the
dashboard has the shape Grafana imports. promtool itself (the config, the rules and their unit tests) runs in
tests/integration/test_monitoring_promtool.py."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml

from mlops.devstack.demo.prometheus import render_config
from tests.support.monitoring import DASHBOARD, TEST_FILES, panel_exprs, rules

pytestmark = pytest.mark.unit
PROMETHEUS_OWN = {"up"}  # written by Prometheus itself for every scrape target

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: strings, label matchers, ranges, grouping clauses, functions,
    keywords and numbers taken out, what is left are metric names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\s*\(", "(", text)  # functions and aggregations
    tokens = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text)
    return {t for t in tokens if t not in _KEYWORDS}


def produced_metrics() -> set[str]:
    """Sample names our code exports, from the metric objects themselves (not from a list kept by hand)."""
    from prometheus_client import CollectorRegistry

    from mlops.drift.publish import prometheus_registry
    from mlops.retraining.metrics import RetrainMetrics
    from mlops.serving.metrics import metrics

    serving = metrics()
    collectors = [getattr(serving, f.name) for f in dataclasses.fields(serving)]
    collectors += [v for v in vars(RetrainMetrics()).values() if not isinstance(v, CollectorRegistry)]
    report = {"drift_share": 0.5, "dataset_drift": True, "summary": {"current_rows": 10},
              "columns": {"a": {"status": "tested", "statistic": 0.3, "method": "ks", "drift": True}}}  # fmt: skip
    families = [fam for c in collectors for fam in c.describe()] + list(prometheus_registry(report, "m").collect())
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {fam.name + suffix for fam in families for suffix in suffixes[fam.type]}


def test_rendered_config_keeps_the_api_key_in_a_private_file(tmp_path):
    config = render_config(tmp_path, {"mlops-serve": ["127.0.0.1:18080"]}, api_key="k-123")
    key = tmp_path / "serve-api-key"
    assert key.read_text() == "k-123" and key.stat().st_mode & 0o077 == 0
    assert "k-123" not in config.read_text()
    jobs = {job["job_name"]: job for job in yaml.safe_load(config.read_text())["scrape_configs"]}
    assert jobs["mlops-serve"]["authorization"]["credentials_file"] in (str(key), key.name)


def test_render_config_refuses_unknown_jobs_and_a_missing_key(tmp_path):
    from mlops.devstack.demo.prometheus import PrometheusError

    with pytest.raises(PrometheusError, match="no such scrape job"):
        render_config(tmp_path, {"nope": ["127.0.0.1:1"]})
    with pytest.raises(PrometheusError, match="API key"):
        render_config(tmp_path, {"mlops-serve": ["127.0.0.1:1"]})


def test_every_alert_is_tested_firing_and_not_firing():
    firing, quiet = set(), set()
    for spec in TEST_FILES:
        for case in yaml.safe_load(spec.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested quiet"


def test_every_metric_in_rules_and_panels_is_produced_by_our_code():
    produced = produced_metrics()
    assert {"mlops_serving_requests_total", "mlops_drift_share_ratio", "mlops_retrain_runs_total"} <= produced
    recorded = {r["record"] for r in rules() if "record" in r}
    exprs = [r["expr"] for r in rules()] + panel_exprs()
    unknown = {}
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        missing = names - produced - recorded - PROMETHEUS_OWN
        if missing:
            unknown[expr] = missing
    assert unknown == {}


def test_metric_name_parser_sees_through_promql():
    expr = ('histogram_quantile(0.99, sum by (model, le) (rate(a_bucket{x="y(z)"}[5m]) * on (job) group_left (model)'
            ' b:c:d)) > 2 and up == 1 unless label_replace(e, "m", "$1", "n", "(.+)")')  # fmt: skip
    assert metric_names(expr) == {"a_bucket", "b:c:d", "up", "e"}
    assert metric_names("time() - process_start_time_seconds > 6 * 3600") == {"process_start_time_seconds"}


def test_dashboard_is_importable_and_reads_the_recording_rules():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["model"]["datasource"]["uid"] == "${DS_PROMETHEUS}"
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Serving", "Drift", "Retraining"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
    recorded = {r["record"] for r in rules() if "record" in r}
    used = set().union(*(metric_names(e) for e in panel_exprs()))
    serving_recorded = {name for name in recorded if "serving" in name and not name.startswith("instance:")}
    assert serving_recorded <= used, "a serving recording rule no panel shows"
    assert all("$model" in e for e in panel_exprs() if "up{" not in e)
