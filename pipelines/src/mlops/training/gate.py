"""The champion/challenger gate: a pure decision over numbers measured on the same held-out data.

A challenger passes only when all of these hold:
- its data lineage is complete (commit, clean tree, dvc.lock hash, md5 of every input dataset, remote URL);
- every hard floor is met (e.g. roc_auc >= 0.7), with or without a champion;
- with a champion: primary metric >= champion's + min_improvement, and no slice's primary metric drops by
  more than slice_tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlops.core.contracts import Tags
from mlops.registry.lineage import lineage_problems
from mlops.training.params import LOWER_IS_BETTER, GateParams


@dataclass
class GateDecision:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        return {
            Tags.GATE_DECISION: "passed" if self.passed else "rejected",
            Tags.GATE_REASONS: json.dumps(self.reasons),
            Tags.GATE_NUMBERS: json.dumps(self.numbers, sort_keys=True),
        }


def decide(
    challenger: dict,
    champion: dict | None,
    lineage: dict[str, str],
    gate: GateParams,
    champion_version: str | None = None,
    not_comparable: str | None = None,
) -> GateDecision:
    """`challenger`/`champion` are `stages.score` results on the same held-out rows. `not_comparable` says why a
    champion exists but could not be scored on them (new input columns): no comparison, no pass; a person decides
    (`mlops promote`)."""
    metric = gate.primary_metric
    reasons = lineage_problems(lineage)
    if not_comparable:
        reasons.append(
            f"{not_comparable}; a model on a new schema is not comparable with it: review it and promote it by "
            "hand (`mlops promote`) if it should replace the champion"
        )
    numbers: dict = {
        "primary_metric": metric,
        "min_improvement": gate.min_improvement,
        "slice_tolerance": gate.slice_tolerance,
        "challenger": challenger.get(metric),
        "champion": champion.get(metric) if champion else None,
        "champion_version": champion_version,
        "floors": {},
        "slices": {},
    }
    for name, floor in sorted(gate.floors.items()):
        value = challenger.get(name)
        numbers["floors"][name] = {"floor": floor, "value": value}
        if name in LOWER_IS_BETTER and (value is None or value > floor):
            reasons.append(f"{name}={_fmt(value)} is above the ceiling {floor}")
        elif name not in LOWER_IS_BETTER and (value is None or value < floor):
            reasons.append(f"{name}={_fmt(value)} is below the floor {floor}")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0  # improvement is a decrease for error metrics
    if challenger.get(metric) is None:
        reasons.append(f"primary metric {metric} could not be measured on the held-out data")
    elif champion is not None and champion.get(metric) is not None:
        delta = sign * (challenger[metric] - champion[metric])
        numbers["improvement"] = delta
        if delta < gate.min_improvement:
            reasons.append(
                f"{metric} {challenger[metric]:.4f} vs champion {champion[metric]:.4f}: improvement {delta:+.4f} "
                f"is less than the required {gate.min_improvement:+.4f}"
            )
        for name, champ_slice in sorted(champion.get("slices", {}).items()):
            ours, theirs = challenger.get("slices", {}).get(name, {}).get(metric), champ_slice.get(metric)
            numbers["slices"][name] = {"challenger": ours, "champion": theirs}
            if ours is not None and theirs is not None and sign * (theirs - ours) > gate.slice_tolerance:
                reasons.append(
                    f"slice {name}: {metric} {ours:.4f} is more than {gate.slice_tolerance} worse than "
                    f"the champion's {theirs:.4f}"
                )
    return GateDecision(passed=not reasons, reasons=reasons, numbers=numbers)


def _fmt(value) -> str:
    return "unmeasured" if value is None else f"{value:.4f}"
