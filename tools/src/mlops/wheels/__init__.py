"""Wheels of the platform's workspace members, built from the checkout: what `mlops new-model` commits into a model
project (mlops.scaffold) and what `mlops deploy package` publishes for the EC2 serving hosts (mlops.delivery)."""
