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

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mlops.wheels.build import PARTS as PARTS  # what a project depends on: every part (the `mlops` it runs)
from mlops.wheels.build import checkout

SERVING_BASE = "services/serving/k8s/base"
TERRAFORM_MODULES = "terraform/modules"


def platform_version() -> str:
    try:
        return version("mlops-core")
    except PackageNotFoundError:  # pragma: no cover - mlops-core is what runs this
        return "0.0.0"


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
