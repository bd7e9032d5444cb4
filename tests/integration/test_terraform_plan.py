"""Plan-level assertions: `terraform test` in every module with a tests/ folder. Each test file plans the module
against a mocked AWS provider (no account, no network) and asserts encryption, public access, IMDSv2, the TLS
policy and log retention, and that bad values (a bad CIDR, a TLS 1.0 policy, min > max, ...) are refused."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from mlops.core.terraform import TERRAFORM_DIR
from tests.support.terraform import init_and_run

pytestmark = pytest.mark.integration

TESTED = sorted({p.parent.parent for p in (TERRAFORM_DIR / "modules").glob("*/tests/*.tftest.hcl")})


def test_plan_assertions_pass_in_every_tested_module(tmp_path):
    assert {m.name for m in TESTED} >= {"s3", "serving-asg", "alb", "cloudwatch", "network", "eks"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda m: (m.name, *init_and_run(m, tmp_path / m.name, "test")), TESTED))
    failures = {name: out for name, code, out in results if code}
    assert not failures, failures
    assert all("0 failed" in out and "passed" in out for _, _, out in results)
