"""Drift on a capture that follows the data classes (`mlops.core.data_classes`): personal columns arrive as keyed
hashes, sensitive ones not at all.

- A profile built with a `CapturePolicy` sees the reference the way the capture stores it: personal columns hashed
  with the same key (so the same value gives the same text on both sides) and profiled as categories, sensitive
  columns left out. It records the classes it applied (`ReferenceProfile.data_classes`).
- A check treats a hashed column as categorical, never numeric: against a profile that hashed it the category
  counts, distinct values and unseen share compare as usual; against one that holds the raw values it is skipped
  with the reason (comparing hashes with raw values would flag every value as unseen). A sensitive column is
  skipped as "not captured", never reported missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops.core.data_classes import CapturePolicy
from mlops.drift.values import CATEGORICAL, Batch, Values, from_series

NOT_CAPTURED = "sensitive data: never captured (dropped by the capture policy), so not compared"
RAW_REFERENCE = (
    "personal data: hashed in the capture, but the reference profile holds raw values; rebuild the profile with "
    "the data classes and the hash key (`mlops drift profile` in the model project, MLOPS_CAPTURE_HASH_KEY_PARAMETER)"
)


@dataclass
class PseudonymisedBatch:
    """A batch of reference rows as the capture would store them: personal columns hashed, sensitive ones gone."""

    batch: Batch
    policy: CapturePolicy
    rows: int = field(init=False)
    start: int = field(init=False)
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.rows, self.start = self.batch.rows, self.batch.start
        self.names = [n for n in self.batch.names if self.policy.classes.get(n) != "sensitive"]

    def _hashed(self, name: str) -> Any:
        import pandas as pd

        return pd.Series([self.policy.value(name, v) for v in self.batch.raw(name)], dtype=object)

    def values(self, name: str, kind: str | None = None) -> Values:
        if self.policy.classes.get(name) == "personal":
            return from_series(self._hashed(name), CATEGORICAL)
        return self.batch.values(name, kind)

    def natural_kind(self, name: str) -> str:
        return CATEGORICAL if self.policy.classes.get(name) == "personal" else self.batch.natural_kind(name)

    def raw(self, name: str) -> np.ndarray:
        if self.policy.classes.get(name) == "personal":
            return self._hashed(name).to_numpy()
        return self.batch.raw(name)


def skip_reason(name: str, classes: dict[str, str], profiled: dict[str, str]) -> str | None:
    """Why a column of the profile is not compared with the capture because of its class, or None.
    `classes`: the classes the capture applied; `profiled`: the ones the profile was built with."""
    if classes.get(name) == "sensitive":
        return NOT_CAPTURED
    if classes.get(name) == "personal" and profiled.get(name) != "personal":
        return RAW_REFERENCE
    return None
