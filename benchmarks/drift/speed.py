"""Speed and memory, side by side with Evidently's DataDriftPreset, on 20 numeric + 5 categorical columns.

    .venv/bin/python benchmarks/drift/speed.py [--sizes 100000 1000000] [--e2e-rows 1000000] [--e2e-rounds 3]
        [--stream-rows 50000000] [--profile-rows 30000000] [--skip-evidently] [--reuse-evidently]

Each measurement runs in a fresh process (peak memory = the process tree's peak RSS, sampled every 20 ms,
including the loaded data). Engines: `ours-profile` (check from a stored profile), `ours-raw` (profile built from
the raw reference inside the timed section), `evidently` (Report([DataDriftPreset()]).run in its own venv).

Two views of time:
- computation: the drift computation only (Parquet loading and imports not timed);
- end to end, as a user meets it: the process wall time of `mlops drift check --reference ref.parquet --current
  cur.parquet --json out.json`, against a script doing the same with Evidently (import, read both files with
  pandas, run, write the JSON); once on an idle machine and once while another process keeps one core busy
  (a Python busy loop). Ours is the median of --e2e-rounds runs; Evidently runs once per condition.
Then the streamed window (`drift check` on a --stream-rows file) and the streamed profile (`drift profile` on a
--profile-rows file): peak RSS of the process tree. Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
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
            from mlops.drift.builder import build_profile
            from mlops.drift.check import run_check
            from mlops.drift.config import DriftConfig
            from mlops.drift.profile import ReferenceProfile
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


def evidently_cli(ref_path: str, cur_path: str, out: str) -> None:
    """What a user of Evidently runs for `mlops drift check`: import, read, compute, write the JSON."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_data=pd.read_parquet(cur_path),
                                               reference_data=pd.read_parquet(ref_path))  # fmt: skip
    Path(out).write_text(json.dumps(snapshot.dict(), default=str))


def end_to_end(engine: str, ref: Path, cur: Path, busy: bool) -> dict:
    """Process wall time and peak RSS of one end-to-end run, optionally beside a process holding one core."""
    out = DATA / f"e2e-{engine}.json"
    if engine == "ours":
        command = [str(Path(sys.executable).parent / "mlops"), "drift", "check", "--reference", str(ref),
                   "--current", str(cur), "--json", str(out)]  # fmt: skip
    else:
        from benchmarks.drift.venv import evidently_python

        command = [evidently_python(), str(HERE / "speed.py"), "evidently-cli", str(ref), str(cur), str(out)]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        time.sleep(0.5 if busy else 0)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        with PeakRss(proc.pid) as peak:
            proc.wait()
        seconds = time.perf_counter() - start
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{engine} end-to-end run failed ({proc.returncode})")
    return {"seconds": seconds, "peak_bytes": peak.peak, "load": load}


def end_to_end_table(n: int, rounds: int, evidently: bool, reuse: bool) -> None:
    ref, cur, _ = prepare(n)
    saved = DATA / f"e2e-{n}.json"
    previous = json.loads(saved.read_text()) if reuse and saved.exists() else {}
    results: dict = {}
    for busy in (False, True):
        label = "one core busy" if busy else "idle"
        runs = [end_to_end("ours", ref, cur, busy) for _ in range(rounds)]
        runs.sort(key=lambda r: r["seconds"])
        results[f"ours|{label}"] = runs[len(runs) // 2]
        if f"evidently|{label}" in previous:
            results[f"evidently|{label}"] = previous[f"evidently|{label}"]
        elif evidently:
            results[f"evidently|{label}"] = end_to_end("evidently", ref, cur, busy)
    saved.write_text(json.dumps(results, indent=1))
    mb = 1024 * 1024
    print(f"\n## end to end at {n:,} rows: process wall time of the whole command (imports, reading, check, JSON)")
    print(f"{'condition':15} {'engine':10} {'seconds':>9} {'peak MB':>9} {'load 1m':>8} {'speed-up':>9} {'memory':>7}")
    for label in ("idle", "one core busy"):
        base = results.get(f"evidently|{label}")
        for engine in ("ours", "evidently"):
            r = results.get(f"{engine}|{label}")
            if r is None:
                continue
            speed = f"{base['seconds'] / r['seconds']:.1f}x" if base else "-"
            memory = f"{r['peak_bytes'] / base['peak_bytes']:.2f}" if base else "-"
            print(f"{label:15} {engine:10} {r['seconds']:9.2f} {r['peak_bytes'] / mb:9.0f} {r['load']:8.2f} "
                  f"{speed:>9} {memory:>7}")  # fmt: skip


def prepare(n: int) -> tuple[Path, Path, Path]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.drift.datagen import speed_frame
    from mlops.drift.builder import build_profile

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
    _, _, prof = prepare(1_000_000)
    big = big_file(rows)
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


def big_file(rows: int) -> Path:
    """`rows` current rows in one Parquet file of 1M-row row groups (the same 1M rows repeated)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks.drift.datagen import speed_frame

    big = DATA / f"cur-{rows}.parquet"
    if not big.exists():
        chunk = pa.Table.from_pandas(speed_frame(1_000_000, seed=3, current=True), preserve_index=False)
        with pq.ParquetWriter(big.with_suffix(".tmp"), chunk.schema) as writer:
            for _ in range(rows // 1_000_000):  # the cost is reading, not content
                writer.write_table(chunk, row_group_size=1_000_000)
        big.with_suffix(".tmp").rename(big)
    return big


def profile_stream(rows: int) -> dict:
    """`mlops drift profile` of a `rows`-row Parquet file: seconds and the process tree's peak RSS."""
    big = big_file(rows)
    out = DATA / "stream-profile.json"
    mlops = Path(sys.executable).parent / "mlops"
    start = time.perf_counter()
    proc = subprocess.Popen([str(mlops), "drift", "profile", "--reference", str(big), "--out", str(out)], cwd=ROOT)
    with PeakRss(proc.pid, interval=0.05) as peak:
        proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"streamed profile failed with exit code {proc.returncode}")
    profile = json.loads(out.read_text())
    return {"rows": profile["rows"], "seconds": time.perf_counter() - start, "peak_bytes": peak.peak,
            "load": os.getloadavg()[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--stream-rows", type=int, default=50_000_000, help="0 to skip the streamed window")
    parser.add_argument("--profile-rows", type=int, default=30_000_000, help="0 to skip the streamed profile")
    parser.add_argument("--e2e-rows", type=int, default=1_000_000, help="0 to skip the end-to-end comparison")
    parser.add_argument("--e2e-rounds", type=int, default=3)
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
    if args.e2e_rows:
        end_to_end_table(args.e2e_rows, args.e2e_rounds, not args.skip_evidently, args.reuse_evidently)
    if args.profile_rows:
        r = profile_stream(args.profile_rows)
        print(f"\n## streamed profile: `mlops drift profile` of {r['rows']:,} rows from Parquet")
        print(f"seconds {r['seconds']:.1f}  peak RSS of the process tree {r['peak_bytes'] / mb:.0f} MB  "
              f"(load {r['load']:.1f})")  # fmt: skip
    if args.stream_rows:
        r = stream(args.stream_rows)
        print(f"\n## streamed current window: {r['rows']:,} rows from Parquet, from a stored profile")
        print(f"seconds {r['seconds']:.1f}  peak RSS of the process tree {r['peak_bytes'] / mb:.0f} MB  "
              f"drifted: {', '.join(r['drifted'])}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:7])
    elif len(sys.argv) > 1 and sys.argv[1] == "evidently-cli":
        evidently_cli(*sys.argv[2:5])
    else:
        sys.path.insert(0, str(ROOT))
        main()
