"""Data and model drift: reference profiles, per-column tests, reports, metrics and the drift event."""
