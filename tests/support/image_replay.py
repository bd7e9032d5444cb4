"""Replaying a Dockerfile's build stage without Docker (there is no Docker engine here): its ENV, its COPY lines
(exactly those paths, from the repository into a temporary directory standing in for WORKDIR /app) and its `uv` and
`.venv/bin/python` RUN lines, in order, with the developer's uv cache. Shared by the image tests
(tests/integration/test_*_image_install.py); what only a Docker build proves (the base image, apt packages, the
runtime stage) each Dockerfile says in its comments."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import distributions
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

UV_TIMEOUT = 600


@dataclass
class BuildStage:
    env: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, list[str]]] = field(default_factory=list)  # ("COPY", [src..., dest]) / ("RUN", argv)


def instructions(text: str) -> list[tuple[str, str]]:
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
    for keyword, args in instructions(text):
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


def apt_packages(text: str) -> set[str]:
    """The packages every `apt-get install` of the Dockerfile names (any stage), options aside."""
    found: set[str] = set()
    for keyword, args in instructions(text):
        if keyword != "RUN":
            continue
        for command in args.split("&&"):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                found |= {w for w in words[2:] if not w.startswith("-")}
    return found


def copy_step(parts: list[str], workdir: Path) -> None:
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


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON"))}
    # the image's interpreter is python:3.11's; here, the one the dev venv was made from
    env.update(UV_PYTHON=getattr(sys, "_base_executable", sys.executable), **extra)
    return env


def replay_build_stage(dockerfile: Path, workdir: Path) -> None:
    """The build stage of `dockerfile` replayed in `workdir` (empty; the venv ends up in workdir/.venv)."""
    stage = parse_build_stage(dockerfile.read_text())
    assert any(kind == "RUN" for kind, _ in stage.steps), f"{dockerfile}: the build stage runs no uv command"
    env = clean_env(**stage.env)
    for kind, args in stage.steps:
        if kind == "COPY":
            copy_step(args, workdir)
            continue
        done = subprocess.run(
            args, cwd=workdir, env=env, capture_output=True, text=True, timeout=UV_TIMEOUT, check=False
        )
        assert done.returncode == 0, f"{shlex.join(args)} failed:\n{done.stderr[-4000:]}"


def site_packages(workdir: Path) -> Path:
    return next((workdir / ".venv" / "lib").glob("python3*/site-packages"))


def installed(workdir: Path) -> dict[str, str]:
    """Canonical distribution name -> version, in the replayed venv."""
    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions(path=[str(site_packages(workdir))])}


def run_in_venv(workdir: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A program of the replayed venv's bin, with that bin first on a minimal PATH (as the image's ENV puts it)."""
    bin_dir = workdir / ".venv" / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "MLOPS_STATE_DIR": str(workdir)}
    return subprocess.run(
        [str(bin_dir / program), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def run_mlops(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_in_venv(workdir, "mlops", *args)


def mlops_commands(help_text: str) -> list[str]:
    """The subcommands `mlops --help` lists: click puts each at two spaces of indent, a wrapped description further."""
    section = help_text.split("Commands:", 1)[1].splitlines()
    return [line.split()[0] for line in section if line.startswith("  ") and not line.startswith("   ")]
