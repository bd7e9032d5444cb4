"""Propose and deploy, as functions: the CLI (`mlops release`) and the retraining service call these."""

from __future__ import annotations

from pathlib import Path

from pipelines.registry import client
from pipelines.release import gitops, live
from pipelines.release.checks import release_for, verify_release
from pipelines.release.hosts import GitHost, PlainRemote
from pipelines.release.manifest import Image, Release, Serving, load_release


def propose_version(
    settings,
    model: str,
    env: str,
    version: str,
    repo_url: str,
    image: Image | None = None,
    host: GitHost | None = None,
) -> gitops.Proposal:
    """Check the version (exists, lineage, passed gate) before anything is cloned, then branch, commit and push.

    The image and serving settings carry over from the env's manifest on main unless an image is given."""
    mlflow_client = client()
    release_for(mlflow_client, env, model, version, image, Serving())  # refuse early: nothing cloned or written

    def build(previous: Release | None) -> Release:
        kept_image = image or (previous.image if previous else None)
        serving = previous.serving if previous else Serving()
        return release_for(mlflow_client, env, model, version, kept_image, serving)

    def message(release: Release, previous: Release | None) -> str:
        return gitops.commit_message(release, previous, _metrics(mlflow_client, model, version))

    author = settings.actor or "mlops-release"
    return gitops.propose(repo_url, model, env, build, message, host or PlainRemote(), author)


def _metrics(mlflow_client, model: str, version: str) -> dict[str, float]:
    """The run's overall metrics (slices aside: the gate numbers cover them) for the commit message."""
    run_id = mlflow_client.get_model_version(model, version).run_id
    if not run_id:
        return {}
    metrics = mlflow_client.get_run(run_id).data.metrics
    return {name: value for name, value in metrics.items() if "." not in name and "/" not in name}


def load_verified(root: Path, model: str, env: str) -> Release:
    """The manifest in the working tree, schema-checked and re-checked against the registry."""
    release = load_release(root, model, env)
    verify_release(client(), release)
    return release


def apply(settings, release: Release, commit: str) -> tuple[str, str | None]:
    """Publish the live release, then move `@<env>` (what serving in staging/prod follows). (URI, old version)."""
    uri = live.publish(settings, release, commit)
    return uri, live.move_env_alias(client(), release)
