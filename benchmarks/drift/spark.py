"""Drift on local Spark against the single-machine path, on one large current window checked from a stored profile.

    .venv/bin/python benchmarks/drift/spark.py [--rows 10000000 50000000] [--rounds 1] [--skip-inner]

The window is `speed.py`'s: 20 numeric + 5 categorical columns, the same 1M drifted rows repeated into one Parquet
file of 1M-row row groups, checked against the 1M-row reference's profile. Per size and engine:
- end to end: the process wall time of `mlops drift check --profile P --current big.parquet --json out.json
  [--engine spark]` (Python start, imports, for Spark the JVM and the session, reading, the check, the JSON) and
  the peak RSS of the process tree (the JVM is a child of the Python process); the median of --rounds runs;
- inner loop: in a fresh process, the summaries and the report only (`data.summarise_file` + `run_check` against
  `spark.check_with_spark` with the session already started): no imports, no JVM start-up.
Spark runs `local[*]`, the CLI's default, which on this 2-core machine is local[2]; the local engine uses its
default, one worker process per core. The load average (1 min) is printed beside each figure: the machine is
shared. Both engines must give the same drifted columns, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = HERE / "data"
ENGINES = ("local", "spark")


def end_to_end(engine: str, profile: Path, current: Path) -> dict:
    """Process wall time and the process tree's peak RSS of one `mlops drift check`."""
    from benchmarks.drift.speed import PeakRss

    out = DATA / f"spark-bench-{engine}.json"
    out.unlink(missing_ok=True)
    command = [str(Path(sys.executable).parent / "mlops"), "drift", "check", "--profile", str(profile),
               "--current", str(current), "--json", str(out), "--engine", engine]  # fmt: skip
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    with PeakRss(proc.pid, interval=0.05) as peak:
        proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed with exit code {proc.returncode}")
    report = json.loads(out.read_text())
    return {"seconds": seconds, "peak_bytes": peak.peak, "load": load, "drifted": report["drifted_columns"],
            "rows": report["summary"]["current_rows"]}  # fmt: skip


def inner(engine: str, profile_path: str, current: str, out: str) -> None:
    """Worker: the summaries and the report only, timed after imports (and, for Spark, after the session starts)."""
    from mlops.drift.config import DriftConfig
    from mlops.drift.profile import ReferenceProfile

    profile = ReferenceProfile.load(profile_path)
    if engine == "spark":
        from mlops.drift.spark import check_with_spark, session

        spark = session()
        start = time.perf_counter()
        report = check_with_spark(profile, current, DriftConfig(), spark=spark)
    else:
        from mlops.drift.check import run_check
        from mlops.drift.data import summarise_file

        start = time.perf_counter()
        window = summarise_file(profile, Path(current))
        report = run_check(profile, window.summaries, window.columns, DriftConfig(), current_rows=window.rows)
    seconds = time.perf_counter() - start
    Path(out).write_text(json.dumps({"seconds": seconds, "drifted": report["drifted_columns"]}))


def measure_inner(engine: str, profile: Path, current: Path) -> dict:
    out = DATA / f"spark-inner-{engine}.json"
    out.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    subprocess.run([sys.executable, str(HERE / "spark.py"), "inner", engine, str(profile), str(current), str(out)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    return {**json.loads(out.read_text()), "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000_000, 50_000_000])
    parser.add_argument("--rounds", type=int, default=1, help="end-to-end runs per engine (the median is shown)")
    parser.add_argument("--skip-inner", action="store_true", help="only the end-to-end table")
    args = parser.parse_args()
    from benchmarks.drift.speed import big_file, prepare

    _, _, profile = prepare(1_000_000)
    mb = 1024 * 1024
    for rows in args.rows:
        current = big_file(rows)
        results = {}
        for engine in ENGINES:
            runs = sorted((end_to_end(engine, profile, current) for _ in range(args.rounds)),
                          key=lambda r: r["seconds"])  # fmt: skip
            results[engine] = runs[len(runs) // 2]
            if not args.skip_inner:
                results[engine]["inner"] = measure_inner(engine, profile, current)
        if results["local"]["drifted"] != results["spark"]["drifted"]:
            raise SystemExit(f"the engines disagree: {results['local']['drifted']} != {results['spark']['drifted']}")
        (DATA / f"spark-{rows}.json").write_text(json.dumps(results, indent=1))
        print(f"\n## {rows:,} current rows x 25 columns, from a stored profile (drifted: "
              f"{', '.join(results['local']['drifted'])})")  # fmt: skip
        print(f"{'engine':8} {'e2e s':>8} {'rows/s':>12} {'peak MB':>8} {'load':>6} {'inner s':>8} {'rows/s':>12} "
              f"{'load':>6}")  # fmt: skip
        for engine, r in results.items():
            i = r.get("inner")
            tail = f"{i['seconds']:8.1f} {rows / i['seconds']:12,.0f} {i['load']:6.1f}" if i else ""
            print(f"{engine:8} {r['seconds']:8.1f} {rows / r['seconds']:12,.0f} {r['peak_bytes'] / mb:8.0f} "
                  f"{r['load']:6.1f} {tail}")  # fmt: skip
        ratio = results["spark"]["seconds"] / results["local"]["seconds"]
        line = f"spark / local wall time: end to end {ratio:.2f}x"
        if not args.skip_inner:
            line += f", inner loop {results['spark']['inner']['seconds'] / results['local']['inner']['seconds']:.2f}x"
        print(line + " (above 1: Spark is slower)")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1 and sys.argv[1] == "inner":
        inner(*sys.argv[2:6])
    else:
        main()
