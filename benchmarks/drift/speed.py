"""Speed and memory, side by side with Evidently's DataDriftPreset, on 20 numeric + 5 categorical columns.

    .venv/bin/python benchmarks/drift/speed.py [--sizes 100000 1000000] [--stream-rows 50000000]

Each measurement runs in a fresh process (peak memory = the process tree's peak RSS, sampled every 20 ms,
including the loaded data). Time is the drift computation only; loading the Parquet files is not timed.
Engines: `ours-profile` (check from a stored profile), `ours-raw` (profile built from the raw reference inside the
timed section), `evidently` (Report([DataDriftPreset()]).run in its own venv). Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = HERE / "data"


class PeakRss:
    """Samples the RSS of this process and its children until stopped."""

    def __init__(self, pid: int | None = None, interval: float = 0.02):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def evidently_verdicts(snapshot) -> dict[str, bool]:
    verdicts = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            p_value_test = "p_value" in config["method"].lower()
            value, threshold = metric["value"], config["threshold"]
            verdicts[config["column"]] = bool(value < threshold if p_value_test else value >= threshold)
    return verdicts


def load(path: str):
    """Parquet to pandas with the least peak memory pyarrow offers (the same loader for every engine)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas(self_destruct=True, split_blocks=True)


def worker(engine: str, ref_path: str, cur_path: str, profile_path: str, out: str) -> None:
    with PeakRss() as peak:
        reference = load(ref_path) if engine != "ours-profile" else None
        current = load(cur_path)
        if engine == "evidently":  # imports are not timed, for either engine
            from evidently import Report
            from evidently.presets import DataDriftPreset
        else:
            sys.path.insert(0, str(ROOT))
            from mlops.drift.check import run_check
            from mlops.drift.config import DriftConfig
            from mlops.drift.profile import ReferenceProfile, build_profile
            from mlops.drift.summary import summarise_frame
        import resource

        cpu = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        if engine == "evidently":
            verdicts = evidently_verdicts(
                Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
            )
        else:
            profile = ReferenceProfile.load(profile_path) if engine == "ours-profile" else build_profile(reference)
            summaries = summarise_frame(profile, current, workers=2)
            report = run_check(profile, summaries, list(current.columns), DriftConfig(), current_rows=len(current))
            verdicts = {n: c["drift"] for n, c in report["columns"].items()}
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_seconds = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    peak_bytes = max(peak.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    Path(out).write_text(
        json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_bytes": peak_bytes, "verdicts": verdicts})
    )


def prepare(n: int) -> tuple[Path, Path, Path]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.drift.datagen import speed_frame
    from mlops.drift.profile import build_profile

    DATA.mkdir(exist_ok=True)
    ref, cur, prof = DATA / f"ref-{n}.parquet", DATA / f"cur-{n}.parquet", DATA / f"profile-{n}.json"
    if not (ref.exists() and cur.exists() and prof.exists()):
        reference = speed_frame(n, seed=1)
        reference.to_parquet(ref)
        speed_frame(n, seed=2, current=True).to_parquet(cur)
        build_profile(reference).save(prof)
    return ref, cur, prof


def measure(engine: str, python: str, ref: Path, cur: Path, prof: Path) -> dict:
    out = DATA / f"result-{engine}.json"
    out.unlink(missing_ok=True)
    subprocess.run([python, str(HERE / "speed.py"), "worker", engine, str(ref), str(cur), str(prof), str(out)],
                   check=True, cwd=ROOT)  # fmt: skip
    return json.loads(out.read_text())


def stream(rows: int) -> dict:
    """A current window of `rows` rows in one Parquet file (1M-row row groups), checked by `mlops drift check`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from benchmarks.drift.datagen import speed_frame

    _, _, prof = prepare(1_000_000)
    big = DATA / f"cur-{rows}.parquet"
    if not big.exists():
        chunk = pa.Table.from_pandas(speed_frame(1_000_000, seed=3, current=True), preserve_index=False)
        with pq.ParquetWriter(big.with_suffix(".tmp"), chunk.schema) as writer:
            for _ in range(rows // 1_000_000):  # the same 1M rows repeated: the cost is reading, not content
                writer.write_table(chunk, row_group_size=1_000_000)
        big.with_suffix(".tmp").rename(big)
    mlops = Path(sys.executable).parent / "mlops"
    start = time.perf_counter()
    proc = subprocess.Popen([str(mlops), "drift", "check", "--profile", str(prof), "--current", str(big),
                             "--json", str(DATA / "stream-report.json")], cwd=ROOT)  # fmt: skip
    with PeakRss(proc.pid, interval=0.05) as peak:
        proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"streamed check failed with exit code {proc.returncode}")
    report = json.loads((DATA / "stream-report.json").read_text())
    return {"rows": report["summary"]["current_rows"], "seconds": time.perf_counter() - start,
            "peak_bytes": peak.peak, "drifted": report["drifted_columns"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--stream-rows", type=int, default=50_000_000, help="0 to skip the streamed window")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--reuse-evidently", action="store_true", help="Evidently's figures from the last run")
    args = parser.parse_args()
    from benchmarks.drift.venv import evidently_python

    ev_python = None if args.skip_evidently else evidently_python()
    mb = 1024 * 1024
    for n in args.sizes:
        ref, cur, prof = prepare(n)
        results = {e: measure(e, sys.executable, ref, cur, prof) for e in ("ours-profile", "ours-raw")}
        previous = DATA / f"speed-{n}.json"
        if args.reuse_evidently and previous.exists() and "evidently" in json.loads(previous.read_text()):
            results["evidently"] = json.loads(previous.read_text())["evidently"]  # Evidently takes minutes
        elif ev_python:
            results["evidently"] = measure("evidently", ev_python, ref, cur, prof)
        print(f"\n## {n:,} reference rows vs {n:,} current rows (20 numeric + 5 categorical columns)")
        print(f"{'engine':14} {'seconds':>9} {'CPU s':>8} {'peak MB':>9} {'speedup':>9} {'CPU ratio':>9} {'memory':>8}")
        base = results.get("evidently")
        for engine, r in results.items():
            speed = f"{base['seconds'] / r['seconds']:.1f}x" if base else "-"
            cpu = r.get("cpu_seconds", float("nan"))
            cpu_ratio = f"{base.get('cpu_seconds', float('nan')) / cpu:.1f}x" if base else "-"
            memory = f"{r['peak_bytes'] / base['peak_bytes']:.2f}" if base else "-"
            print(f"{engine:14} {r['seconds']:9.2f} {cpu:8.2f} {r['peak_bytes'] / mb:9.0f} {speed:>9} {cpu_ratio:>9} "
                  f"{memory:>8}")  # fmt: skip
        print("\nper-column verdicts (drift = x):")
        names = list(results["ours-profile"]["verdicts"])
        print(f"{'column':22} " + " ".join(f"{e:>13}" for e in results))
        for name in names:
            marks = ["x" if results[e]["verdicts"].get(name) else "." for e in results]
            print(f"{name:22} " + " ".join(f"{m:>13}" for m in marks))
        (DATA / f"speed-{n}.json").write_text(json.dumps(results, indent=1))
    if args.stream_rows:
        r = stream(args.stream_rows)
        print(f"\n## streamed current window: {r['rows']:,} rows from Parquet, from a stored profile")
        print(f"seconds {r['seconds']:.1f}  peak RSS of the process tree {r['peak_bytes'] / mb:.0f} MB  "
              f"drifted: {', '.join(r['drifted'])}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:7])
    else:
        sys.path.insert(0, str(ROOT))
        main()
