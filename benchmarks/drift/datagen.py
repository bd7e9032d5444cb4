"""Synthetic data shared by both drift benchmarks; numpy and pandas only, so the Evidently venv can import it.

The speed shape is the issue's: 20 numeric and 5 categorical columns. The same seed gives the same data in both
venvs (numpy's PCG64 stream is stable across versions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC_SHAPES = ("normal", "skewed", "heavy", "integer")
CATEGORICAL_SHAPES = ("low_card", "high_card")
SHAPES = NUMERIC_SHAPES + CATEGORICAL_SHAPES
LOW_LEVELS = np.array(["a", "b", "c", "d", "e"])
LOW_P = np.array([0.35, 0.25, 0.2, 0.15, 0.05])
HIGH_LEVELS = np.array([f"level{i:04d}" for i in range(2000)])
HIGH_P = 1.0 / np.arange(1, 2001) ** 1.1  # Zipf-like: a few common levels, many rare ones
HIGH_P /= HIGH_P.sum()


def column(shape: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if shape == "normal":
        return rng.normal(10.0, 2.0, n)
    if shape == "skewed":
        return rng.lognormal(0.0, 0.8, n)
    if shape == "heavy":
        return rng.standard_t(3, n)
    if shape == "integer":
        return rng.poisson(4, n).astype(float)
    if shape == "low_card":
        return LOW_LEVELS[rng.choice(len(LOW_LEVELS), n, p=LOW_P)].astype(object)
    if shape == "high_card":
        return HIGH_LEVELS[rng.choice(len(HIGH_LEVELS), n, p=HIGH_P)].astype(object)
    raise ValueError(shape)


def drifted(shape: str, kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """The issue's drifts: mean shift 0.25 sd, scale x1.5, 5% to a far tail, TV 0.1, new category 10%,
    missing rate +20 points."""
    values = column(shape, n, rng)
    if kind == "missing":
        values = values.astype(object) if values.dtype == object else values
        values[rng.random(n) < 0.2] = None if values.dtype == object else np.nan
        return values
    if kind == "new_category":
        values[rng.random(n) < 0.1] = "never-seen"
        return values
    if kind == "tv_shift":  # move 0.1 of probability mass from the most common level to others
        if shape == "low_card":
            p = LOW_P + np.array([-0.1, 0.0, 0.0, 0.05, 0.05])
            return LOW_LEVELS[rng.choice(len(LOW_LEVELS), n, p=p)].astype(object)
        p = HIGH_P.copy()
        moved = min(0.1, p[0] - 1e-3)
        p[0] -= moved
        p[1:20] += moved / 19
        return HIGH_LEVELS[rng.choice(len(HIGH_LEVELS), n, p=p)].astype(object)
    center, spread = float(np.mean(values)), float(np.std(values))
    if kind == "mean_shift":
        return values + 0.25 * spread
    if kind == "scale":
        return center + (values - center) * 1.5
    if kind == "far_tail":
        hit = rng.random(n) < 0.05
        values[hit] = center + 6 * spread + np.abs(rng.normal(0, spread, hit.sum()))
        return values
    raise ValueError(kind)


NUMERIC_DRIFTS = ("mean_shift", "scale", "far_tail", "missing")
CATEGORICAL_DRIFTS = ("tv_shift", "new_category", "missing")


def speed_frame(n: int, seed: int, current: bool = False) -> pd.DataFrame:
    """20 numeric + 5 categorical columns; the current frame has a few drifted columns and one trivial shift."""
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(20):
        shape = NUMERIC_SHAPES[i % len(NUMERIC_SHAPES)]
        data[f"num{i:02d}_{shape}"] = column(shape, n, rng)
    for i in range(5):
        shape = CATEGORICAL_SHAPES[i % 2]
        data[f"cat{i}_{shape}"] = column(shape, n, rng)
    frame = pd.DataFrame(data)
    if current:
        frame["num00_normal"] += 0.5  # 0.25 sd: real drift
        frame["num01_skewed"] *= 1.5  # scale: real drift
        frame["num04_normal"] += 0.04  # 0.02 sd: trivially small, significant at 1M rows, not drift
        frame["cat0_low_card"] = drifted("low_card", "tv_shift", n, rng)
    return frame


def trial_frames(n: int, kind: str, trial: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One accuracy trial: a column of every shape; with kind != "none" every column the drift applies to
    drifts in the current frame, the others stay same-distribution."""
    rng = np.random.default_rng([n, trial, sum(map(ord, kind))])
    reference = pd.DataFrame({shape: column(shape, n, rng) for shape in SHAPES})
    current = {}
    for shape in SHAPES:
        applies = kind in (NUMERIC_DRIFTS if shape in NUMERIC_SHAPES else CATEGORICAL_DRIFTS)
        current[shape] = drifted(shape, kind, n, rng) if applies else column(shape, n, rng)
    return reference, pd.DataFrame(current)
