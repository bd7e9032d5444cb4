"""One measurement each, in a fresh process: an import, a command to its exit, `mlops serve` to ready."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

COMMAND_TIMEOUT = 120
READY_TIMEOUT = 180  # the model load plus the imports, on a loaded machine


def part_env(bin_dir: Path, state_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment: none of the caller's stack endpoints, MLflow or AWS settings leak into a part."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TERM")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(PATH=f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", MLOPS_STATE_DIR=str(state_dir), **extra)
    return env


def wall_seconds(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Process start to exit; the command must succeed."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed


def import_seconds(python: Path, modules: tuple[str, ...], env: dict[str, str], cwd: Path) -> float:
    """Wall time of a fresh `python -c "import a, b"` (the interpreter's own start included, same for all)."""
    return wall_seconds([str(python), "-c", f"import {', '.join(modules)}"], env, cwd)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as resp:  # noqa: S310
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):  # refused while starting, 503 while loading
        return False


def serve_ready_seconds(mlops: Path, model_dir: Path, env: dict[str, str], cwd: Path) -> float:
    """`mlops serve` (1 worker, auth off) from process start until /health/ready answers 200."""
    port = free_port()
    cmd = [str(mlops), "serve", "--model-uri", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while not _ready(port):
                if proc.poll() is not None:
                    raise RuntimeError(f"mlops serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
                if time.perf_counter() - started > READY_TIMEOUT:
                    raise RuntimeError(f"mlops serve not ready after {READY_TIMEOUT} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.02)
            return time.perf_counter() - started
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (started above with a new session), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
