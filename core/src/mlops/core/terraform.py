"""Running Terraform the one way: `mlops infra`, the deploy targets and the tests all come through `Terraform`.

On machines without registry access the AWS provider comes from a filesystem mirror named in
terraform/offline.tfrc; `terraform_env()` fails with a clear message when Terraform or the mirror is missing.
An env applied with `mlops infra ... --local` keeps its data directory under the state dir, so local and AWS runs
never share state; `for_env()` finds it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlops.core.errors import MlopsError
from mlops.core.paths import ENVS_DIR, REPO_ROOT, TERRAFORM_DIR
from mlops.core.settings import Settings

CLI_CONFIG = TERRAFORM_DIR / "offline.tfrc"
OVERRIDE_FILE = "endpoints_override.tf"  # gitignored; written only for --local runs
PROVIDER = "registry.terraform.io/hashicorp/aws"


class TerraformUnavailable(MlopsError):
    """Terraform or its provider mirror is missing; the message says which and how to fix it."""


class TerraformFailed(MlopsError):
    """A terraform command exited non-zero; its own output says why."""


def mirror_path(cli_config: Path = CLI_CONFIG) -> Path:
    match = re.search(r'filesystem_mirror\s*{\s*path\s*=\s*"([^"]+)"', cli_config.read_text())
    if not match:
        raise TerraformUnavailable(f"{cli_config} names no filesystem_mirror path")
    return Path(match.group(1))


def terraform_env(cli_config: Path = CLI_CONFIG) -> dict[str, str]:
    """Environment for a terraform subprocess: the offline CLI config when its mirror exists.

    With `MLOPS_TF_ONLINE=1` the registry is used instead (machines that can reach it).
    """
    if not shutil.which("terraform"):
        raise TerraformUnavailable(
            "terraform is not on PATH: install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)"
        )
    env = dict(os.environ)
    if env.get("MLOPS_TF_ONLINE") == "1":
        return env
    mirror = mirror_path(cli_config)
    if not (mirror / PROVIDER).is_dir():
        raise TerraformUnavailable(
            f"the Terraform provider mirror {mirror / PROVIDER} is missing: put the hashicorp/aws ~> 5.100 "
            f"provider there (terraform providers mirror {mirror}), edit {cli_config}, "
            "or set MLOPS_TF_ONLINE=1 to use the registry"
        )
    env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    env.setdefault("TF_IN_AUTOMATION", "1")
    return env


def env_names() -> list[str]:
    """The environments: every folder under terraform/envs with a main.tf."""
    return sorted(p.name for p in ENVS_DIR.iterdir() if (p / "main.tf").is_file())


def local_data_dir(settings: Settings, config_name: str) -> Path:
    """Where `--local` runs keep a configuration's Terraform data directory (state for the local stack)."""
    return settings.state_dir.resolve() / "terraform" / config_name


class Terraform:
    """One configuration directory, with its own data directory (so local and AWS runs never share state)."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, data_dir: Path | None = None):
        self.workdir = workdir
        self.env = dict(env if env is not None else terraform_env())
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.env["TF_DATA_DIR"] = str(data_dir)

    @classmethod
    def for_env(cls, env_name: str, settings: Settings, workdir: Path | None = None) -> Terraform:
        """The env as it was last initialised: on the local stack when its endpoints override exists."""
        workdir = workdir or ENVS_DIR / env_name
        local = (workdir / OVERRIDE_FILE).exists()
        return cls(workdir, data_dir=local_data_dir(settings, workdir.name) if local else None)

    def run(
        self, *args: str, capture: bool = False, ok_codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform -chdir=<workdir> ARGS`; output goes to the console unless captured."""
        color = [] if sys.stdout.isatty() else ["-no-color"]  # escape codes only where a terminal shows them
        command = ["terraform", f"-chdir={self.workdir}", args[0], *color, *args[1:]]
        result = subprocess.run(command, env=self.env, text=True, capture_output=capture, check=False)
        if result.returncode not in ok_codes:
            detail = f":\n{result.stderr.strip()}" if capture and result.stderr else " (its output is above)"
            where = self.workdir.relative_to(REPO_ROOT) if self.workdir.is_relative_to(REPO_ROOT) else self.workdir
            raise TerraformFailed(f"terraform {args[0]} in {where} failed with exit code {result.returncode}{detail}")
        return result

    def init(self, *backend_config: str) -> None:
        flags = [f"-backend-config={item}" for item in backend_config]
        self.run("init", "-input=false", "-reconfigure", *flags, capture=True)

    def outputs(self) -> dict[str, Any]:
        """Every output's value (an empty dict before the first apply)."""
        result = self.run("output", "-json", capture=True)
        return {name: item["value"] for name, item in json.loads(result.stdout or "{}").items()}

    def output(self, name: str) -> Any:
        """One output's value; TerraformFailed naming it when the configuration has not produced it."""
        found = self.outputs()
        if name not in found:
            raise TerraformFailed(
                f"terraform output {name} is missing in {self.workdir}: apply the configuration first"
            )
        return found[name]
