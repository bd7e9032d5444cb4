"""Every make call a Jenkins build makes, dry-run by the real `make -n`: the target resolves with its prerequisites,
and the mlops commands make would run are the ones the static reading of the Makefile finds (which the unit tests
in tests/unit/delivery/test_jenkins_pipeline.py parse with click)."""

import os
import subprocess

import pytest

from mlops.core.paths import REPO_ROOT
from tests.support.jenkins_pipeline import Make, Pipeline
from tests.support.makefile import Makefile, mlops_invocations

pytestmark = pytest.mark.integration

PIPELINE = Pipeline()
MAKEFILE = Makefile()
BUILD_ENV = {"GIT_COMMIT": "0123abcd"}
# a main build with model code changed runs every stage; a PR runs the checks; post runs after either
CALLS = sorted(
    {a for _, a in PIPELINE.build("main", ["pipelines/src/mlops/training/stages.py"], BUILD_ENV) if isinstance(a, Make)}
    | {a for _, a in PIPELINE.build("PR-7", [], BUILD_ENV) if isinstance(a, Make)}
    | {a for c in PIPELINE.post for a in PIPELINE.post_actions(c, BUILD_ENV) if isinstance(a, Make)},
    key=lambda m: m.argv,
)


def _environment() -> dict[str, str]:
    """This process' environment without anything that would set a make variable behind the test's back."""
    drop = (MAKEFILE.reads() - {"PATH"}) | {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.parametrize("call", CALLS, ids=lambda m: " ".join(m.argv[1:]))
def test_make_dry_run_resolves_and_runs_the_mlops_commands_the_makefile_reading_finds(call):
    make, *args = call.argv
    result = subprocess.run(
        [make, "-n", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{' '.join(call.argv)}: {result.stderr}"
    dry_run = [argv for line in result.stdout.splitlines() for argv in mlops_invocations(line)]
    assert dry_run == MAKEFILE.mlops_commands(call.target, call.vars)
