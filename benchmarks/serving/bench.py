"""`mlops serve` against its peers, side by side, on the same model, worker count and HTTP load:

- `mlflow models serve` (MLflow's scoring server), MLflow payloads on both (`/invocations`, dataframe_split JSON);
- MLServer 1.7 with its scikit-learn runtime and adaptive batching, Open Inference Protocol V2 on both
  (`/v2/models/NAME/infer`, one [rows, 20] FP64 tensor), in a venv of its own (`mlserver_peer.py`).

    .venv/bin/python benchmarks/serving/bench.py [--workers 2] [--duration 5] [--rounds 3] [--peers mlflow,mlserver]
    (or: make bench-serving)

Starts a local stack in a temporary directory, trains and registers a 50-tree random forest on 20 features, starts
the servers on loopback, checks that they return the same predictions, then drives each pair in turn with wrk for
single-row requests at 16 and 64 connections and 100-row requests at 16 connections, and prints throughput,
p50/p99 latency and errors with the ratios and the targets from the serving issues.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

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
# per peer: the protocol both sides speak, and the targets (throughput ratio, p99 ratio) for single rows and 100 rows
PEERS = {
    "mlflow": ("mlflow models serve", "MLflow JSON", (10, 0.2), 2),
    "mlserver": ("MLServer", "V2", (2, 0.5), 1),
}
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


def train_and_register() -> tuple[pd.DataFrame, object]:
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
    return frame, model


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


def _bodies(frame: pd.DataFrame, work: Path) -> dict[tuple[str, int], Path]:
    """The request bodies, per protocol and row count: the same rows in MLflow's dataframe_split and in V2."""
    bodies = {}
    for n in (1, 100):
        sample = frame.sample(n, random_state=n)
        split = {"dataframe_split": json.loads(sample.to_json(orient="split", index=False))}
        tensor = {"inputs": [{"name": "input-0", "shape": [n, sample.shape[1]], "datatype": "FP64",
                              "data": sample.to_numpy().ravel().tolist()}]}  # fmt: skip
        for protocol, body in (("MLflow JSON", split), ("V2", tensor)):
            bodies[(protocol, n)] = work / f"body-{protocol.replace(' ', '')}-{n}.json"
            bodies[(protocol, n)].write_text(json.dumps(body))
    return bodies


def _answer(url: str, body: Path, auth: str) -> list:
    headers = {"Content-Type": "application/json", "Authorization": auth}
    answer = httpx.post(url, content=body.read_bytes(), headers=headers, timeout=30).json()
    return answer["predictions"] if "predictions" in answer else answer["outputs"][0]["data"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes for every server")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per scenario and server (median)")
    parser.add_argument("--peers", default="mlflow,mlserver", help="comma-separated: mlflow, mlserver")
    args = parser.parse_args()
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run `make system-deps`")
    if unknown := set(peers) - set(PEERS):
        raise SystemExit(f"unknown peer(s) {sorted(unknown)}; choose from {sorted(PEERS)}")

    from benchmarks.serving import mlserver_peer
    from mlops.core.settings import get_settings
    from mlops.devstack.stack import LocalStack

    if "mlserver" in peers:
        print("MLServer venv: " + str(mlserver_peer.mlserver_python()), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    stack = LocalStack(get_settings(state_dir=work / "stack"))
    procs: list[subprocess.Popen] = []
    try:
        endpoints, _ = stack.up()
        os.environ.update(endpoints)
        frame, model = train_and_register()
        uri = f"models:/{MODEL}@champion"
        mlops_port = free_port()
        mlops_log = work / "mlops-serve.log"
        mlops_argv = [str(BIN / "mlops"), "serve", "--model-uri", uri, "--port", str(mlops_port),
                      "--workers", str(args.workers)]  # fmt: skip
        procs.append(start(mlops_argv, mlops_log, {"MLOPS_SERVE_API_KEYS": API_KEY}))
        ours = f"http://127.0.0.1:{mlops_port}"
        urls = {"MLflow JSON": ours + "/invocations", "V2": f"{ours}/v2/models/{MODEL}/infer"}
        servers: dict[str, tuple[str, str, str]] = {}  # label -> (url, authorization, protocol)
        for peer in peers:
            label, protocol = PEERS[peer][0], PEERS[peer][1]
            if peer == "mlflow":
                port, log = free_port(), work / "mlflow-serve.log"
                # `mlflow models serve` runs `uvicorn` from PATH: make it the one in this venv
                path_env = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
                procs.append(
                    start(
                        [
                            str(BIN / "mlflow"),
                            "models",
                            "serve",
                            "-m",
                            uri,
                            "--env-manager",
                            "local",
                            "-h",
                            "127.0.0.1",
                            "-p",
                            str(port),
                            "-w",
                            str(args.workers),
                        ],
                        log,
                        path_env,
                    )
                )
                wait_ready(f"http://127.0.0.1:{port}/ping", procs[-1], args.workers, log)  # fmt: skip
                servers[label] = (f"http://127.0.0.1:{port}/invocations", "none", protocol)
            else:
                port, log = free_port(), work / "mlserver.log"
                repository = mlserver_peer.model_repository(model, MODEL, work)
                argv = mlserver_peer.argv(repository, port, free_port(), free_port(), args.workers)
                procs.append(start(argv, log, {}))
                wait_ready(f"http://127.0.0.1:{port}/v2/models/{MODEL}/ready", procs[-1], args.workers, log)
                servers[label] = (f"http://127.0.0.1:{port}/v2/models/{MODEL}/infer", "none", protocol)
        wait_ready(ours + "/health/ready", procs[0], args.workers, mlops_log)

        bodies = _bodies(frame, work)
        for label, (url, auth, protocol) in servers.items():
            for n in (1, 100):
                theirs = _answer(url, bodies[(protocol, n)], auth)
                mine = _answer(urls[protocol], bodies[(protocol, n)], f"Bearer {API_KEY}")
                if theirs != mine:
                    raise SystemExit(f"{label} and mlops serve differ on the {n}-row {protocol} request")
        print(f"predictions identical on 1-row and 100-row requests; {args.workers} worker(s) each", flush=True)

        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)
        results = {}
        for label, (url, auth, protocol) in servers.items():
            pair = {label: (url, auth), f"mlops serve ({protocol})": (urls[protocol], f"Bearer {API_KEY}")}
            for scenario, n, conns in SCENARIOS:
                runs: dict[str, list[dict]] = {name: [] for name in pair}
                # alternate short runs and keep the median, so a burst of load from elsewhere on the machine does
                # not land on one server only
                for _ in range(args.rounds):
                    for name, (target, authorization) in pair.items():
                        wrk(target, bodies[(protocol, n)], conns, 1, script, authorization)  # warm-up, not recorded
                        runs[name].append(wrk(target, bodies[(protocol, n)], conns, args.duration, script,
                                              authorization))  # fmt: skip
                for name in pair:
                    results[(label, scenario, name)] = r = _median(runs[name])
                    print(f"  {protocol:11} {scenario:20} {name:24} {r['rps']:8.0f} req/s  p50 "
                          f"{r['p50_us'] / 1e3:7.1f} ms  p99 {r['p99_us'] / 1e3:7.1f} ms  "
                          f"errors {r['errors'] + r['non2xx']}", flush=True)  # fmt: skip
        report(results, servers, args.workers)
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


def report(results: dict, servers: dict, workers: int) -> None:
    print(f"\n| peer, protocol | scenario ({workers} workers each, median of rounds) | server | req/s | p50 ms "
          "| p99 ms | errors |")  # fmt: skip
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    verdicts = []
    targets = {label: (target, rows_target) for label, _, target, rows_target in PEERS.values()}
    for label, (_, _, protocol) in servers.items():
        ours_name = f"mlops serve ({protocol})"
        (min_speedup, max_p99), rows_target = targets[label]
        for scenario, n, _ in SCENARIOS:
            ours, theirs = results[(label, scenario, ours_name)], results[(label, scenario, label)]
            for name, r in ((label, theirs), ("mlops serve", ours)):
                print(f"| {label}, {protocol} | {scenario} | {name} | {r['rps']:.0f} | {r['p50_us'] / 1e3:.1f} | "
                      f"{r['p99_us'] / 1e3:.1f} | {r['errors'] + r['non2xx']} |")  # fmt: skip
            speedup = ours["rps"] / theirs["rps"]
            p99_ratio = ours["p99_us"] / theirs["p99_us"]
            print(f"| {label}, {protocol} | {scenario} | **ratio** | **{speedup:.1f}x** | "
                  f"{ours['p50_us'] / theirs['p50_us']:.2f} | {p99_ratio:.2f} | |")  # fmt: skip
            met = (speedup >= min_speedup and p99_ratio <= max_p99) if n == 1 else speedup >= rows_target
            goal = f">= {min_speedup}x throughput, p99 <= {max_p99}" if n == 1 else f">= {rows_target}x throughput"
            verdicts.append((f"{label} {scenario}: {goal}, zero errors", met and ours["errors"] + ours["non2xx"] == 0))
    print()
    for text, ok in verdicts:
        print(f"{'MET ' if ok else 'MISSED'}  {text}")


if __name__ == "__main__":
    main()
