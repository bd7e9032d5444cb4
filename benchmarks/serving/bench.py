"""`mlops serve` against `mlflow models serve`, side by side, on the same model, worker count and HTTP load.

    .venv/bin/python benchmarks/serving/bench.py [--workers 2] [--duration 5] [--rounds 3]   (or: make bench-serving)

Starts a local stack in a temporary directory, trains and registers a 50-tree random forest on 20 features, starts
both servers on loopback, checks that they return the same predictions, then drives each in turn with wrk for
single-row requests at 16 and 64 connections and 100-row requests at 16 connections, and prints throughput,
p50/p99 latency and errors with the ratios and the targets from the serving issue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
MODEL = "bench-serving-rf"
API_KEY = "bench-key-not-secret"  # pragma: allowlist secret
# MLflow 3.17 refuses to log sklearn tree models unless the tree node class is trusted explicitly; this model is
# trained right here, so it is trusted deliberately.
TRUSTED_TREE_TYPES = ["sklearn.tree._tree.Tree"]
# stated, not inferred: inferring them exports the whole uv project on every log_model, which takes many seconds
PIP_REQUIREMENTS = [f"mlflow=={version('mlflow')}", f"scikit-learn=={version('scikit-learn')}"]
SCENARIOS = [("1 row, 16 conns", 1, 16), ("1 row, 64 conns", 1, 64), ("100 rows, 16 conns", 100, 16)]
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
local f = io.open(os.getenv("BENCH_BODY"), "r")
wrk.body = f:read("*a")
f:close()
done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "non2xx": %d}\\n',
    s.requests, s.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_and_register() -> pd.DataFrame:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(5000, 20)), columns=[f"x{i}" for i in range(20)])
    target = (frame["x0"] + frame["x1"] * frame["x2"] - frame["x3"] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(frame, target)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=MODEL,
            signature=infer_signature(frame, model.predict(frame)),
            skops_trusted_types=TRUSTED_TREE_TYPES,
            pip_requirements=PIP_REQUIREMENTS,
        )
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", info.registered_model_version)
    return frame


def start(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=out, env={**os.environ, **env}, start_new_session=True)


def wait_ready(url: str, proc: subprocess.Popen, workers: int, log: Path, timeout: float = 300) -> None:
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log}")
        try:
            streak = streak + 1 if httpx.get(url, timeout=2).status_code == 200 else 0
        except httpx.HTTPError:
            streak = 0
        if streak >= 8 * workers:
            return
        time.sleep(0.05 if streak else 0.5)
    raise SystemExit(f"{url} not ready after {timeout}s; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wrk(url: str, body: Path, connections: int, duration: int, script: Path, auth: str) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url]
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_AUTH": auth}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 60, check=True).stdout
    stats = json.loads(next(line for line in out.splitlines() if line.startswith("WRKJSON"))[8:])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes for both servers")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per scenario and server (median)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run `make system-deps`")

    from mlops.core.settings import get_settings
    from mlops.devstack.stack import LocalStack

    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    stack = LocalStack(get_settings(state_dir=work / "stack"))
    procs: list[subprocess.Popen] = []
    try:
        endpoints, _ = stack.up()
        os.environ.update(endpoints)
        frame = train_and_register()
        uri = f"models:/{MODEL}@champion"
        mlflow_port, mlops_port = free_port(), free_port()
        # `mlflow models serve` runs `uvicorn` from PATH: make it the one in this venv
        path_env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        mlflow_log, mlops_log = work / "mlflow-serve.log", work / "mlops-serve.log"
        mlflow_argv = [str(BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
                       "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", str(args.workers)]  # fmt: skip
        mlops_argv = [str(BIN / "mlops"), "serve", "--model-uri", uri, "--port", str(mlops_port),
                      "--workers", str(args.workers)]  # fmt: skip
        procs.append(start(mlflow_argv, mlflow_log, path_env))
        procs.append(start(mlops_argv, mlops_log, {"MLOPS_SERVE_API_KEYS": API_KEY}))
        servers = {
            "mlflow models serve": (f"http://127.0.0.1:{mlflow_port}", "none"),
            "mlops serve": (f"http://127.0.0.1:{mlops_port}", f"Bearer {API_KEY}"),
        }
        wait_ready(servers["mlflow models serve"][0] + "/ping", procs[0], args.workers, mlflow_log)
        wait_ready(servers["mlops serve"][0] + "/health/ready", procs[1], args.workers, mlops_log)

        bodies = {}
        for n in (1, 100):
            sample = frame.sample(n, random_state=n)
            bodies[n] = work / f"body-{n}.json"
            bodies[n].write_text(
                json.dumps({"dataframe_split": json.loads(sample.to_json(orient="split", index=False))})
            )
        for n, path in bodies.items():
            answers = [
                httpx.post(url + "/invocations", content=path.read_bytes(),
                           headers={"Content-Type": "application/json", "Authorization": auth}, timeout=30).json()
                for url, auth in servers.values()
            ]  # fmt: skip
            if answers[0] != answers[1]:
                raise SystemExit(f"predictions differ on the {n}-row request: {answers}")
        print(f"predictions identical on 1-row and 100-row requests; {args.workers} worker(s) each", flush=True)

        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)
        results = {}
        for label, n, conns in SCENARIOS:
            runs = {name: [] for name in servers}
            # alternate short runs and keep the median, so a burst of load from elsewhere on the machine does not
            # land on one server only
            for _ in range(args.rounds):
                for name, (url, auth) in servers.items():
                    wrk(url + "/invocations", bodies[n], conns, 1, script, auth)  # warm-up, not recorded
                    runs[name].append(wrk(url + "/invocations", bodies[n], conns, args.duration, script, auth))
            for name in servers:
                results[(label, name)] = r = _median(runs[name])
                print(f"  {label:20} {name:20} {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1e3:7.1f} ms  "
                      f"p99 {r['p99_us'] / 1e3:7.1f} ms  errors {r['errors'] + r['non2xx']}", flush=True)  # fmt: skip
        report(results, args.workers)
        shutil.rmtree(work, ignore_errors=True)
    finally:
        for proc in procs:
            stop(proc)
        stack.down()


def _median(runs: list[dict]) -> dict:
    """Per-figure median over the rounds; errors are summed (any error counts)."""
    out = {key: statistics.median(r[key] for r in runs) for key in ("rps", "p50_us", "p99_us")}
    out["errors"] = sum(r["errors"] for r in runs)
    out["non2xx"] = sum(r["non2xx"] for r in runs)
    return out


def report(results: dict, workers: int) -> None:
    print(f"\n| scenario ({workers} workers each, median of rounds) | server | req/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    verdicts = []
    for label, n, _ in SCENARIOS:
        ours, theirs = results[(label, "mlops serve")], results[(label, "mlflow models serve")]
        for name, r in (("mlflow models serve", theirs), ("mlops serve", ours)):
            print(f"| {label} | {name} | {r['rps']:.0f} | {r['p50_us'] / 1e3:.1f} | {r['p99_us'] / 1e3:.1f} | "
                  f"{r['errors'] + r['non2xx']} |")  # fmt: skip
        speedup = ours["rps"] / theirs["rps"]
        p99_ratio = ours["p99_us"] / theirs["p99_us"]
        print(f"| {label} | **ratio** | **{speedup:.1f}x** | {ours['p50_us'] / theirs['p50_us']:.2f} | "
              f"{p99_ratio:.2f} | |")  # fmt: skip
        target = (speedup >= 10 and p99_ratio <= 0.2) if n == 1 else speedup >= 2
        verdicts.append((label, target and ours["errors"] + ours["non2xx"] == 0))
    print()
    for label, ok in verdicts:
        goal = ">= 10x throughput, p99 <= 1/5" if label.startswith("1 row") else ">= 2x throughput"
        print(f"{'MET ' if ok else 'MISSED'}  {label}: {goal}, zero errors")


if __name__ == "__main__":
    main()
