"""The model's inputs and a deterministic sample data generator (same seed, same rows, on every machine).

Replace `make_sample` with your real data source; keep FEATURES, TARGET and SLICES in step with params.yaml
(a test checks that).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["x1", "x2", "x3"]  # numeric model inputs, in the order the model sees them
SLICES = ["segment"]  # categorical column the gate checks slice by slice (not a model input)
TARGET = "label"
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"


def make_sample(rows: int = 600, seed: int = 0) -> pd.DataFrame:
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
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "segment": segment, TARGET: label})
