"""Plan-level assertions: `terraform test` in every module with a tests/ folder. Each test file plans the module
against a mocked AWS provider (no account, no network) and asserts encryption, public access, IMDSv2, the TLS
policy and log retention, and that bad values (a bad CIDR, a TLS 1.0 policy, min > max, ...) are refused."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlops.core.terraform import TERRAFORM_DIR, terraform_env

pytestmark = pytest.mark.unit

TESTED = sorted({p.parent.parent for p in (TERRAFORM_DIR / "modules").glob("*/tests/*.tftest.hcl")})


def _terraform_test(module, tmp_path) -> tuple[str, int, str]:
    env = {**terraform_env(), "TF_DATA_DIR": str(tmp_path / module.name)}
    out = ""
    for args in (["init", "-backend=false", "-input=false", "-no-color"], ["test", "-no-color"]):
        result = subprocess.run(["terraform", f"-chdir={module}", *args], env=env, capture_output=True, text=True)
        out += result.stdout + result.stderr
        if result.returncode:
            return module.name, result.returncode, out
    return module.name, 0, out


def test_plan_assertions_pass_in_every_tested_module(tmp_path):
    assert {m.name for m in TESTED} >= {"s3", "serving-asg", "alb", "cloudwatch", "network", "eks"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda m: _terraform_test(m, tmp_path), TESTED))
    failures = {name: out for name, code, out in results if code}
    assert not failures, failures
    assert all("0 failed" in out and "passed" in out for _, _, out in results)
