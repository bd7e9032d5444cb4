"""The retraining service: scheduled and drift-triggered retraining, gated and promoted (see README.md)."""
