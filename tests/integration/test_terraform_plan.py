"""Plan-level assertions: `terraform test` in every configuration with a tests/ folder (modules, envs, the
bootstrap). Each test file plans against a mocked AWS provider (no account, no network) and asserts encryption,
public access, IMDSv2, the TLS policy and log retention, that bad values (a bad CIDR, a TLS 1.0 policy, min > max,
...) are refused, the Terraform roles' and the deploy role's trust and limits, and that every env plans from its
committed terraform.tfvars alone."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from mlops.core.terraform import TERRAFORM_DIR
from tests.support.terraform import init_and_run

pytestmark = pytest.mark.integration

TESTED = sorted({p.parent.parent for p in TERRAFORM_DIR.glob("**/tests/*.tftest.hcl") if ".terraform" not in p.parts})


def _name(config) -> str:
    return config.relative_to(TERRAFORM_DIR).as_posix()


def test_plan_assertions_pass_in_every_tested_module(tmp_path):
    assert {_name(m) for m in TESTED} >= {
        *(f"modules/{m}" for m in ("s3", "serving-asg", "alb", "cloudwatch", "network", "eks", "terraform-roles")),
        "modules/deploy-role", "bootstrap", "envs/dev", "envs/staging", "envs/prod",
    }  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda m: (_name(m), *init_and_run(m, tmp_path / _name(m).replace("/", "_"), "test")), TESTED)
        )
    failures = {name: out for name, code, out in results if code}
    assert not failures, failures
    assert all("0 failed" in out and "passed" in out for _, _, out in results)
