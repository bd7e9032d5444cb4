"""`mlops demo` end to end on the local stack: the main job a new user runs first."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_mlops

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(local_stack, tmp_path_factory):
    summary_path = tmp_path_factory.mktemp("demo") / "summary.json"
    result = run_mlops("demo", "--seed", "7", "--summary-json", str(summary_path), "--prometheus", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    console = (result.stdout + result.stderr).splitlines()
    # the console is for people: one line per step and a summary, libraries' chatter in the log file only
    assert len(console) <= 60, "\n".join(console)
    return result.stdout, json.loads(summary_path.read_text()), local_stack


def test_two_versions_with_different_data_the_second_promoted_because_of_drift(demo):
    stdout, summary, _ = demo
    v1, v2 = summary["v1"], summary["v2"]
    assert v1["version"] == "1" and v2["version"] == "2"
    assert v1["data_md5"] and v2["data_md5"] and v1["data_md5"] != v2["data_md5"]
    assert v1["gate"] == v2["gate"] == "passed"
    assert v2["trigger"] == "drift"
    assert v2["gate_numbers"]["challenger"] > v2["gate_numbers"]["champion"]
    assert not summary["drift_before"]["dataset_drift"] and summary["drift_after"]["dataset_drift"]
    assert summary["alarm"]["state"] == "ALARM"
    assert summary["event"].startswith("s3://mlops-data/events/drift/")
    for step in range(1, 9):
        assert f"[{step}/8]" in stdout
    assert "=== summary ===" in stdout and "MLflow UI: http://127.0.0.1:" in stdout


def test_no_request_failed_and_both_versions_answered(demo):
    _, summary, _ = demo
    traffic = summary["traffic"]
    assert traffic["requests"] >= 800 and traffic["errors"] == 0
    assert traffic["versions"]["1"] > 0 and traffic["versions"]["2"] > 0
    assert summary["prometheus"]["result"]["200"] >= 800


def test_reports_exist_and_logs_reach_cloudwatch(demo):
    _, summary, stack = demo
    for key in ("json", "html"):
        for phase in ("drift_before", "drift_after"):
            assert Path(summary[phase][key]).stat().st_size > 0
    report = json.loads(Path(summary["drift_after"]["json"]).read_text())
    assert report["columns"]["x1"]["drift"] is True
    logs = stack.boto3_client("logs")
    group = f"/mlops/demo/{summary['model']}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams, f"no log stream in {group}"
    events = [
        json.loads(e["message"])
        for s in streams
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
    ]
    assert any(e.get("request_id") for e in events)


def test_promtool_accepts_the_monitoring_rules():
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: make system-deps installs Debian's prometheus"
    rules = sorted(p for p in REPO_ROOT.glob("monitoring/**/*.yml") if "groups:" in p.read_text())
    assert rules
    result = subprocess.run([promtool, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
