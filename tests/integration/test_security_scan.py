"""The Security scan stage (`make scan`: checkov over Terraform, Kubernetes and the Dockerfiles) runs here, passes,
and leaves the JUnit report Jenkins publishes."""

import subprocess
import xml.etree.ElementTree as ET

import pytest

from mlops.core.paths import REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.mark.slow  # the same checkov runs in `make lint` (pre-commit); this proves the stage's target and report
def test_security_scan_stage_runs_here_and_writes_junit():
    result = subprocess.run(["make", "scan"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report = ET.parse(REPO_ROOT / "reports" / "checkov.xml").getroot()  # noqa: S314 - our own tool's report
    assert report.tag == "testsuites"
    suites = [report, *report.iter("testsuite")]
    assert sum(int(s.get("tests", 0)) for s in report.iter("testsuite")) > 0, "checkov checked nothing"
    assert all(int(s.get("failures", 0)) == 0 for s in suites)
