"""False alarms and detection rates per column shape and size, beside Evidently's defaults on the same data; and
the multivariate test's, beside NannyML's data reconstruction drift calculator.

    .venv/bin/python benchmarks/drift/accuracy.py [--scale 1.0] [--evidently-max-rows 100000]
    .venv/bin/python benchmarks/drift/accuracy.py --multivariate [--scale 1.0] [--nannyml-max-rows 10000]

Same-distribution pairs (kind "none") of six shapes at 1k..1M rows must raise no alarm in >= 99% of trials;
the issue's six drifts must be caught in >= 95% of trials from 10k rows up. Each trial builds a fresh reference
profile and checks one current window (a frame with one column per shape). Evidently runs DataDriftPreset with
its defaults in its own venv on frames generated from the same seeds. Not a timed test.

--multivariate: same-distribution pairs of the 8-column joint frame (datagen.joint_frame) at 1k..100k rows must
raise no multivariate alarm in >= 99% of trials; the three joint-only drifts (a correlation flip, a shift inside
a 2-D mixture, a rotated correlated block; every marginal unchanged) must be caught in >= 95% from 10k rows.
NannyML 0.13.1 (its own venv) runs DataReconstructionDriftCalculator with its defaults: the reference cut into 10
chunks sets its threshold (mean +- 3 sd of the chunks' errors), the current window is one chunk of the same size
as the reference, and an alert on it is its verdict.
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
KINDS = ("none", "mean_shift", "scale", "far_tail", "tv_shift", "new_category", "missing")
SIZES = (1_000, 10_000, 100_000, 1_000_000)
# trials per size: enough to resolve 99% / 95% where the run time allows
OURS_TRIALS = {
    "none": {1_000: 300, 10_000: 300, 100_000: 100, 1_000_000: 30},
    "drift": {10_000: 100, 100_000: 40, 1_000_000: 10},
}
MULTIVARIATE_KINDS = ("mv_none", "mv_corr_flip", "mv_mixture_shift", "mv_block_rotation")
OURS_MV_TRIALS = {
    "none": {1_000: 500, 10_000: 300, 100_000: 60},
    "drift": {1_000: 50, 10_000: 100, 100_000: 20},
}
NANNYML_MV_TRIALS = {"none": {1_000: 100, 10_000: 100, 100_000: 10}, "drift": {1_000: 20, 10_000: 30, 100_000: 5}}
EVIDENTLY_TRIALS = {
    "none": {1_000: 100, 10_000: 50, 100_000: 10, 1_000_000: 3},
    "drift": {10_000: 30, 100_000: 10, 1_000_000: 3},
}


def plan(trials: dict, scale: float, max_rows: int, kinds: tuple[str, ...] = KINDS) -> list[tuple[int, str, int]]:
    jobs = []
    for kind in kinds:
        table = trials["none" if kind in ("none", "mv_none") else "drift"]
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
    from mlops.drift.builder import build_profile
    from mlops.drift.check import run_check
    from mlops.drift.config import DriftConfig
    from mlops.drift.summary import summarise_frame

    profile = build_profile(reference, workers=1)
    report = run_check(profile, summarise_frame(profile, current), list(current.columns), DriftConfig(),
                       current_rows=len(current))  # fmt: skip
    return {n: c["drift"] for n, c in report["columns"].items()}


def multivariate_verdict(engine: str, reference, current) -> bool:
    if engine == "nannyml":
        import nannyml as nml

        calculator = nml.DataReconstructionDriftCalculator(column_names=list(reference.columns),
                                                           chunk_size=max(len(reference) // 10, 50))  # fmt: skip
        calculator.fit(reference)
        # the current window as one chunk: a chunk size of its whole length
        calculator.chunker = nml.chunk.SizeBasedChunker(chunk_size=len(current), incomplete="append")
        result = calculator.calculate(current).filter(period="analysis").to_df()
        return bool(result[("reconstruction_error", "alert")].any())
    from mlops.drift.builder import build_profile
    from mlops.drift.check import run_check
    from mlops.drift.config import DriftConfig
    from mlops.drift.summary import summarise_frame

    profile = build_profile(reference, workers=1)
    report = run_check(profile, summarise_frame(profile, current), list(current.columns), DriftConfig(),
                       current_rows=len(current))  # fmt: skip
    return bool(report["multivariate"]["drift"])


def worker(engine: str, jobs_path: str, out: str) -> None:
    import warnings

    from benchmarks.drift.datagen import joint_trial, trial_frames

    warnings.simplefilter("ignore")  # Evidently warns per trial about columns it treats as categorical
    counts: dict[str, list[int]] = {}
    for size, kind, trial in json.loads(Path(jobs_path).read_text()):
        if kind in MULTIVARIATE_KINDS:
            found = {"multivariate": multivariate_verdict(engine, *joint_trial(size, kind.removeprefix("mv_"), trial))}
        else:
            found = verdicts(engine, *trial_frames(size, kind, trial))
        for column, drift in found.items():
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
    parser.add_argument("--multivariate", action="store_true", help="The multivariate test beside NannyML's")
    parser.add_argument("--nannyml-max-rows", type=int, default=10_000, help="0 skips NannyML")
    args = parser.parse_args()
    from benchmarks.drift.venv import evidently_python, nannyml_python

    if args.multivariate:
        start = time.perf_counter()
        results = {"ours": run("ours", sys.executable, plan(OURS_MV_TRIALS, args.scale, 100_000, MULTIVARIATE_KINDS))}
        if args.nannyml_max_rows:
            results["nannyml"] = run(
                "nannyml",
                nannyml_python(),
                plan(NANNYML_MV_TRIALS, args.scale, args.nannyml_max_rows, MULTIVARIATE_KINDS),
            )
        (HERE / "data" / "accuracy-multivariate.json").write_text(json.dumps(results, indent=1))
        print_multivariate(results)
        print(f"\n({time.perf_counter() - start:.0f} s)")
        return

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


def print_multivariate(results: dict) -> None:
    ours, theirs = results["ours"], results.get("nannyml", {})
    sizes = (1_000, 10_000, 100_000)
    print("multivariate alarm rate: ours / NannyML (alarms/trials). Targets: 'none' <= 1%; drifts >= 95% from 10k")
    print(f"{'kind':18} " + " ".join(f"{s:>30,}" for s in sizes))
    failures = []
    for kind in MULTIVARIATE_KINDS:
        cells = []
        for size in sizes:
            key = f"{kind}|multivariate|{size}"
            if key not in ours:
                cells.append(f"{'':>30}")
                continue
            a, t = ours[key]
            text = f"{a / t:6.1%} ({a}/{t})"
            if key in theirs:
                na, nt = theirs[key]
                text += f" / {na / nt:4.0%} ({na}/{nt})"
            ok = a / t <= 0.01 if kind == "mv_none" else (size < 10_000 or a / t >= 0.95)
            if not ok:
                failures.append(key)
            cells.append(f"{text:>30}")
        print(f"{kind.removeprefix('mv_'):18} " + " ".join(cells))
    print("\nall targets met" if not failures else f"\ntargets missed: {', '.join(failures)}")


def _applies(kind: str, column: str) -> bool:
    from benchmarks.drift.datagen import CATEGORICAL_DRIFTS, NUMERIC_DRIFTS, NUMERIC_SHAPES

    return kind in (NUMERIC_DRIFTS if column in NUMERIC_SHAPES else CATEGORICAL_DRIFTS)


if __name__ == "__main__":
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML otherwise sends usage analytics over the network
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:5])
    else:
        main()
