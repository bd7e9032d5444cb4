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


# ---- multivariate: drifts of the joint distribution that leave every marginal unchanged -------------------------
JOINT_KINDS = ("none", "corr_flip", "mixture_shift", "block_rotation")


def joint_frame(n: int, rng: np.random.Generator, kind: str = "none") -> pd.DataFrame:
    """Eight numeric columns (a log-normal, an integer, a cubed and a Student-t among them) and one categorical.
    corr_flip: corr(a, b) goes from +0.7 to -0.7; mixture_shift: in a 2-D mixture of four clusters at (+-2, +-2),
    0.4 of the mass moves from the diagonal clusters to the anti-diagonal ones (each marginal stays a 50/50 mix);
    block_rotation: a correlated 3-block (c1, c2 correlated 0.8, c3 apart) turns 120 degrees about its diagonal,
    so c2, c3 become the correlated pair. Each is invisible to any one-column test."""
    z = rng.normal(size=(n, 2))
    r = -0.7 if kind == "corr_flip" else 0.7
    a, b = z[:, 0], r * z[:, 0] + np.sqrt(1 - r * r) * z[:, 1]
    weights = [0.15, 0.35, 0.35, 0.15] if kind == "mixture_shift" else [0.35, 0.15, 0.15, 0.35]
    component = rng.choice(4, n, p=weights)
    m1 = np.array([-2, -2, 2, 2])[component] + 0.7 * rng.normal(size=n)
    m2 = np.array([-2, 2, -2, 2])[component] + 0.7 * rng.normal(size=n)
    block = rng.multivariate_normal(np.zeros(3), [[1, 0.8, 0], [0.8, 1, 0], [0, 0, 1]], n)
    if kind == "block_rotation":
        block = block[:, [2, 0, 1]]
    return pd.DataFrame({"a": np.exp(a / 2), "b": b, "m1": m1, "m2": m2, "c1": block[:, 0],
                         "c2": np.round(3 * block[:, 1] + 10), "c3": block[:, 2] ** 3, "u": rng.standard_t(3, n),
                         "k": LOW_LEVELS[rng.choice(len(LOW_LEVELS), n, p=LOW_P)].astype(object)})  # fmt: skip


def joint_trial(n: int, kind: str, trial: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng([n, trial, 7 + JOINT_KINDS.index(kind)])
    return joint_frame(n, rng), joint_frame(n, rng, kind)


# ---- performance estimation: a covariate shift that costs accuracy -------------------------------------------
def classification_frame(n: int, rng: np.random.Generator, spread: float = 2.0) -> pd.DataFrame:
    """Two features; P(y=1 | x) = sigmoid(1.5 x0 + 0.5 x1) never changes (covariate shift only). The model's
    probability p1 = sigmoid(2.5 x0 + 0.8 x1) is overconfident, so it must be calibrated. A smaller `spread` puts the
    rows nearer the decision boundary: the same model is less accurate there."""
    x = rng.normal(0, spread, (n, 2))
    truth = 1 / (1 + np.exp(-1.5 * x[:, 0] - 0.5 * x[:, 1]))
    p1 = 1 / (1 + np.exp(-2.5 * x[:, 0] - 0.8 * x[:, 1]))
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": (rng.random(n) < truth).astype(int),
                         "prediction": (p1 >= 0.5).astype(int), "p1": p1})  # fmt: skip
