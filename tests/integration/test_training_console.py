"""Console output is for people (issue 15): the real `mlops pipeline run` on the local stack, with DVC told to draw
its progress bars even into a pipe (DVC_IGNORE_ISATTY, as a CI may set it) and to colour (FORCE_COLOR). The console
gets one line per DVC step and a one-line error; DVC's own output, bars and all, goes to the log file as whole
clean lines."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import git
import pytest

from mlops.training.example import RAW, init_project, make_dataset
from tests.conftest import run_mlops

pytestmark = pytest.mark.integration
NOISY = {"DVC_IGNORE_ISATTY": "1", "FORCE_COLOR": "1"}  # DVC's bars and colours, were they to reach the console
BAR = re.compile(r"\|.*\[\d+:\d{2}|[?\d.]+(it|entry|file|files|B)/s\b|\d+%\|")  # tqdm: "|###| 1/2 [00:01<..., 3file/s]"


@pytest.fixture(scope="module")
def project(local_stack, tmp_path_factory):
    return init_project(tmp_path_factory.mktemp("console") / "p", "s3://mlops-data/dvc/console", "console-model",
                        frame=make_dataset(rows=200))  # fmt: skip


@pytest.fixture
def log_file(local_stack) -> Path:
    return Path(os.environ["MLOPS_STATE_DIR"]) / "logs" / "mlops.log"


def fresh_clone(project, where: Path) -> Path:
    """A checkout as a model team has it: the data's .dvc files, no data, no DVC cache, no config.local."""
    return Path(git.Repo.clone_from(project.root, where).working_dir)


def run_logged(log_file: Path, *args: str, env: dict[str, str]):
    start = log_file.stat().st_size if log_file.exists() else 0
    result = run_mlops(*args, env={**NOISY, **env})
    with log_file.open("rb") as handle:
        handle.seek(start)
        records = [json.loads(line) for line in handle.read().decode().splitlines()]  # every line is JSON
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result, records


def assert_for_people(result) -> list[str]:
    console = result.stdout + result.stderr
    assert "\r" not in console and "\x1b" not in console, repr(console[-2000:])
    fragments = [line for line in console.splitlines() if BAR.search(line) or line.strip() == "!"]
    assert not fragments, fragments
    return [line for line in console.splitlines() if line.strip()]


def test_dvc_steps_are_one_line_each_and_dvc_output_goes_to_the_log(project, tmp_path, log_file):
    """The pull succeeds (the bars DVC draws for it land in the log); then `dvc repro` fails in the prepare stage
    (params name a target column the data lacks): the error names the stage and the stage's own message."""
    clone = fresh_clone(project, tmp_path / "clone")
    params = clone / "params.yaml"
    params.write_text(re.sub(r"(?m)^(\s+target:).*$", r"\1 no_such_column", params.read_text()))
    result, records = run_logged(log_file, "pipeline", "run", "--project", str(clone), env={})
    assert result.returncode == 1, result.stderr
    lines = assert_for_people(result)
    assert len(lines) == 3, lines
    pulled = r"pulling data/raw\.csv \(1 file, [\d.]+ kB\) \.\.\. done in [\d.]+ s: 1 file fetched.*"
    assert re.fullmatch(pulled, lines[0])
    assert re.fullmatch(r"running the pipeline \(dvc repro\) \.\.\. failed after [\d.]+ s", lines[1])
    assert lines[2].startswith(f"Error: `dvc repro` failed in {clone}: failed to reproduce 'prepare'")
    assert "input data lacks the columns ['no_such_column']" in lines[2] and f"is in {log_file})" in lines[2]

    dvc = [r for r in records if r["logger"] == "dvc.output"]
    said = [r["message"] for r in dvc]
    assert "1 file fetched and 1 file added" in said and "Running stage 'prepare':" in said
    assert any(m.startswith("ERROR: failed to reproduce 'prepare'") for m in said)
    assert any(BAR.search(m) for m in said)  # DVC's bars: in the log, as the last state each one drew
    assert not [m for m in said if "\r" in m or "\x1b" in m or not m.strip()]
    assert {r["dvc_command"] for r in dvc} == {f"dvc pull {RAW}.dvc", "dvc repro"}
    assert {r["level"] for r in dvc} == {"INFO"}  # library output: shown on the console only with --verbose
    done = [(r["dvc_command"], r["exit_code"]) for r in records if r["message"] in ("dvc finished", "dvc failed")]
    assert done[-2:] == [(f"dvc pull {RAW}.dvc", 0), ("dvc repro", 255)]


def test_an_unreachable_remote_is_one_clear_line(project, tmp_path, log_file):
    clone = fresh_clone(project, tmp_path / "clone")
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1"}
    result, records = run_logged(log_file, "pipeline", "run", "--project", str(clone), env=env)
    assert result.returncode == 1, result.stderr
    lines = assert_for_people(result)
    assert len(lines) == 2, lines
    assert re.fullmatch(r"pulling data/raw\.csv \(1 file, [\d.]+ kB\) \.\.\. failed after [\d.]+ s", lines[0])
    assert lines[1].startswith(f"Error: `dvc pull {RAW}.dvc` failed: the DVC remote cannot be reached: ")
    assert "127.0.0.1:1" in lines[1] and lines[1].endswith(f"(DVC's output is in {log_file})")
    said = [r["message"] for r in records if r["logger"] == "dvc.output"]
    assert any(m.startswith("ERROR: failed to connect to s3") for m in said), said
    assert not (clone / RAW).exists()
