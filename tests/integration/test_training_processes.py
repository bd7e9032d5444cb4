"""Training subprocesses never outlive what started them, and an interrupted MLflow run never stays RUNNING
(issue 18, item 7). Real `dvc repro` on a one-stage project whose stage sleeps; real kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from mlops.core.errors import MlopsError, TransientError
from mlops.training.project import run_dvc

pytestmark = pytest.mark.integration


@pytest.fixture
def sleeping_project(tmp_path) -> tuple[Path, str]:
    """A DVC project whose one stage runs a long sleep tagged with a marker we can find in the process table."""
    marker = f"mlops-test-stage-{uuid.uuid4().hex[:8]}"
    run_dvc(tmp_path, "init", "--no-scm")
    stage = f"{sys.executable} -c 'import time; time.sleep(120)' {marker}"
    (tmp_path / "dvc.yaml").write_text(f"stages:\n  train:\n    cmd: {stage}\n    always_changed: true\n")
    return tmp_path, marker


def _stage_processes(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []) and proc.pid != os.getpid():
            found.append(proc)
    return found


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_dvc_timeout_kills_the_whole_group_and_is_not_retried_unless_configured(sleeping_project):
    root, marker = sleeping_project
    started = time.monotonic()
    with pytest.raises(MlopsError) as info:
        run_dvc(root, "repro", timeout=6)
    assert not isinstance(info.value, TransientError)  # not worth a retry: it would only time out again
    assert "did not finish within 6s" in str(info.value) and time.monotonic() - started < 20
    assert _wait(lambda: not _stage_processes(marker), 5), "the training stage outlived the timeout"
    with pytest.raises(TransientError):  # MLOPS_RETRAIN_RETRY_TIMEOUTS=true makes it transient
        run_dvc(root, "repro", timeout=3, timeout_is_transient=True)
    assert _wait(lambda: not _stage_processes(marker), 5)


def test_a_killed_parent_takes_dvc_and_the_training_with_it(sleeping_project):
    root, marker = sleeping_project
    code = f"from mlops.training.project import run_dvc; run_dvc({str(root)!r}, 'repro', timeout=600)"
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        assert _wait(lambda: bool(_stage_processes(marker)), 60), "the stage never started"
        parent.send_signal(signal.SIGKILL)  # the retrain process dies without any clean-up of its own
        parent.wait(10)
        assert _wait(lambda: not _stage_processes(marker), 5), "dvc or the stage were left running"
    finally:
        for proc in _stage_processes(marker):
            proc.kill()


RUN = textwrap.dedent("""
    import sys, time
    from mlops.training.register import tracked_run
    with tracked_run(sys.argv[1], "interrupted") as run:
        print(run.info.run_id, flush=True)
        time.sleep(120)
""")


class _Started:
    def __init__(self, experiment: str):
        self.proc = subprocess.Popen([sys.executable, "-c", RUN, experiment], stdout=subprocess.PIPE, text=True)

    def run_id(self) -> str:
        run_id = self.proc.stdout.readline().strip()
        assert run_id, "the run never started"
        return run_id


def test_an_interrupted_mlflow_run_ends_failed(local_stack):
    import mlflow

    from mlops.training.register import fail_interrupted_runs

    started = {how: _Started(f"interrupted-{how.lower()}") for how in ("SIGTERM", "SIGKILL")}  # side by side
    runs = {how: (s.proc, s.run_id()) for how, s in started.items()}
    for how, (proc, _) in runs.items():
        proc.send_signal(getattr(signal, how))
        proc.wait(30)
    client = mlflow.MlflowClient()
    (term, term_run), (_, kill_run) = runs["SIGTERM"], runs["SIGKILL"]
    assert term.returncode == 143 and client.get_run(term_run).info.status == "FAILED"  # ended on the way out
    # SIGKILL: nothing could run in the process; the next run of the experiment on this host settles it
    assert client.get_run(kill_run).info.status == "RUNNING"
    assert fail_interrupted_runs("interrupted-sigkill") == [kill_run]
    assert client.get_run(kill_run).info.status == "FAILED"
