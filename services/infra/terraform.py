"""Running Terraform the same way everywhere: the Makefile, `mlops infra` and the tests come through here.

On machines without registry access the AWS provider comes from a filesystem mirror named in
terraform/offline.tfrc; `terraform_env()` fails with a clear message when Terraform or the mirror is missing.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_CONFIG = REPO_ROOT / "terraform" / "offline.tfrc"
PROVIDER = "registry.terraform.io/hashicorp/aws"


class TerraformUnavailable(RuntimeError):
    """Terraform or its provider mirror is missing; the message says which and how to fix it."""


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
