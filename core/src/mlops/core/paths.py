"""The platform repository's files that are not Python: Terraform, serving manifests, the model-project template,
the monitoring config. The parts read them from the checkout they are installed from (`make setup` installs every
part editable), so these paths exist in a checkout of this repository only; a serving image needs none of them."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]  # <repo>/core/src/mlops/core/paths.py
TERRAFORM_DIR = REPO_ROOT / "terraform"
ENVS_DIR = TERRAFORM_DIR / "envs"
BOOTSTRAP_DIR = TERRAFORM_DIR / "bootstrap"
SERVING_OVERLAYS = REPO_ROOT / "services" / "serving" / "k8s" / "overlays"
SERVING_DOCKERFILE = REPO_ROOT / "services" / "serving" / "Dockerfile"
MODEL_TEMPLATE = REPO_ROOT / "templates" / "model-project"
PROMETHEUS_DIR = REPO_ROOT / "monitoring" / "prometheus"
DEPLOY_RECORDS_DIR = REPO_ROOT / "reports" / "deploys"  # Jenkins archives reports/
