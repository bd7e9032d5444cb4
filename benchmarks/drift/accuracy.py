"""False alarms and detection rates per column shape and size, beside Evidently's defaults on the same data.

    .venv/bin/python benchmarks/drift/accuracy.py [--scale 1.0] [--evidently-max-rows 100000]

Same-distribution pairs (kind "none") of six shapes at 1k..1M rows must raise no alarm in >= 99% of trials;
the issue's six drifts must be caught in >= 95% of trials from 10k rows up. Each trial builds a fresh reference
profile and checks one current window (a frame with one column per shape). Evidently runs DataDriftPreset with
its defaults in its own venv on frames generated from the same seeds. Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KINDS = ("none", "mean_shift", "scale", "far_tail", "tv_shift", "new_category", "missing")
SIZES = (1_000, 10_000, 100_000, 1_000_000)
# trials per size: enough to resolve 99% / 95% where the run time allows
OURS_TRIALS = {
    "none": {1_000: 300, 10_000: 300, 100_000: 100, 1_000_000: 30},
    "drift": {10_000: 100, 100_000: 40, 1_000_000: 10},
}
EVIDENTLY_TRIALS = {
    "none": {1_000: 100, 10_000: 50, 100_000: 10, 1_000_000: 3},
    "drift": {10_000: 30, 100_000: 10, 1_000_000: 3},
}


def plan(trials: dict, scale: float, max_rows: int) -> list[tuple[int, str, int]]:
    jobs = []
    for kind in KINDS:
        table = trials["none" if kind == "none" else "drift"]
        for size, count in table.items():
            if size <= max_rows:
                jobs.extend((size, kind, t) for t in range(max(1, round(count * scale))))
    return jobs


def verdicts(engine: str, reference, current) -> dict[str, bool]:
    if engine == "evidently":
        from evidently import Report
        from evidently.presets import DataDriftPreset

        from benchmarks.drift.speed import evidently_verdicts

        return evidently_verdicts(Report([DataDriftPreset()]).run(current_data=current, reference_data=reference))
    from mlops.drift.check import run_check
    from mlops.drift.config import DriftConfig
    from mlops.drift.profile import build_profile
    from mlops.drift.summary import summarise_frame

    profile = build_profile(reference, workers=1)
    report = run_check(profile, summarise_frame(profile, current), list(current.columns), DriftConfig(),
                       current_rows=len(current))  # fmt: skip
    return {n: c["drift"] for n, c in report["columns"].items()}


def worker(engine: str, jobs_path: str, out: str) -> None:
    import warnings

    from benchmarks.drift.datagen import trial_frames

    warnings.simplefilter("ignore")  # Evidently warns per trial about columns it treats as categorical
    counts: dict[str, list[int]] = {}
    for size, kind, trial in json.loads(Path(jobs_path).read_text()):
        reference, current = trial_frames(size, kind, trial)
        for column, drift in verdicts(engine, reference, current).items():
            cell = counts.setdefault(f"{kind}|{column}|{size}", [0, 0])
            cell[0] += int(drift)
            cell[1] += 1
    Path(out).write_text(json.dumps(counts))


def run(engine: str, python: str, jobs: list, workers: int = 2) -> dict:
    """Split the trials over `workers` processes (both cores) and add up their counts."""
    procs, outs = [], []
    for w in range(workers):
        jobs_path, out = HERE / "data" / f"acc-{engine}-{w}-jobs.json", HERE / "data" / f"acc-{engine}-{w}.json"
        jobs_path.parent.mkdir(exist_ok=True)
        jobs_path.write_text(json.dumps(jobs[w::workers]))
        procs.append(subprocess.Popen([python, str(HERE / "accuracy.py"), "worker", engine, str(jobs_path), str(out)],
                                      cwd=ROOT))  # fmt: skip
        outs.append(out)
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"{engine} accuracy worker failed")
    return _sum([json.loads(out.read_text()) for out in outs])


def _sum(parts: list[dict]) -> dict[str, list[int]]:
    total: dict[str, list[int]] = {}
    for part in parts:
        for key, (alarms, trials) in part.items():
            cell = total.setdefault(key, [0, 0])
            cell[0] += alarms
            cell[1] += trials
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply every trial count (e.g. 0.2 to be quick)")
    parser.add_argument("--evidently-max-rows", type=int, default=100_000, help="0 skips Evidently")
    parser.add_argument("--reuse-ours", action="store_true", help="Reuse our counts from the last run")
    parser.add_argument("--table-only", action="store_true", help="Print the table of the last run and stop")
    args = parser.parse_args()
    from benchmarks.drift.venv import evidently_python

    if args.table_only:
        print_table(json.loads((HERE / "data" / "accuracy.json").read_text()))
        return

    start = time.perf_counter()
    if args.reuse_ours:  # our counts from the last run's worker files (Evidently is the slow part)
        results = {"ours": _sum([json.loads(p.read_text()) for p in sorted((HERE / "data").glob("acc-ours-?.json"))])}
    else:
        results = {"ours": run("ours", sys.executable, plan(OURS_TRIALS, args.scale, max(SIZES)))}
    if args.evidently_max_rows:
        results["evidently"] = run("evidently", evidently_python(),
                                   plan(EVIDENTLY_TRIALS, args.scale, args.evidently_max_rows))  # fmt: skip
    (HERE / "data" / "accuracy.json").write_text(json.dumps(results, indent=1))
    print_table(results)
    print(f"\n({time.perf_counter() - start:.0f} s)")


def print_table(results: dict) -> None:
    ours, theirs = results["ours"], results.get("evidently", {})
    print("rates: ours / Evidently (alarms/trials). Targets: 'none' <= 1% alarms; drifts >= 95% from 10k rows")
    print(f"{'kind':13} {'column':10} " + " ".join(f"{s:>26,}" for s in SIZES))
    failures = []
    for kind in KINDS:
        for column in ("normal", "skewed", "heavy", "integer", "low_card", "high_card"):
            if kind != "none" and not _applies(kind, column):
                continue  # the column is not drifted in these trials
            cells = []
            for size in SIZES:
                key = f"{kind}|{column}|{size}"
                if key not in ours:
                    cells.append(f"{'':>26}")
                    continue
                a, t = ours[key]
                text = f"{a / t:6.1%} ({a}/{t})"
                if key in theirs:
                    ea, et = theirs[key]
                    text += f" / {ea / et:5.0%}"
                ok = a / t <= 0.01 if kind == "none" else (size < 10_000 or a / t >= 0.95)
                if not ok:
                    failures.append(key)
                cells.append(f"{text:>26}")
            print(f"{kind:13} {column:10} " + " ".join(cells))
    print("\nall targets met" if not failures else f"\ntargets missed: {', '.join(failures)}")


def _applies(kind: str, column: str) -> bool:
    from benchmarks.drift.datagen import CATEGORICAL_DRIFTS, NUMERIC_DRIFTS, NUMERIC_SHAPES

    return kind in (NUMERIC_DRIFTS if column in NUMERIC_SHAPES else CATEGORICAL_DRIFTS)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:5])
    else:
        main()
