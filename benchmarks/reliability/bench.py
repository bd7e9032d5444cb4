"""Reliability of `mlops serve` and the registry tooling, in one command and one table:

- soak: wrk at 64 connections for 10 minutes on loopback, the champion alias moved every minute (a hot reload);
  requests, errors, p99 and the slope of the server's resident memory;
- fuzz: schemathesis on the server's own OpenAPI document (positive and negative cases per operation), plus
  Hypothesis payloads aimed at the parsers (any JSON in each MLflow layout, V2 tensors with any shape, CSV text,
  bytes under any content type); cases, 4xx, 5xx and hangs (no answer within 10 s);
- faults, each under steady load: the MLflow server killed (SIGKILL) and restarted, the moto server (S3) killed and
  restarted, one serving worker killed with -9, and `mlops promote` killed at each of its steps; requests failed,
  time to recover and whether the audit records agree with the aliases afterwards.

    .venv/bin/python benchmarks/reliability/bench.py [--soak-minutes 10] [--connections 64] [--fuzz-examples 40]
                                                     [--only soak,fuzz,faults]

Everything runs on a local stack in a temporary directory, on loopback only; every loop is bounded in count and
time, and everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.serving.bench import WRK_SCRIPT, free_port, start, stop, wait_ready, wrk  # noqa: E402

BIN = Path(sys.executable).parent
MODEL = "bench-reliability"
API_KEY = "bench-reliability-key-not-secret"  # pragma: allowlist secret
AUTH = {"Authorization": f"Bearer {API_KEY}"}
FEATURES = [f"x{i}" for i in range(8)]


@dataclass
class Row:
    what: str
    figures: dict[str, object] = field(default_factory=dict)


# ---- setup ---------------------------------------------------------------------------------------------------
def register_two() -> list[str]:
    """Two random forests with different answers on the same 8 features; @champion -> v1."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2000, len(FEATURES))), columns=FEATURES)
    versions = []
    for seed in (0, 1):
        target = (frame["x0"] + (seed + 1) * frame["x1"] > 0).astype(int)
        model = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=seed).fit(frame, target)
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=MODEL, signature=infer_signature(frame, target),
                skops_trusted_types=["sklearn.tree._tree.Tree"], pip_requirements=["scikit-learn"],
            )  # fmt: skip
        versions.append(str(info.registered_model_version))
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", versions[0])
    return versions


class Load:
    """Closed-loop load from `threads` threads (bounded in time); each answer's status and time are kept."""

    def __init__(self, url: str, threads: int = 8, limit_seconds: float = 300):
        self.url, self.threads, self.limit = url, threads, limit_seconds
        self.results: list[tuple[float, int]] = []  # (monotonic time, status or 0 for a transport error)
        self._stop = threading.Event()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.body = {"dataframe_split": {"columns": FEATURES, "data": [[0.1] * len(FEATURES)]}}

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        with httpx.Client(headers=AUTH, timeout=10) as client:
            for _ in range(1_000_000):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    status = client.post(self.url + "/invocations", json=self.body).status_code
                except httpx.HTTPError:
                    status = 0
                self.results.append((time.monotonic(), status))

    def __enter__(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def failed(self, since: float = 0.0) -> int:
        return sum(1 for at, status in self.results if at >= since and status != 200)

    def total(self, since: float = 0.0) -> int:
        return sum(1 for at, _ in self.results if at >= since)


def server_tree(pid: int) -> list[int]:
    import psutil

    parent = psutil.Process(pid)
    return [parent.pid, *(c.pid for c in parent.children(recursive=True))]


def rss_mb(pid: int) -> float:
    import psutil

    total = 0
    for child in server_tree(pid):
        try:
            total += psutil.Process(child).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def metric(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url + "/metrics", headers=AUTH, timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items())
    )


def wait_for(condition, seconds: float, step: float = 0.2) -> float | None:
    """Seconds until `condition()` holds, or None if it never did within `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if condition():
                return time.monotonic() - started
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(step)
    return None


# ---- soak ----------------------------------------------------------------------------------------------------
def soak(url: str, pid: int, versions: list[str], minutes: float, connections: int, work: Path) -> Row:
    import mlflow

    body = work / "soak-body.json"
    body.write_text(json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[0.2] * len(FEATURES)]}}))
    script = work / "soak.lua"
    script.write_text(WRK_SCRIPT)
    samples: list[tuple[float, float]] = []
    moves = []
    stop_event = threading.Event()

    def watch() -> None:
        client, started, i = mlflow.MlflowClient(), time.monotonic(), 0
        while not stop_event.wait(5):
            samples.append((time.monotonic() - started, rss_mb(pid)))
            if time.monotonic() - started >= 60 * (len(moves) + 1):  # a hot reload every minute
                i += 1
                client.set_registered_model_alias(MODEL, "champion", versions[i % 2])
                moves.append(time.monotonic() - started)

    watcher = threading.Thread(target=watch, daemon=True)
    loaded_before = metric(url, "mlops_serving_model_reloads_total", {"result": "loaded"})
    watcher.start()
    try:
        result = wrk(url + "/invocations", body, connections, int(minutes * 60), script, AUTH["Authorization"])
    finally:
        stop_event.set()
        watcher.join(30)
    reloads = metric(url, "mlops_serving_model_reloads_total", {"result": "loaded"}) - loaded_before
    steady = [(t, m) for t, m in samples if t >= 60] or samples  # the first minute warms caches and pools
    slope = _slope(steady) * 60
    return Row(
        f"soak: {minutes:g} min at c={connections}, alias moved every minute",
        {
            "requests": result["requests"],
            "errors": result["errors"] + result["non2xx"],
            "req/s": round(result["rps"]),
            "p99 ms": round(result["p99_us"] / 1e3, 1),
            "hot reloads": f"{len(moves)} moves, {reloads:.0f} loads",
            "RSS MB start/end": f"{samples[0][1]:.0f}/{samples[-1][1]:.0f}" if samples else "-",
            "RSS slope MB/min": round(slope, 2),
        },
    )


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / var if var else 0.0


# ---- fuzz ----------------------------------------------------------------------------------------------------
def fuzz(url: str, examples: int) -> list[Row]:
    import schemathesis
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    def call(send) -> int:
        try:
            return send().status_code
        except (httpx.TimeoutException, TimeoutError):
            return -1  # a hang
        except Exception:  # noqa: BLE001 - a dropped connection counts as a server error
            return 599

    tally: dict[str, list[int]] = {"schemathesis": [], "hypothesis payloads": []}
    fuzz_settings = settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                             suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)  # fmt: skip
    document = httpx.get(url + "/openapi.json", headers=AUTH, timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @fuzz_settings
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                tally["schemathesis"].append(call(lambda: case.call(base_url=url, headers=AUTH, timeout=10)))

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - an operation with nothing to negate: no cases, not a failure
                if "Unsatisfiable" not in type(exc).__name__:
                    raise

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8),
                          inner, max_size=6), max_leaves=40)  # fmt: skip
    json_bodies = st.one_of(
        values,
        st.builds(
            lambda k, v: {k: v},
            st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs"]),
            values,
        ),  # fmt: skip
        st.builds(
            lambda cols, data: {"dataframe_split": {"columns": cols, "data": data}},
            st.lists(st.sampled_from(FEATURES), max_size=10),
            st.lists(st.lists(scalars, max_size=10), max_size=10),
        ),  # fmt: skip
        st.builds(
            lambda shape, dtype, data: {
                "inputs": [{"name": "input-0", "shape": shape, "datatype": dtype, "data": data}]
            },  # fmt: skip
            st.lists(st.integers(min_value=-3, max_value=2**64), max_size=4),
            st.sampled_from(["FP64", "FP32", "INT64", "BOOL", "BYTES", "nope"]),
            values,
        ),
    )
    payloads = st.one_of(
        st.tuples(st.just("application/json"), json_bodies.map(lambda v: json.dumps(v).encode())),
        st.tuples(st.just("text/csv"), st.text(max_size=300).map(str.encode)),
        st.tuples(st.sampled_from(["application/json", "text/csv", "application/xml", ""]), st.binary(max_size=300)),
    )
    paths = st.sampled_from(["/invocations", f"/v2/models/{MODEL}/infer"])

    @settings(max_examples=examples * 20, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)  # fmt: skip
    @given(payload=payloads, path=paths)
    def raw(payload, path):
        content_type, body = payload
        headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
        tally["hypothesis payloads"].append(call(lambda: httpx.post(url + path, content=body, headers=headers,
                                                                      timeout=10)))  # fmt: skip

    raw()
    rows = []
    for name, statuses in tally.items():
        rows.append(Row(f"fuzz: {name}", {
            "cases": len(statuses),
            "2xx": sum(200 <= s < 300 for s in statuses),
            "4xx": sum(400 <= s < 500 for s in statuses),
            "5xx": sum(s >= 500 for s in statuses),
            "hangs": sum(s == -1 for s in statuses),
        }))  # fmt: skip
    return rows


# ---- faults --------------------------------------------------------------------------------------------------
def fault_mlflow(url: str, stack, settings) -> Row:
    record = json.loads((Path(settings.state_dir) / "mlflow.pid.json").read_text())
    with Load(url) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        os.killpg(record["pid"], signal.SIGKILL)
        reported = wait_for(lambda: "registry" in httpx.get(url + "/health/ready", timeout=5).json(), 60)
        time.sleep(10)  # down for a while, the server still serving
        stack.up()  # same port (fixed in the settings), same SQLite database
        restarted = time.monotonic()
        recovered = wait_for(lambda: "registry" not in httpx.get(url + "/health/ready", timeout=5).json(), 120)
        time.sleep(2)
    return Row("fault: MLflow server killed (-9), restarted 10 s later", {
        "requests": load.total(killed_at), "failed": load.failed(killed_at),
        "outage reported s": _s(reported), "recovery s": _s(recovered),
        "down s (restart included)": round(restarted - killed_at, 1),
    })  # fmt: skip


def fault_moto(url: str, stack, settings) -> Row:
    record = json.loads((Path(settings.state_dir) / "moto.pid.json").read_text())
    with Load(url) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        os.killpg(record["pid"], signal.SIGKILL)
        time.sleep(10)
        lost_before = metric(url, "mlops_serving_capture_dropped_rows_total", {"reason": "upload_failed"})
        stack.up()  # moto keeps nothing: the buckets and key are provisioned again
        written = metric(url, "mlops_serving_captured_rows_total")
        recovered = wait_for(lambda: metric(url, "mlops_serving_captured_rows_total") > written, 120, 0.5)
        time.sleep(2)
    return Row("fault: moto (S3, capture) killed (-9), restarted 10 s later", {
        "requests": load.total(killed_at), "failed": load.failed(killed_at),
        "capture rows lost (counted)": round(lost_before), "recovery s": _s(recovered),
    })  # fmt: skip


def fault_worker(url: str, pid: int) -> Row:
    import psutil

    before = set(server_tree(pid))
    workers = [p for p in server_tree(pid) if "spawn_main" in " ".join(psutil.Process(p).cmdline())]
    loads = metric(url, "mlops_serving_model_reloads_total", {"result": "loaded"})
    with Load(url) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        os.kill(workers[0], signal.SIGKILL)
        recovered = wait_for(
            lambda: (
                set(server_tree(pid)) - before
                and metric(url, "mlops_serving_model_reloads_total", {"result": "loaded"}) > loads
            ),
            180,
        )
        time.sleep(3)
    return Row("fault: one of 2 serving workers killed (-9)", {
        "requests": load.total(killed_at), "failed": load.failed(killed_at),
        "recovery s": _s(recovered),
    })  # fmt: skip


def fault_promote(settings) -> Row:
    from mlops.core.clients import Registry
    from mlops.core.contracts import PREVIOUS_ALIAS
    from mlops.registry.promotion import STEPS, pending_key

    registry = Registry(settings=settings)
    from mlops.core.clients import aws_client

    s3 = aws_client("s3", settings)
    agree, timings = [], []
    for step in STEPS:
        registry.set_alias(MODEL, "champion", "1")
        registry.set_alias(MODEL, PREVIOUS_ALIAS, None)
        env = {**os.environ, "MLOPS_FAILPOINT": f"promote:{step}"}
        killed = subprocess.run([str(BIN / "mlops"), "promote", MODEL, "2", "--reason", f"bench {step}"], env=env,
                                capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        intent = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=pending_key(MODEL))["Body"].read())
        started = time.monotonic()
        repaired = subprocess.run([str(BIN / "mlops"), "rollback", MODEL, "--reason", "bench repair"],
                                  capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        timings.append(time.monotonic() - started)
        record = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=intent["audit_key"])["Body"].read())
        champion = registry.alias_version(MODEL, "champion")
        # after the repair the rollback moved the champion once more: from the settled state's champion
        # settled "done" (2, previous 1) then rolled back to 1; or "aborted" (1, no previous: nothing to roll back to)
        rollback_ok = repaired.returncode == 0 if record["status"] == "done" else "no @previous" in repaired.stderr
        pending = s3.list_objects_v2(Bucket=settings.data_bucket, Prefix=pending_key(MODEL)).get("KeyCount", 0)
        agree.append(killed.returncode == -9 and rollback_ok and champion == "1" and not pending
                     and record["status"] in ("done", "aborted"))  # fmt: skip
    return Row("fault: `mlops promote` killed (-9) at each step, then `mlops rollback`", {
        "steps": ", ".join(STEPS), "killed": len(STEPS),
        "audit agrees with aliases": f"{sum(agree)}/{len(agree)}",
        "repair + rollback s (median)": round(sorted(timings)[len(timings) // 2], 1),
    })  # fmt: skip


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}"


# ---- main ----------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak-minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--fuzz-examples", type=int, default=40, help="schemathesis cases per operation and mode")
    parser.add_argument("--only", default="soak,fuzz,faults")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",")}
    if "soak" in parts and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run `make system-deps`")

    from mlops.core.settings import get_settings
    from mlops.devstack.stack import LocalStack

    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    settings = get_settings(state_dir=work / "stack", moto_port=free_port(), mlflow_port=free_port())
    stack = LocalStack(settings)
    server = None
    rows: list[Row] = []
    started = time.monotonic()
    try:
        endpoints, _ = stack.up()
        os.environ.update(endpoints)
        os.environ["MLOPS_STATE_DIR"] = str(settings.state_dir)
        versions = register_two()
        port = free_port()
        (work / "tmp").mkdir()
        env = {
            "MLOPS_SERVE_API_KEYS": API_KEY,
            "MLOPS_SERVE_RELOAD_INTERVAL_SECONDS": "5",
            "MLOPS_SERVE_CAPTURE_SAMPLE_RATE": "0.05",
            "MLOPS_SERVE_CAPTURE_FLUSH_SECONDS": "2",
            "MLOPS_SERVE_ACCESS_LOG": "false",
            "TMPDIR": str(work / "tmp"),
            "MLOPS_KMS_KEY_ARN": "",  # the bucket's default encryption; moto's key is new after its restart
        }
        argv = [str(BIN / "mlops"), "serve", "--model-uri", f"models:/{MODEL}@champion", "--port", str(port),
                "--workers", "2"]  # fmt: skip
        server = start(argv, work / "serve.log", env)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/health/ready", server, 2, work / "serve.log")
        print(f"server ready ({time.monotonic() - started:.0f}s); running: {', '.join(sorted(parts))}", flush=True)
        if "soak" in parts:
            rows.append(soak(url, server.pid, versions, args.soak_minutes, args.connections, work))
            print(f"  {rows[-1].what}: {rows[-1].figures}", flush=True)
        if "fuzz" in parts:
            rows += fuzz(url, args.fuzz_examples)
            for row in rows[-2:]:
                print(f"  {row.what}: {row.figures}", flush=True)
        if "faults" in parts:
            # moto last: it keeps nothing, so the models' artifacts are gone after it restarts
            for fault in (lambda: fault_worker(url, server.pid), lambda: fault_mlflow(url, stack, settings),
                          lambda: fault_promote(settings), lambda: fault_moto(url, stack, settings)):  # fmt: skip
                rows.append(fault())
                print(f"  {rows[-1].what}: {rows[-1].figures}", flush=True)
        copies = sorted(p.name for p in (work / "tmp" / "mlops-serve-models").iterdir())
        rows.append(Row("afterwards: model copies in $TMPDIR", {"copies": len(copies), "names": ", ".join(copies)}))
    finally:
        if server is not None:
            stop(server)
        stack.down()
    print(f"\ntotal {time.monotonic() - started:.0f}s\n")
    print("| part | figures |\n| --- | --- |")
    for row in rows:
        print(f"| {row.what} | " + "; ".join(f"{k} {v}" for k, v in row.figures.items()) + " |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
