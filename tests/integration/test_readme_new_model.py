"""The root README's "A new model project" sequence, run as written: from the platform checkout the suite runs in
(on CI a clean clone of main, `make setup` done by `make test`), its `.venv/bin` on PATH, in a model team's shell (no
endpoints exported, bytecode written as on any laptop; the stack found through MLOPS_HOME), the README's own lines
one after the other in one bash.

The commands are read from README.md, so the README and this test cannot drift apart. Two liberties, both said
here: `~/models` is a temporary directory (not the tester's home), and of the two `mlops new-model` lines, which the
README offers as alternatives, the `--no-input` one runs (the interactive one asks at a terminal;
test_new_model_cli.py covers its answers). The server the sequence starts with `&` is stopped afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.integration.test_generator_bake import BIN, _user_env

pytestmark = [pytest.mark.integration, pytest.mark.bake]
SECTION = "## A new model project"


def readme_sequence() -> list[str]:
    """The bash block under the README's new-model heading, one command per line, comments dropped."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index(SECTION) :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no bash block under {SECTION!r} in README.md"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_sequence_is_the_one_this_test_runs():
    """What the test below assumes of the README: a stack, one scaffold without questions, the project's own
    commands from its directory, a background server, then the checks that need it."""
    commands = readme_sequence()
    scaffolds = [c for c in commands if c.startswith("mlops new-model")]
    assert [c for c in scaffolds if "--no-input" in c] and len(scaffolds) == 2, scaffolds
    assert commands[0] == "mlops stack up" and "cd ~/models/churn" in commands
    assert [c for c in commands if c.endswith("&")] == ["make serve ALIAS=champion &"], commands


@pytest.mark.slow
def test_the_readme_new_model_sequence_runs_as_written(local_stack, tmp_path):
    models = tmp_path / "models"
    commands = [
        c.replace("~/models", str(models))
        for c in readme_sequence()
        if not (c.startswith("mlops new-model") and "--no-input" not in c)  # the alternative that asks
    ]
    script = "\n".join(["set -euo pipefail", *commands])
    env = _user_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # the README's "`.venv/bin` on PATH"
    log = tmp_path / "sequence.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["bash", "-c", script], cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            returncode = proc.wait(timeout=1200)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # the `make serve &` the sequence left running
    output = log.read_text()
    assert returncode == 0, f"the README's sequence exited {returncode}:\n{output[-6000:]}"

    project = models / "churn"
    smoke = [line for line in output.splitlines() if re.match(r"\d+ predictions: \[", line)]
    assert smoke, output[-3000:]  # `make smoke` answered by the server `make serve` started
    drift = json.loads((project / "reports/drift.json").read_text())
    assert drift["summary"]["model_name"] == "churn" and drift["summary"]["current_rows"] >= 1, drift["summary"]
    from mlflow import MlflowClient

    champion = MlflowClient().get_model_version_by_alias("churn", "champion")
    assert champion.version == "1" and champion.tags["mlops.gate.decision"] == "passed"
    assert champion.tags["mlops.git.dirty"] == "false"  # registered from the commit the sequence made
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["target"] not in drift["columns"]
    assert not list(project.rglob("mlflow.db")) and not (project / "mlruns").exists()
    assert not list(REPO_ROOT.glob("*.db")) and not (REPO_ROOT / "mlruns").exists()  # nor the platform's
