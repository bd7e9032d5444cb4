"""The retraining alert rules are valid and fire on a failed run (promtool, the Prometheus rule tester)."""

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
RULES = Path(__file__).resolve().parents[2] / "services" / "retraining" / "alerts.yml"


@pytest.fixture
def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: run `make system-deps` (Debian package prometheus)")
    return path


def test_rules_are_valid(promtool):
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_failed_retrain_fires_the_alert(promtool, tmp_path):
    spec = tmp_path / "test.yml"
    spec.write_text(
        textwrap.dedent(f"""\
        rule_files: [{RULES}]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - series: 'mlops_retrain_runs_total{{model="churn",trigger="drift",outcome="failed"}}'
                values: '0 0 1 1 1'
              - series: 'mlops_retrain_runs_total{{model="churn",trigger="drift",outcome="promoted"}}'
                values: '1 1 1 1 1'
            alert_rule_test:
              - eval_time: 4m
                alertname: MlopsRetrainFailed
                exp_alerts:
                  - exp_labels: {{severity: page, model: churn, trigger: drift, outcome: failed}}
                    exp_annotations:
                      summary: "Retraining of churn failed"
                      description: "A drift retrain failed after its retries; the champion was left unchanged."
        """)
    )
    result = subprocess.run([promtool, "test", "rules", str(spec)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
