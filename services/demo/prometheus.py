"""`mlops demo --prometheus`: a real Prometheus (Debian's package) scraping the demo's server, queried once."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

QUERY = "sum by (status) (mlops_serving_requests_total)"


class PrometheusError(RuntimeError):
    pass


def scrape_and_query(serve_url: str, api_key: str, workdir: Path, timeout: float = 60) -> dict:
    binary = shutil.which("prometheus")
    if not binary:
        raise PrometheusError("prometheus is not installed: run `make system-deps` (Debian package prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    target = urlparse(serve_url).netloc
    (workdir / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        f"  - job_name: mlops-serve\n    static_configs:\n      - targets: ['{target}']\n"
        # /metrics is behind the API key like every non-health route
        f"    authorization:\n      type: Bearer\n      credentials_file: {workdir / 'api-key'}\n"
    )
    key_file = workdir / "api-key"
    key_file.write_text(api_key)
    key_file.chmod(0o600)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (workdir / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": QUERY}, timeout=5)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 200:  # 503 with a text body while it starts
                result = answer.json()["data"]["result"]
                if result:
                    series = {r["metric"].get("status", "?"): float(r["value"][1]) for r in result}
                    return {"query": QUERY, "result": series}
            time.sleep(1)
        raise PrometheusError(f"Prometheus returned nothing for {QUERY} within {timeout:.0f}s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
