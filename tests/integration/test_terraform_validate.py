"""terraform/ through the real Terraform: `terraform fmt` finds nothing to change, and every env, the bootstrap and
any module no env calls pass `terraform validate` (offline, the provider from the mirror). The static checks of
terraform/ that need no Terraform are tests/unit/infra/test_terraform_static.py."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlops.core.terraform import TERRAFORM_DIR, terraform_env
from tests.support.terraform import BOOTSTRAP, ENVS, MODULES, called_modules, init_and_run

pytestmark = pytest.mark.integration

# `terraform validate` of a root validates every module it calls, so the envs and the bootstrap cover the modules;
# a module no root calls is validated on its own. (Each validate loads the AWS provider schema: about 8 s apiece.)
IN_ROOTS = set().union(*(called_modules(root) for root in [*ENVS, BOOTSTRAP]))
CONFIGS = [*ENVS, BOOTSTRAP, *(m for m in MODULES if m.resolve() not in IN_ROOTS)]


def test_terraform_fmt_is_clean():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        env=terraform_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_env_and_the_bootstrap_validate(tmp_path):
    # data dirs in tmp: nothing is written into the repository, and the provider comes from the mirror (symlinked)
    def validate(config):
        data_dir = tmp_path / config.relative_to(TERRAFORM_DIR).as_posix().replace("/", "_")
        return config, *init_and_run(config, data_dir, "validate")

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(validate, CONFIGS))
    failures = {str(c.relative_to(TERRAFORM_DIR)): out for c, code, out in results if code}
    assert not failures, failures
    assert {m.resolve() for m in MODULES} <= IN_ROOTS | {c.resolve() for c in CONFIGS}  # every module validated
