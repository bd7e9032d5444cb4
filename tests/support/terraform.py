"""terraform/ as the tests see it: its modules and envs, which modules a configuration calls, and running a real
`terraform init` + command in a configuration with its data directory kept out of the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mlops.core.terraform import TERRAFORM_DIR, terraform_env

MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TERRAFORM_DIR / "envs").iterdir() if p.is_dir())
BOOTSTRAP = TERRAFORM_DIR / "bootstrap"


def tf_text(config: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(config.glob("*.tf")))


def eks_version() -> str:
    """The Kubernetes version the platform's EKS cluster runs (modules/platform, variable eks_version), as
    kubernetes-validate takes it: the Job and the overlays are validated against the schemas of that version."""
    variables = (TERRAFORM_DIR / "modules" / "platform" / "variables.tf").read_text()
    (version,) = re.findall(r'variable "eks_version" \{[^}]*?default\s*=\s*"(1\.\d+)"', variables)
    return f"{version}.0"


def called_modules(config: Path, seen: set[Path] | None = None) -> set[Path]:
    """The local modules `config` calls, directly or through other modules."""
    seen = set() if seen is None else seen
    for source in re.findall(r'^\s*source\s*=\s*"(\.\.?/[^"]+)"', tf_text(config), re.M):
        module = (config / source).resolve()
        if module not in seen:
            seen.add(module)
            called_modules(module, seen)
    return seen


def init_and_run(config: Path, data_dir: Path, *command: str) -> tuple[int, str]:
    """`terraform init -backend=false` then `terraform COMMAND` in `config`, the provider from the offline mirror;
    (exit code of the first failing step or 0, all output)."""
    env = {**terraform_env(), "TF_DATA_DIR": str(data_dir)}
    out = ""
    for args in (["init", "-backend=false", "-input=false", "-no-color"], [*command, "-no-color"]):
        result = subprocess.run(["terraform", f"-chdir={config}", *args], env=env, capture_output=True, text=True)
        out += result.stdout + result.stderr
        if result.returncode:
            return result.returncode, out
    return 0, out
