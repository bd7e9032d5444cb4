"""Label-free performance estimation under covariate shift, beside NannyML's CBPE on the same data.

    .venv/bin/python benchmarks/drift/estimate.py [--seeds 20] [--rows 10000] [--skip-nannyml]

datagen.classification_frame: P(y | x) never changes, the model is overconfident, and the current window's inputs
sit nearer the decision boundary (spread 2.0 = the reference's, down to 0.5), which costs accuracy. Each seed: a
20k-row reference (probabilities and labels) calibrates, a current window of --rows rows is estimated without its
labels, then compared with its realised accuracy, F1 and ROC AUC. NannyML 0.13.1 (own venv) runs CBPE with its
defaults (isotonic calibration), the current window as one chunk. Target: within 0.02 of realised accuracy at 10k.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SPREADS = (2.0, 1.0, 0.7, 0.5)
METRICS = ("accuracy", "f1", "auc")


def frames(seed: int, spread: float, rows: int):
    import numpy as np

    from benchmarks.drift.datagen import classification_frame

    rng = np.random.default_rng([seed, int(spread * 10)])
    return classification_frame(20_000, rng), classification_frame(rows, rng, spread)


def ours(reference, current) -> dict[str, float]:
    import json as js

    from mlops.drift.builder import build_profile
    from mlops.drift.check import estimate_performance
    from mlops.drift.config import DriftConfig

    proba = reference[["p1"]].assign(p0=1 - reference["p1"])[["p0", "p1"]].set_axis(["0", "1"], axis=1)
    profile = build_profile(reference[["x0", "x1", "y", "prediction"]], target="y", prediction="prediction",
                            probabilities=proba)  # fmt: skip
    capture = [js.dumps({"0": 1 - p, "1": p}) for p in current["p1"]]
    result = estimate_performance(profile, capture, DriftConfig(), current["y"].to_numpy().astype(object))
    return {f"{m}_{k}": result["metrics"][m][k] for m in METRICS for k in ("estimated", "realized", "lower", "upper")}


def nannyml(reference, current) -> dict[str, float]:
    import nannyml as nml

    estimator = nml.CBPE(problem_type="classification_binary", y_pred_proba="p1", y_pred="prediction", y_true="y",
                         metrics=["accuracy", "f1", "roc_auc"], chunk_size=len(current))  # fmt: skip
    estimator.fit(reference)
    result = estimator.estimate(current.drop(columns=["y"])).filter(period="analysis").to_df()
    names = {"accuracy": "accuracy", "f1": "f1", "auc": "roc_auc"}
    return {f"{m}_estimated": float(result[(names[m], "value")].iloc[-1]) for m in METRICS}


def worker(engine: str, seeds: str, rows: str, out: str) -> None:
    import warnings

    warnings.simplefilter("ignore")  # NannyML warns that one chunk is few chunks: it is what is compared here
    found = {}
    for spread in SPREADS:
        for seed in range(int(seeds)):
            reference, current = frames(seed, spread, int(rows))
            found[f"{spread}|{seed}"] = (ours if engine == "ours" else nannyml)(reference, current)
    Path(out).write_text(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--skip-nannyml", action="store_true")
    args = parser.parse_args()
    from benchmarks.drift.venv import nannyml_python

    (HERE / "data").mkdir(exist_ok=True)
    engines = {"ours": sys.executable, **({} if args.skip_nannyml else {"nannyml": nannyml_python()})}
    procs = {}
    for engine, python in engines.items():  # side by side, one process each
        out = HERE / "data" / f"estimate-{engine}.json"
        procs[engine] = (subprocess.Popen([python, str(HERE / "estimate.py"), "worker", engine, str(args.seeds),
                                           str(args.rows), str(out)], cwd=ROOT), out)  # fmt: skip
    results = {}
    for engine, (proc, out) in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"{engine} worker failed")
        results[engine] = json.loads(out.read_text())
    print_table(results, args.seeds, args.rows)


def print_table(results: dict, seeds: int, rows: int) -> None:
    import numpy as np

    print(f"{seeds} seeds per shift, {rows:,} current rows; |estimate - realised|: mean / max over seeds")
    print(f"{'spread':>6} {'realised acc':>12} {'ours acc':>15} {'NannyML acc':>15} {'ours F1':>15} "
          f"{'NannyML F1':>15} {'ours AUC':>15} {'NannyML AUC':>15} {'band covers':>11}")  # fmt: skip
    worst = 0.0
    for spread in SPREADS:
        keys = [f"{spread}|{s}" for s in range(seeds)]
        mine = [results["ours"][k] for k in keys]
        theirs = [results["nannyml"][k] for k in keys] if "nannyml" in results else None
        cells = [f"{spread:6.1f}", f"{np.mean([r['accuracy_realized'] for r in mine]):12.3f}"]
        for metric in METRICS:
            for side in (mine, theirs):
                if side is None:
                    cells.append(f"{'-':>15}")
                    continue
                errors = [
                    abs(s[f"{metric}_estimated"] - r[f"{metric}_realized"]) for s, r in zip(side, mine, strict=True)
                ]
                if side is mine and metric == "accuracy":
                    worst = max(worst, max(errors))
                cells.append(f"{np.mean(errors):7.4f}/{max(errors):.4f}")
        covered = np.mean([r["accuracy_lower"] <= r["accuracy_realized"] <= r["accuracy_upper"] for r in mine])
        cells.append(f"{covered:11.0%}")
        print(" ".join(cells))
    verdict = "met" if worst <= 0.02 else "MISSED"
    print(f"\nworst accuracy error, ours: {worst:.4f} (target <= 0.02 at 10k rows): {verdict}")


if __name__ == "__main__":
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML otherwise sends usage analytics over the network
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(*sys.argv[2:6])
    else:
        main()
