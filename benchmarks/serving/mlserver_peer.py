"""MLServer (Seldon) as a serving peer: its own venv, built by uv from the committed `mlserver/requirements.txt`
(regenerate with `uv pip compile requirements.in -o requirements.txt --python 3.11` in that folder), the same fitted
model saved with joblib for its scikit-learn runtime, adaptive batching on, and as many inference workers as
`mlops serve` has worker processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent / "mlserver"
VENV = HERE / ".venv"  # under the root .gitignore, and skipped by checkov and ruff like the main .venv


def mlserver_python() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".synced"
    lock = HERE / "requirements.txt"
    if not stamp.exists() or stamp.read_text() != lock.read_text():
        if not python.exists():
            subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(VENV)], check=True, timeout=600)
        subprocess.run(["uv", "pip", "install", "-q", "--python", str(python), "-r", str(lock)], check=True,
                       timeout=1200)  # fmt: skip
        stamp.write_text(lock.read_text())
    return python


def model_repository(model, name: str, workdir: Path, max_batch_size: int = 64, max_batch_ms: float = 5) -> Path:
    """A one-model MLServer repository: the estimator as joblib and its model-settings.json (adaptive batching:
    requests wait at most `max_batch_ms` for up to `max_batch_size` others, like `mlops serve`'s MAX_WAIT_MS)."""
    import joblib

    folder = workdir / "mlserver-models" / name
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "max_batch_size": max_batch_size,
        "max_batch_time": max_batch_ms / 1000,
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (folder / "model-settings.json").write_text(json.dumps(settings))
    return folder.parent


def argv(repository: Path, http_port: int, grpc_port: int, metrics_port: int, workers: int) -> list[str]:
    """`mlserver start` with its ports on loopback and `workers` inference processes."""
    settings = {
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "parallel_workers": workers,
        "debug": False,
    }
    (repository / "settings.json").write_text(json.dumps(settings))
    return [str(VENV / "bin" / "mlserver"), "start", str(repository)]
