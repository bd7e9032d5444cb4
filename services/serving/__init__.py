"""Model serving: `mlops serve` (see README.md)."""
