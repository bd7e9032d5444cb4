"""The serving image installs only the serving part. There is no Docker engine here, so the Dockerfile's build
stage is replayed without one: its ENV, its COPY lines (exactly those paths, from the repository into a temporary
directory standing in for WORKDIR) and its `uv` RUN lines, in order, with the same uv cache the developer has.
Then: what is installed, what `mlops` offers, and the size. Also: every member's wheel holds only `mlops/`."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

DOCKERFILE = REPO_ROOT / "services" / "serving" / "Dockerfile"
UV_TIMEOUT = 600
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


@dataclass
class BuildStage:
    env: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, list[str]]] = field(default_factory=list)  # ("COPY", [src..., dest]) / ("RUN", argv)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined, out = "", []
    for line in text.splitlines():
        if not joined and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            joined += line.rstrip()[:-1] + " "
            continue
        keyword, _, args = (joined + line).strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
        joined = ""
    return out


def parse_build_stage(text: str) -> BuildStage:
    """The first stage: everything from the first FROM to the next one."""
    stage, froms = BuildStage(), 0
    for keyword, args in _instructions(text):
        if keyword == "FROM":
            froms += 1
            if froms > 1:
                break
        elif keyword == "ENV":
            stage.env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
        elif keyword == "WORKDIR":
            assert args == "/app", "the replay puts WORKDIR at the temporary directory's root"
        elif keyword == "COPY":
            parts = shlex.split(args)
            assert not any(p.startswith("--") for p in parts), f"COPY flags are not replayed: {args}"
            assert not any(c in "".join(parts) for c in "*?["), f"COPY wildcards are not replayed: {args}"
            stage.steps.append(("COPY", parts))
        elif keyword == "RUN" and shlex.split(args)[0] in ("uv", ".venv/bin/python"):
            stage.steps.append(("RUN", shlex.split(args)))
    return stage


def _copy(parts: list[str], workdir: Path) -> None:
    """Docker's COPY: a directory's contents into the destination; a file into a destination ending in `/`."""
    *sources, dest = parts
    for source in sources:
        src = REPO_ROOT / source
        assert src.exists(), f"COPY {source}: not in the repository"
        if src.is_dir():
            shutil.copytree(
                src, workdir / dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            target = workdir / dest / src.name if dest.endswith("/") or len(sources) > 1 else workdir / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON"))}
    # the image's interpreter is python:3.11's; here, the one the dev venv was made from
    env.update(UV_PYTHON=getattr(sys, "_base_executable", sys.executable), **extra)
    return env


@pytest.fixture(scope="module")
def image_build(tmp_path_factory) -> Path:
    """The build stage replayed in a temporary WORKDIR; returns that directory (the venv is its .venv)."""
    stage = parse_build_stage(DOCKERFILE.read_text())
    assert any(kind == "RUN" for kind, _ in stage.steps), "the Dockerfile's build stage runs no uv command"
    workdir = tmp_path_factory.mktemp("serving-image") / "app"
    workdir.mkdir()
    env = _clean_env(**stage.env)
    for kind, args in stage.steps:
        if kind == "COPY":
            _copy(args, workdir)
            continue
        done = subprocess.run(
            args, cwd=workdir, env=env, capture_output=True, text=True, timeout=UV_TIMEOUT, check=False
        )
        assert done.returncode == 0, f"{shlex.join(args)} failed:\n{done.stderr[-4000:]}"
    return workdir


def _site_packages(workdir: Path) -> Path:
    return next((workdir / ".venv" / "lib").glob("python3*/site-packages"))


def _installed(workdir: Path) -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version for d in distributions(path=[str(_site_packages(workdir))])
    }


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
        env=_clean_env(),
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


def _run_mlops(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = workdir / ".venv" / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "MLOPS_STATE_DIR": str(workdir)}
    return subprocess.run(
        [str(bin_dir / "mlops"), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_dockerfile_copies_only_the_serving_sources():
    stage = parse_build_stage(DOCKERFILE.read_text())
    copied = {p for kind, args in stage.steps if kind == "COPY" for p in args[:-1]}
    sources = {p for p in copied if not p.endswith(("pyproject.toml", "uv.lock"))}
    assert sources == {"core/src", "services/serving/src"}
    runs = [args for kind, args in stage.steps if kind == "RUN"]
    assert shlex.split("uv sync --frozen --no-dev --no-editable --package mlops-serving") in runs


def test_image_installs_only_serving_and_its_dependencies(image_build):
    installed = _installed(image_build)
    assert not FORBIDDEN & installed.keys(), f"not for the serving image: {sorted(FORBIDDEN & installed.keys())}"
    assert "mlflow-skinny" in installed
    expected = {**_locked_for_serving(), **{name: installed.get(name, "missing") for name in SERVING}}
    assert installed == expected  # exactly the lock's serving closure, same versions, nothing else
    assert not FORBIDDEN & expected.keys()


def test_mlops_in_the_image_offers_serve_only(image_build):
    listed = _run_mlops(image_build, "--help")
    assert listed.returncode == 0, listed.stderr
    section = listed.stdout.split("Commands:", 1)[1].splitlines()
    # click puts each command at two spaces of indent; a wrapped description is indented further
    commands = [line.split()[0] for line in section if line.startswith("  ") and not line.startswith("   ")]
    assert commands == ["serve"]
    serve = _run_mlops(image_build, "serve", "--help")
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
        env=_clean_env(),
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
