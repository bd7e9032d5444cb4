"""The ops image (`mlops-ops`, services/retraining/Dockerfile) installs retraining, pipelines, drift and core, not
serving or tools. There is no Docker engine here, so its build stage is replayed without one
(tests/support/image_replay.py); then: what is installed, what `mlops` offers, that the SageMaker entry point and dvc
are there, and that the runtime stage adds git."""

from __future__ import annotations

import shlex

import pytest

from tests.conftest import REPO_ROOT
from tests.support.image_replay import (
    apt_packages,
    installed,
    mlops_commands,
    parse_build_stage,
    replay_build_stage,
    run_in_venv,
    run_mlops,
)

pytestmark = pytest.mark.integration

DOCKERFILE = REPO_ROOT / "services" / "retraining" / "Dockerfile"
OPS = {"mlops-core", "mlops-pipelines", "mlops-drift", "mlops-retraining"}
FORBIDDEN = {"mlops-serving", "mlops-tools", "pyspark", "moto", "cookiecutter", "jenkinsapi", "pytest"}


@pytest.fixture(scope="module")
def image_build(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ops-image") / "app"
    workdir.mkdir()
    replay_build_stage(DOCKERFILE, workdir)
    return workdir


def test_dockerfile_copies_only_the_ops_sources_and_adds_git():
    text = DOCKERFILE.read_text()
    stage = parse_build_stage(text)
    copied = {p for kind, args in stage.steps if kind == "COPY" for p in args[:-1]}
    sources = {p for p in copied if not p.endswith(("pyproject.toml", "uv.lock"))}
    assert sources == {"core/src", "pipelines/src", "services/drift/src", "services/retraining/src"}
    runs = [args for kind, args in stage.steps if kind == "RUN"]
    assert shlex.split("uv sync --frozen --no-dev --no-editable --package mlops-retraining") in runs
    assert "git" in apt_packages(text)  # `mlops retrain` clones the model project; dvc reads its history


def test_image_installs_the_four_ops_parts_and_not_serving_or_tools(image_build):
    packages = installed(image_build)
    assert packages.keys() >= OPS, f"missing: {sorted(OPS - packages.keys())}"
    assert not FORBIDDEN & packages.keys(), f"not for the ops image: {sorted(FORBIDDEN & packages.keys())}"
    assert packages.keys() >= {"dvc", "dvc-s3", "kubernetes", "boto3"}
    dvc = run_in_venv(image_build, "python", "-c", "import dvc.api, dvc_s3; print(dvc.__version__)")
    assert dvc.returncode == 0, dvc.stderr
    assert dvc.stdout.strip() == packages["dvc"]


def test_mlops_in_the_image_offers_retrain_drift_and_pipeline(image_build):
    listed = run_mlops(image_build, "--help")
    assert listed.returncode == 0, listed.stderr
    commands = set(mlops_commands(listed.stdout))
    assert {"retrain", "drift", "pipeline"} <= commands
    assert not {"serve", "deploy", "infra"} & commands
    for group, subcommands in {"retrain": {"run", "serve"}, "drift": {"run", "exporter"}}.items():
        shown = run_mlops(image_build, group, "--help")
        assert shown.returncode == 0, shown.stderr
        assert subcommands <= set(mlops_commands(shown.stdout)), f"mlops {group}: {shown.stdout}"


def test_sagemaker_entry_point_runs_in_the_image(image_build):
    shown = run_mlops(image_build, "pipeline", "sagemaker-entry", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "/opt/ml" in shown.stdout  # the default root: SageMaker's fixed directory
