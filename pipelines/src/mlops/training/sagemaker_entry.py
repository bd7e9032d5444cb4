"""The training container's entry point (`mlops pipeline sagemaker-entry`): the project's stages inside a SageMaker
training job, the same `dvc repro` a local retrain runs.

SageMaker's fixed paths, below ROOT (/opt/ml): `input/data/source/` holds the project's source (one `git archive`
tar.gz), `input/data/data/` the DVC inputs as the remote stores them (`xx/yyyy...`, the md5 split after two
characters); the outputs go to `model/` (SageMaker uploads it as model.tar.gz) and a failure's one line to
`output/failure` (SageMaker's FailureReason). The job has no network: nothing here fetches or pushes anything.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import Final

from mlops.core.errors import MlopsError
from mlops.training.progress import Steps
from mlops.training.project import Project, pipeline_outputs, run_dvc
from mlops.training.workspace import repro

SOURCE_CHANNEL: Final = "source"
DATA_CHANNEL: Final = "data"
ENTRY_COMMAND: Final = ("mlops", "pipeline", "sagemaker-entry")
FAILURE_LIMIT: Final = 1024  # SageMaker keeps the first 1024 characters of the failure file


def channel(root: Path, name: str) -> Path:
    return root / "input" / "data" / name


def unpack_source(root: Path, workdir: Path) -> None:
    archives = sorted(p for p in channel(root, SOURCE_CHANNEL).rglob("*") if p.is_file())
    if len(archives) != 1:
        raise MlopsError(f"channel {SOURCE_CHANNEL!r} must hold one source archive, found {len(archives)}")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(workdir, filter="data")  # refuses links and paths outside the work directory


def place_inputs(root: Path, project: Project) -> None:
    """Each DVC input at the path its `.dvc` file names, from the channel's copy of exactly that md5."""
    for relative, md5 in project.datasets().items():
        source = channel(root, DATA_CHANNEL) / md5[:2] / md5[2:]
        if not source.is_file():
            raise MlopsError(f"data version {relative}@{md5} is not in channel {DATA_CHANNEL!r}")
        project.path(relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, project.path(relative))
    project.verify_datasets()  # the md5 again: the data version is exact


def collect_outputs(project: Project, model_dir: Path) -> list[str]:
    """What `dvc repro` wrote (dvc.yaml's outs, metrics, plots) and dvc.lock, at the same relative paths."""
    written = sorted(o for o in pipeline_outputs(project.root) if project.path(o).exists()) + ["dvc.lock"]
    for relative in written:
        source, target = project.path(relative), model_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    return written


def run(root: Path, params: str, steps: Steps | None = None) -> list[str]:
    """Unpack, place the inputs, `dvc repro`, collect the outputs into ROOT/model. Returns what was collected."""
    workdir = root / "work" / "project"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    unpack_source(root, workdir)
    project = Project(workdir, params)
    place_inputs(root, project)
    run_dvc(workdir, "config", "--local", "core.no_scm", "true")  # the archive has no .git
    repro(project, force=True, steps=steps)
    return collect_outputs(project, root / "model")


def write_failure(root: Path, message: str) -> None:
    failure = root / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(message[:FAILURE_LIMIT])
