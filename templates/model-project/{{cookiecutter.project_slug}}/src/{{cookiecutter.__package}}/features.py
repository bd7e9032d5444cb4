"""The model's columns and its data. params.yaml names the columns (`data.features`, `data.target`,
`data.slice_columns`) and the files (`data.raw`); this module reads them from there, so swapping in your own data
is a change to params.yaml and data/, never to the code or the tests (README: "Your own data").

`make_sample` writes the first data version of a new project: deterministic synthetic rows (same seed, same rows
on every machine) with the columns the generated params.yaml names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMS_FILE = ROOT / "params.yaml"
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"

_DATA = yaml.safe_load(PARAMS_FILE.read_text())["data"]
FEATURES: list[str] = list(_DATA["features"])  # model inputs, in the order the model sees them
TARGET: str = _DATA["target"]
SLICES: list[str] = list(_DATA.get("slice_columns") or [])  # columns the gate checks value by value
RAW: list[str] = list(_DATA["raw"])  # the DVC-tracked input files (CSV or Parquet)


def make_sample(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Synthetic rows: numeric x1..x3, a categorical `segment` (a gate slice, not an input) and `label`."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = (rng.normal(0.0, 1.0, rows) for _ in range(3))
    noise = rng.normal(0.0, 0.5, rows)
{%- if cookiecutter.problem_type == "binary_classification" %}
    label = (2.0 * x1 + x2 + noise > 0).astype(int)
{%- elif cookiecutter.problem_type == "multiclass_classification" %}
    score = 1.5 * x1 + x2 + noise
    label = np.digitize(score, [-0.8, 0.8]).astype(int)  # classes 0, 1, 2 of roughly equal size
{%- else %}
    label = 2.0 * x1 - x2 + 0.5 * x3 + noise
{%- endif %}
    segment = rng.choice(["a", "b", "c"], rows)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "segment": segment, "label": label})


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def load_data(rows: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The project's data (every file in `data.raw`), or `rows` of it drawn at random. Where the files are not
    here (a fresh clone: `dvc pull` fetches them) the sample stands in, as long as it has the columns params.yaml
    names; otherwise this says to pull."""
    paths = [ROOT / relative for relative in RAW]
    if all(path.is_file() for path in paths):
        frame = pd.concat([read_table(path) for path in paths], ignore_index=True)
    else:
        frame = make_sample()
        needed = [*FEATURES, TARGET, *SLICES]
        if not set(needed) <= set(frame.columns):
            missing = [str(p.relative_to(ROOT)) for p in paths if not p.is_file()]
            raise FileNotFoundError(f"{', '.join(missing)} not here: run `dvc pull` (params.yaml names columns "
                                    "the generated sample does not have)")  # fmt: skip
    if rows is not None and rows < len(frame):
        frame = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
    return frame
