"""One way to build the platform's wheels: `uv build --all-packages` in the checkout, once per content of its parts.

The wheels are kept in a cache folder named by a digest of what they are built from (each part's pyproject.toml and
sources), so a second model project or a second publish of the same code costs no build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from mlops.core.errors import MlopsError
from mlops.core.paths import REPO_ROOT

# every workspace member (distribution name -> folder in the checkout)
PARTS = {
    "mlops-core": "core",
    "mlops-drift": "services/drift",
    "mlops-serving": "services/serving",
    "mlops-pipelines": "pipelines",
    "mlops-retraining": "services/retraining",
    "mlops-tools": "tools",
}
BUILD_TIMEOUT_SECONDS = 600


class WheelBuildError(MlopsError):
    """uv is missing or `uv build` failed; the message carries uv's own words."""


def checkout() -> Path | None:
    """The platform checkout this `mlops` is installed from (editable), or None for a wheel install."""
    return REPO_ROOT if all((REPO_ROOT / folder / "pyproject.toml").is_file() for folder in PARTS.values()) else None


def uv_executable() -> str:
    """uv: beside this interpreter (mlops-tools depends on it), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if not found:
        raise WheelBuildError("uv is not installed: run `make setup` in the platform checkout, or pip install uv")
    return found


def wheel_of(folder: Path, distribution: str) -> Path:
    """The one wheel of `distribution` in `folder` (a build_wheels result)."""
    found = sorted(folder.glob(f"{distribution.replace('-', '_')}-*.whl"))
    if len(found) != 1:
        raise WheelBuildError(f"expected one wheel of {distribution} in {folder}, found {len(found)}")
    return found[0]


def _digest(root: Path) -> str:
    """What the wheels are built from: each part's pyproject.toml and sources (bytecode caches aside)."""
    digest = hashlib.sha256()
    for folder in sorted(PARTS.values()):
        base = root / folder
        files = [base / "pyproject.toml", *(p for p in (base / "src").rglob("*") if p.is_file())]
        for path in sorted(f for f in files if "__pycache__" not in f.parts and f.suffix != ".pyc"):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_wheels(root: Path, cache: Path, say: Callable[[str], None] = lambda _: None) -> Path:
    """A folder with one wheel per part, built from `root` (or found in `cache` from an earlier build)."""
    target = cache / _digest(root)
    if all(any(target.glob(f"{name.replace('-', '_')}-*.whl")) for name in PARTS):
        return target
    say("building the platform's wheels from the checkout (once per platform version, about 10 s)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        command = [uv_executable(), "build", "--all-packages", "--wheel", "--quiet", "--out-dir", tmp]
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        try:
            done = subprocess.run(
                command, cwd=root, capture_output=True, text=True, env=env, check=False, timeout=BUILD_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise WheelBuildError(f"building the platform's wheels took over {BUILD_TIMEOUT_SECONDS}s") from None
        if done.returncode != 0:
            raise WheelBuildError(f"building the platform's wheels failed: {(done.stderr or done.stdout)[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        Path(tmp).rename(target)
        Path(tmp).mkdir()  # TemporaryDirectory removes what it made
    return target
