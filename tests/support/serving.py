"""Shared pieces for the serving tests: a small model registered on the local stack's MLflow, and a real
`mlops serve` process on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from tests.conftest import REPO_ROOT

FEATURES = ["f0", "f1", "f2", "f3", "count"]
API_KEY = "test-key-0123456789"  # pragma: allowlist secret
# MLflow 3.17 refuses to log sklearn tree models unless their node storage class is trusted explicitly (skops
# cannot prove its indices are in bounds). We trained these models ourselves in this process, so we trust it.
TRUSTED_TREE_TYPES = ["sklearn.tree._tree.Tree"]
# stated, not inferred: inferring them exports the whole uv project on every log_model, which takes many seconds
PIP_REQUIREMENTS = [f"mlflow=={version('mlflow')}", f"scikit-learn=={version('scikit-learn')}"]


def training_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.random((n, 4)), columns=FEATURES[:4])
    frame["count"] = rng.integers(0, 10, n).astype("int64")  # a `long` column in the signature
    return frame


def register_versions(name: str, n_versions: int, alias: str = "champion") -> list[str]:
    """Train `n_versions` small regressors with clearly different outputs, register them, point the alias at v1."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestRegressor

    frame = training_frame()
    target = frame["f0"] * 3 + frame["f1"] - frame["count"] * 0.1
    versions = []
    for i in range(n_versions):
        model = RandomForestRegressor(n_estimators=8, max_depth=6, random_state=i).fit(frame, target + 100 * i)
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                signature=infer_signature(frame, model.predict(frame)),
                skops_trusted_types=TRUSTED_TREE_TYPES,
                pip_requirements=PIP_REQUIREMENTS,
            )
        versions.append(str(info.registered_model_version))
    mlflow.MlflowClient().set_registered_model_alias(name, alias, versions[0])
    return versions


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log_path: Path
    workers: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180) -> None:
        """Ready once every worker has its model: ask until many answers in a row say so."""
        deadline, streak = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                ok = httpx.get(self.url + "/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            streak = streak + 1 if ok else 0
            if streak >= 6 * self.workers:
                return
            time.sleep(0.05 if ok else 0.3)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def start_server(
    model_uri: str | list[str], log_path: Path, workers: int = 1, env: dict[str, str] | None = None
) -> Server:
    """`mlops serve` on a free port; several URIs are given as one --model-uri each."""
    port = free_port()
    mlops = Path(sys.executable).parent / "mlops"
    base = {"MLOPS_SERVE_API_KEYS": API_KEY, "MLOPS_LOG_LEVEL": "INFO"}
    models = [arg for uri in ([model_uri] if isinstance(model_uri, str) else model_uri) for arg in ("--model-uri", uri)]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(mlops), "serve", *models, "--port", str(port), "--workers", str(workers)],
            env={**os.environ, **base, **(env or {})},
            cwd=REPO_ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return Server(proc, port, log_path, workers)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples called `name` whose labels include `labels` in Prometheus exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                total += sample.value
    return total


def register_classifiers(name: str, n_versions: int, alias: str = "champion") -> list[str]:
    """`n_versions` logistic-regression classifiers (labels "no"/"yes") on the same features; the alias -> v1."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    frame = training_frame()
    versions = []
    for i in range(n_versions):
        labels = np.where(frame["f0"] + 0.1 * i > 0.5, "yes", "no")
        model = LogisticRegression(C=1.0 + i).fit(frame, labels)
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                signature=infer_signature(frame, model.predict(frame)),
                pip_requirements=PIP_REQUIREMENTS,
            )
        versions.append(str(info.registered_model_version))
    mlflow.MlflowClient().set_registered_model_alias(name, alias, versions[0])
    return versions


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children (the server and its workers)."""
    import psutil

    parent = psutil.Process(pid)
    total = 0
    for proc in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total


class Prober:
    """While active, asks the server for a 1-row prediction and /health/live in a loop (bounded in count and time)
    and records each answer's status and latency: what "other requests are still answered" means in the tests."""

    def __init__(self, server: Server, body: dict, limit_seconds: float = 120):
        import threading

        self.server, self.body, self.limit = server, body, limit_seconds
        self.results: list[tuple[str, int, float]] = []  # (route, status or 0 for an error, seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        with httpx.Client(base_url=self.server.url, headers=auth(), timeout=10) as client:
            for _ in range(100_000):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                for route in ("/invocations", "/health/live"):
                    started = time.perf_counter()
                    try:
                        if route == "/invocations":
                            status = client.post(route, json=self.body).status_code
                        else:
                            status = client.get(route).status_code
                    except httpx.HTTPError:
                        status = 0
                    self.results.append((route, status, time.perf_counter() - started))
                time.sleep(0.02)

    def __enter__(self) -> Prober:
        self._thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def worst(self) -> float:
        return max((seconds for _, _, seconds in self.results), default=0.0)

    def failures(self) -> list[tuple[str, int, float]]:
        return [r for r in self.results if r[1] != 200]
