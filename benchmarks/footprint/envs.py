"""Environments built from a committed lock exactly as an image builds them (`uv sync --frozen --no-dev
--no-editable`; serving's bytecode as its Dockerfile compiles it, `python -m mlops.serving.warmup`; the others and
the peers with every module compiled, UV_COMPILE_BYTECODE=1, as the pre-split image did), their size on disk, and
the pre-split code at an older commit in a git worktree."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYNC_TIMEOUT = 1800  # a cold compile of the whole platform's bytecode on 2 loaded cores takes minutes
GIT_TIMEOUT = 120


@dataclass(frozen=True)
class Env:
    label: str
    path: Path
    sync_seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def mlops(self) -> Path:
        return self.path / "bin" / "mlops"

    @property
    def site_packages(self) -> Path:
        return next((self.path / "lib").glob("python3*/site-packages"))


@dataclass(frozen=True)
class Size:
    total: int  # every regular file under the venv, each inode once (what `du --apparent-size` counts)
    bytecode: int  # of which compiled .pyc files under __pycache__

    @property
    def installed(self) -> int:
        return self.total - self.bytecode


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1", **extra)
    return env


def base_python() -> str:
    """The interpreter the dev venv was made from, so every environment runs the same Python build."""
    return getattr(sys, "_base_executable", sys.executable)


def sync(
    label: str, project: Path, target: Path, selector: list[str], *, bytecode: bool, editable: bool = False
) -> Env:
    """`uv sync` the lock at `project` into `target`; `selector` picks the member(s), e.g. --package mlops-serving.
    Non-editable, as an image installs it, unless `editable` (the workspace code then stays in the checkout)."""
    cmd = ["uv", "sync", "--frozen", "--no-dev", "--quiet", "--python", base_python(), *selector]
    if not editable:
        cmd.insert(4, "--no-editable")
    env = _clean_env(UV_PROJECT_ENVIRONMENT=str(target), UV_COMPILE_BYTECODE="1" if bytecode else "0")
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=SYNC_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {project}:\n{done.stderr[-3000:]}")
    return Env(label, target, time.perf_counter() - started)


def warm_up_serving(env: Env) -> None:
    """What the serving Dockerfile runs after its sync: bytecode for the modules serving imports, and no others."""
    run_env = {k: v for k, v in _clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [str(env.python), "-m", "mlops.serving.warmup"]
    done = subprocess.run(cmd, cwd=env.path, env=run_env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")


def env_size(path: Path) -> Size:
    seen: set[tuple[int, int]] = set()
    total = bytecode = 0
    for folder, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:  # symlinks, hardlinked twins
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
            if name.endswith(".pyc") and os.path.basename(folder) == "__pycache__":
                bytecode += st.st_size
    return Size(total, bytecode)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_sizes(env: Env) -> dict[str, int]:
    """Bytes of the files each installed distribution's RECORD lists (the wheel's content, bytecode aside)."""
    sizes = {}
    for dist in distributions(path=[str(env.site_packages)]):
        total = 0
        for file in dist.files or []:
            with contextlib.suppress(FileNotFoundError):
                total += (env.site_packages / file).stat().st_size
        sizes[_norm(dist.metadata["Name"])] = total
    return sizes


def only_through(lock_file: Path, root: str, via: str) -> set[str]:
    """The packages of `root`'s closure in the lock that are there only because `root` (transitively) needs
    `via`: the closure minus the closure with every edge into `via` cut. Markers are not evaluated (this is
    for reporting; the caller intersects the result with what is actually installed)."""
    lock = tomllib.loads(lock_file.read_text())
    edges: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    extras: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = {}
    for pkg in lock["package"]:
        name = _norm(pkg["name"])
        for dep in pkg.get("dependencies", []):
            edges.setdefault(name, set()).add((_norm(dep["name"]), tuple(dep.get("extra", ()))))
        for extra, deps in pkg.get("optional-dependencies", {}).items():
            for dep in deps:
                extras.setdefault((name, extra), set()).add((_norm(dep["name"]), tuple(dep.get("extra", ()))))

    def closure(skip: str | None) -> set[str]:
        found: set[str] = set()
        todo = [(_norm(root), ())]
        while todo:
            name, wanted = todo.pop()
            if name == skip:
                continue
            new_name = name not in found
            found.add(name)
            nexts = set(edges.get(name, ())) if new_name else set()
            for extra in wanted:
                nexts |= extras.get((name, extra), set())
            todo.extend(nexts)
        return found

    return closure(None) - closure(_norm(via))


@contextlib.contextmanager
def worktree(commit: str, parent: Path) -> Iterator[Path]:
    """A detached git worktree of `commit` under `parent`, removed (and pruned) afterwards."""
    path = parent / f"worktree-{commit}"
    git = ["git", "-C", str(ROOT)]
    subprocess.run(
        [*git, "worktree", "add", "--detach", str(path), commit], check=True, capture_output=True, timeout=GIT_TIMEOUT
    )
    try:
        yield path
    finally:
        subprocess.run(
            [*git, "worktree", "remove", "--force", str(path)], check=False, capture_output=True, timeout=GIT_TIMEOUT
        )
        subprocess.run([*git, "worktree", "prune"], check=False, capture_output=True, timeout=GIT_TIMEOUT)
