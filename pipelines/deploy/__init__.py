"""Delivery: preflight checks, canary rollout behind the ALB with automatic rollback, deploy records."""
