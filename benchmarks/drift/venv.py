"""The peers get their own venvs, built by uv from committed requirement files: Evidently needs pandas < 3
(`requirements.txt`, venv `.venv`), NannyML 0.13.1 pins its own stack and imports statsmodels without declaring
it (`requirements-nannyml.txt`, venv `nannyml/.venv`: a `.venv` folder, which ruff and checkov skip). Regenerate a
file with `uv pip compile requirements.in -o requirements.txt --python 3.11` (or the -nannyml pair)."""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _python(venv: Path, lock: Path) -> str:
    python = venv / "bin" / "python"
    stamp = venv / ".synced"
    if not stamp.exists() or stamp.read_text() != lock.read_text():
        if not python.exists():
            subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(venv)], check=True)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), "-r", str(lock)], check=True)
        stamp.write_text(lock.read_text())
    return str(python)


def evidently_python() -> str:
    return _python(HERE / ".venv", HERE / "requirements.txt")  # under the root .gitignore, skipped by ruff


def nannyml_python() -> str:
    return _python(HERE / "nannyml" / ".venv", HERE / "requirements-nannyml.txt")
