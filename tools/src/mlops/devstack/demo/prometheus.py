"""A real Prometheus (Debian's package) on loopback, configured from the central monitoring/prometheus.

`render_config` writes the central prometheus.yml with the given targets (jobs without one are left out) and the
repo's rule files; `LocalPrometheus` runs it. `mlops demo --prometheus` uses both through `scrape_and_query`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from mlops.core.paths import PROMETHEUS_DIR

QUERY = "sum by (status) (mlops_serving_requests_total)"


class PrometheusError(RuntimeError):
    pass


def render_config(workdir: Path, targets: dict[str, list[str]], api_key: str | None = None,
                  interval: str = "1s") -> Path:  # fmt: skip
    """The central config with these targets per job; the serving key goes to a 0600 file, never into the YAML."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    known = {job["job_name"] for job in config["scrape_configs"]}
    if set(targets) - known:
        raise PrometheusError(f"no such scrape job {sorted(set(targets) - known)}; known: {sorted(known)}")
    workdir.mkdir(parents=True, exist_ok=True)
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    config["rule_files"] = [str(PROMETHEUS_DIR / path) for path in config["rule_files"]]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in targets:
            continue
        job["static_configs"] = [{"targets": list(targets[job["job_name"]])}]
        auth = job.get("authorization")
        if auth:
            if not api_key:
                raise PrometheusError(f"job {job['job_name']} scrapes with an API key: give api_key")
            key_file = workdir / Path(auth["credentials_file"]).name
            key_file.write_text(api_key)
            key_file.chmod(0o600)
            auth["credentials_file"] = str(key_file)
        jobs.append(job)
    config["scrape_configs"] = jobs
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class LocalPrometheus:
    """`with LocalPrometheus(config, workdir) as prom:` a Prometheus on a free loopback port, stopped on exit."""

    def __init__(self, config: Path, workdir: Path, start_timeout: float = 60):
        binary = shutil.which("prometheus")
        if not binary:
            raise PrometheusError("prometheus is not installed: run `make system-deps` (Debian package prometheus)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        self._args = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                      f"--web.listen-address=127.0.0.1:{self.port}"]  # fmt: skip
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LocalPrometheus:
        with self.log_path.open("w") as log:
            self._proc = subprocess.Popen(self._args, stdout=log, stderr=log)
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self._proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.__exit__(None, None, None)
        raise PrometheusError(f"prometheus not ready within {self._start_timeout:.0f}s: {self.log_tail()}")

    def __exit__(self, *exc) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)

    def log_tail(self, size: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def api(self, path: str, **params) -> dict:
        """GET /api/v1/<path>; an answer that is not `success` raises with Prometheus' own error text."""
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10).json()
        if answer.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def wait_for(self, expr: str, timeout: float = 60) -> list[dict]:
        """The first non-empty result of `expr` (scrapes and rule evaluations take a few intervals to land)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise PrometheusError(f"Prometheus returned nothing for {expr} within {timeout:.0f}s")


def scrape_and_query(serve_url: str, api_key: str, workdir: Path, timeout: float = 60) -> dict:
    """`mlops demo --prometheus`: scrape the demo's server with the central config and query it once."""
    target = httpx.URL(serve_url)
    config = render_config(workdir, {"mlops-serve": [f"{target.host}:{target.port}"]}, api_key)
    with LocalPrometheus(config, workdir, start_timeout=timeout) as prom:
        result = prom.wait_for(QUERY, timeout)
        return {"query": QUERY, "result": {r["metric"].get("status", "?"): float(r["value"][1]) for r in result}}
