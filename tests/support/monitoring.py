"""The central monitoring config (monitoring/): the Prometheus rule files, their promtool unit tests and the Grafana
dashboard, as the monitoring tests read them."""

from __future__ import annotations

import json

import yaml

from mlops.core.paths import PROMETHEUS_DIR

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
DASHBOARD = PROMETHEUS_DIR.parent / "grafana" / "dashboards" / "mlops.json"


def rules() -> list[dict]:
    return [rule for f in RULE_FILES for group in yaml.safe_load(f.read_text())["groups"] for rule in group["rules"]]


def panel_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
