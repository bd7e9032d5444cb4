"""What a drift check tests and where its thresholds lie. Kept free of numpy and pandas, so the command line can
describe its options without importing them."""

from __future__ import annotations

from dataclasses import dataclass, field

NUMERIC_METHODS = ("wasserstein", "ks", "psi")
CATEGORICAL_METHODS = ("jensenshannon", "chi2", "psi")


@dataclass
class DriftConfig:
    """Documented defaults (see services/drift/README.md for why)."""

    alpha: float = 0.01  # false discovery rate for Benjamini-Hochberg over every test in the report
    numeric_method: str = "wasserstein"
    categorical_method: str = "jensenshannon"
    thresholds: dict[str, float] = field(
        default_factory=lambda: {
            "wasserstein": 0.1,  # W1 / reference standard deviation
            "ks": 0.1,  # KS D
            "psi": 0.1,
            "jensenshannon": 0.05,  # JS distance, base 2 (a total-variation shift of 0.1 gives about 0.1)
            "chi2": 0.05,  # chi2 uses JS distance as its effect size
            "missing_rate": 0.05,  # absolute change in the share of missing values
            "unseen_categories": 0.03,  # share of current values in categories the reference never had
            "multivariate": 0.1,  # Wasserstein distance of reconstruction errors / their reference std
        }
    )
    drift_share: float = 0.5  # dataset drift when this (importance-weighted) share of columns drifts
    importance: dict[str, float] = field(default_factory=dict)  # column -> weight, default 1
    # the multivariate test is one test that every check runs, so it gets its own, stricter level: at alpha its
    # false alarms would sit right at 1%, at a tenth of that they stay well below
    multivariate_alpha: float = 0.001
    min_rows: int = 30  # fewer non-missing values than this on either side: the column is skipped
    # label-free estimate (CBPE): a metric drifts when its estimate is this far below the reference and the whole
    # 95% band is below the reference; 0 turns the trigger off (the estimate is still reported)
    estimated_drop: float = 0.05
