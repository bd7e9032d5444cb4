"""Where a generated model project installs the platform from, decided at generation (answer `platform_source`):

- `wheels` (the default): wheels of the platform's parts, built from this checkout by `mlops new-model` and
  committed in the project's `wheels/`; nothing else is needed on any machine (no Git host, no package index);
- `path`: this checkout itself, editable (a platform developer's machine only);
- `git`: a Git URL and tag (`platform_url`, `platform_version`), e.g. the team's fork;
- `index`: a package index URL and the version published there.

The project's uv.lock pins whichever it is, with hashes. The wheels are built once per content of the platform's
parts and kept in the state dir (`<state dir>/wheels/<digest>/`), so a second project costs no build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mlops.core.paths import REPO_ROOT
from mlops.scaffold.render import GeneratorError

# the distributions a model project's make targets need (the `mlops` command with every subcommand it runs), and
# where each lives in the checkout
PARTS = {
    "mlops-core": "core",
    "mlops-drift": "services/drift",
    "mlops-serving": "services/serving",
    "mlops-pipelines": "pipelines",
    "mlops-retraining": "services/retraining",
    "mlops-tools": "tools",
}
SERVING_BASE = "services/serving/k8s/base"
TERRAFORM_MODULES = "terraform/modules"


def platform_version() -> str:
    try:
        return version("mlops-core")
    except PackageNotFoundError:  # pragma: no cover - mlops-core is what runs this
        return "0.0.0"


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
        raise GeneratorError("uv is not installed: run `make setup` in the platform checkout, or pip install uv")
    return found


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
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise GeneratorError(f"building the platform's wheels failed: {(done.stderr or done.stdout)[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        Path(tmp).rename(target)
        Path(tmp).mkdir()  # TemporaryDirectory removes what it made
    return target


def derived_answers(known: list[str], given: dict[str, str], project_dir: Path) -> dict[str, str]:
    """Defaults only this machine knows, for the answers the template asks and the user did not give: the platform
    version, and for a local source (wheels, path) the checkout's Terraform modules and serving base."""
    out: dict[str, str] = {}
    source = given.get("platform_source", "wheels")
    root = checkout()
    if "platform_version" in known and source in ("wheels", "path"):
        out["platform_version"] = platform_version()
    if source == "path" and root is not None:
        out["platform_url"] = str(root)
    if source in ("wheels", "path", "index") and root is not None:
        out["terraform_modules_source"] = str(root / TERRAFORM_MODULES)
        base = project_dir / "deploy" / "k8s" / "base"  # kustomize takes a relative path to a local base
        out["kustomize_base"] = os.path.relpath(root / SERVING_BASE, base.resolve())
    return {key: value for key, value in out.items() if key in known and key not in given}
