"""The serving host's systemd unit and the user data that installs it (the EC2 / Auto Scaling group path)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from mlops.core.paths import REPO_ROOT, TERRAFORM_DIR

SERVE_UNIT = REPO_ROOT / "services" / "serving" / "systemd" / "mlops-serve.service"
USER_DATA = TERRAFORM_DIR / "modules" / "serving-asg" / "templates" / "user-data.sh.tftpl"


def directive(unit_text: str, name: str) -> str:
    """The value of the one `NAME=` line of a unit file."""
    (value,) = re.findall(rf"^{name}=(.*)$", unit_text, flags=re.MULTILINE)
    return value.strip()


def exec_start(unit_text: str) -> list[str]:
    return shlex.split(directive(unit_text, "ExecStart"))


def installed_venv() -> Path:
    """The venv the user data creates on the host (`python -m venv DIR`)."""
    (venv,) = re.findall(r"-m venv (\S+)", USER_DATA.read_text())
    return Path(venv)
