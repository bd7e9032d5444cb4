"""Every make call a Jenkins build makes, dry-run by the real `make -n`: the target resolves with its prerequisites,
and the mlops commands make would run are the ones the static reading of the Makefile finds (which
tests/integration/test_jenkins_pipeline.py parses with click)."""

import os
import shlex
import subprocess

import pytest

from mlops.core.paths import REPO_ROOT
from tests.support.jenkins_dryrun import EXAMPLE_CONTROLLER, RecordingAgent, node_environment
from tests.support.jenkins_pipeline import Build, Trigger
from tests.support.makefile import Makefile, mlops_invocations

pytestmark = pytest.mark.integration

MAKEFILE = Makefile()
NODE = node_environment(EXAMPLE_CONTROLLER)


def _calls(tmp_path_factory) -> list[list[str]]:
    """A merge with model code changed runs every stage (approved); a PR runs the checks."""
    found = set()
    for trigger in (Trigger("main", ["pipelines/src/mlops/training/stages.py"]), Trigger("PR-7", [], "main")):
        agent = RecordingAgent(tmp_path_factory.mktemp("agent"))
        found |= set(Build(trigger, agent, NODE, approve=lambda _: True).run().make_calls())
    return [shlex.split(script) for script in sorted(found)]


def _environment() -> dict[str, str]:
    """This process' environment without anything that would set a make variable behind the test's back."""
    drop = (MAKEFILE.reads() - {"PATH"}) | {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_make_dry_run_resolves_and_runs_the_mlops_commands_the_makefile_reading_finds(tmp_path_factory):
    for make, *args in _calls(tmp_path_factory):
        result = subprocess.run(
            [make, "-n", "--no-print-directory", *args], cwd=REPO_ROOT, env=_environment(), capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"make {' '.join(args)}: {result.stderr}"
        variables = dict(a.split("=", 1) for a in args[1:])
        lines = result.stdout.replace("\\\n", " ").splitlines()  # a recipe line continued with a backslash is one
        dry_run = [argv for line in lines for argv in mlops_invocations(line)]
        assert dry_run == MAKEFILE.mlops_commands(args[0], variables), args
