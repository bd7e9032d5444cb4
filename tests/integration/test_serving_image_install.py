"""The serving image installs only the serving part. There is no Docker engine here, so the Dockerfile's build
stage is replayed without one: its ENV, its COPY lines (exactly those paths, from the repository into a temporary
directory standing in for WORKDIR) and its `uv` RUN lines, in order, with the same uv cache the developer has.
Then: what is installed, what `mlops` offers, and the size. Also: every member's wheel holds only `mlops/`."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT
from tests.support.image_replay import (
    clean_env,
    installed,
    mlops_commands,
    parse_build_stage,
    replay_build_stage,
    run_mlops,
)

pytestmark = pytest.mark.integration

DOCKERFILE = REPO_ROOT / "services" / "serving" / "Dockerfile"
SERVING = {"mlops-core", "mlops-serving"}
FORBIDDEN = {
    "moto",
    "dvc",
    "cookiecutter",
    "jenkinsapi",
    "mlflow",
    "mlops-tools",
    "mlops-pipelines",
    "mlops-drift",
    "mlops-retraining",
}
TARGET_BYTES = 500 * 10**6  # the "at most 500 MB"


@pytest.fixture(scope="module")
def image_build(tmp_path_factory) -> Path:
    """The build stage replayed in a temporary WORKDIR; returns that directory (the venv is its .venv)."""
    workdir = tmp_path_factory.mktemp("serving-image") / "app"
    workdir.mkdir()
    replay_build_stage(DOCKERFILE, workdir)
    return workdir


def _locked_for_serving() -> dict[str, str]:
    """mlops-serving's closure in uv.lock, markers evaluated for this machine, workspace members aside."""
    done = subprocess.run(
        [
            "uv",
            "export",
            "--frozen",
            "--no-dev",
            "--package",
            "mlops-serving",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--no-emit-workspace",
        ],
        cwd=REPO_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    locked = {}
    for line in done.stdout.splitlines():
        requirement, _, marker = line.partition(";")
        if "==" not in requirement or (marker.strip() and not Marker(marker.strip()).evaluate()):
            continue
        name, version = requirement.strip().split("==")
        locked[canonicalize_name(name)] = version
    return locked


def test_dockerfile_copies_only_the_serving_sources():
    stage = parse_build_stage(DOCKERFILE.read_text())
    copied = {p for kind, args in stage.steps if kind == "COPY" for p in args[:-1]}
    sources = {p for p in copied if not p.endswith(("pyproject.toml", "uv.lock"))}
    assert sources == {"core/src", "services/serving/src"}
    runs = [args for kind, args in stage.steps if kind == "RUN"]
    assert shlex.split("uv sync --frozen --no-dev --no-editable --package mlops-serving") in runs


def test_image_installs_only_serving_and_its_dependencies(image_build):
    found = installed(image_build)
    assert not FORBIDDEN & found.keys(), f"not for the serving image: {sorted(FORBIDDEN & found.keys())}"
    assert "mlflow-skinny" in found
    expected = {**_locked_for_serving(), **{name: found.get(name, "missing") for name in SERVING}}
    assert found == expected  # exactly the lock's serving closure, same versions, nothing else
    assert not FORBIDDEN & expected.keys()


def test_mlops_in_the_image_offers_serve_only(image_build):
    listed = run_mlops(image_build, "--help")
    assert listed.returncode == 0, listed.stderr
    commands = mlops_commands(listed.stdout)
    assert commands == ["serve"]
    serve = run_mlops(image_build, "serve", "--help")
    assert serve.returncode == 0, serve.stderr
    assert "--model-uri" in serve.stdout


def test_image_environment_within_size_target(image_build):
    """What the image carries: the installed files and the bytecode the build compiles, together."""
    venv = image_build / ".venv"
    seen, total, bytecode = set(), 0, 0
    for folder, _, files in os.walk(venv):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
                bytecode += st.st_size if name.endswith(".pyc") else 0
    assert bytecode > 10**7, "the build compiled no bytecode for what serving imports"
    assert total <= TARGET_BYTES, (
        f"serving environment {total / 1e6:.1f} MB ({bytecode / 1e6:.1f} MB of it bytecode) is over the "
        f"{TARGET_BYTES / 1e6:.0f} MB target; `make bench-footprint` lists the largest distributions"
    )


def _members() -> dict[str, Path]:
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    found = {}
    for member in root["tool"]["uv"]["workspace"]["members"]:
        found[tomllib.loads((REPO_ROOT / member / "pyproject.toml").read_text())["project"]["name"]] = Path(member)
    return found


@pytest.mark.parametrize("member", sorted(_members()))
def test_member_wheel_holds_only_the_mlops_namespace(member, tmp_path):
    done = subprocess.run(
        ["uv", "build", "--package", member, "--wheel", "-o", str(tmp_path)],
        cwd=REPO_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    dist_info = f"{member.replace('-', '_')}-{wheel.name.split('-')[1]}.dist-info"
    assert top == {"mlops", dist_info}
    assert "mlops/__init__.py" not in names  # a namespace package: every part's wheel installs side by side
