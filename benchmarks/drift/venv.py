"""Evidently needs pandas < 3, so it gets its own venv here, built by uv from the committed requirements.txt
(regenerate with `uv pip compile requirements.in -o requirements.txt --python 3.11`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"  # under the root .gitignore, and skipped by checkov and ruff like the main .venv


def evidently_python() -> str:
    python = VENV / "bin" / "python"
    stamp = VENV / ".synced"
    lock = HERE / "requirements.txt"
    if not stamp.exists() or stamp.read_text() != lock.read_text():
        if not python.exists():
            subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(VENV)], check=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), "-r", str(lock)], check=True)
        stamp.write_text(lock.read_text())
    return str(python)
