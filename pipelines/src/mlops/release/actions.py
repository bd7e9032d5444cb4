"""Propose and deploy, as functions: the CLI (`mlops release`) and the retraining service call these."""

from __future__ import annotations

from pathlib import Path

from mlops.core.clients import Registry
from mlops.core.contracts import Environment
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.release import gitops, live
from mlops.release.checks import release_for, verify_release
from mlops.release.hosts import GitHost, PlainRemote
from mlops.release.manifest import Image, Release, Serving, load_release


def resolve_version(settings: Settings, model: str, version: str) -> str:
    """A version number as given, or `@alias` (`@champion`, `@dev`, `@staging`) as the version it points at now: a
    project proposes what its last passing train made champion, and promotes what dev (then staging) runs."""
    if not version.startswith("@"):
        return version
    found = Registry(settings=settings).alias_version(model, version[1:])
    if found is None:
        raise MlopsError(f"model {model!r} has no alias {version}: nothing to propose")
    return found


def propose_version(
    settings: Settings,
    model: str,
    env: Environment,
    version: str,
    repo_url: str,
    image: Image | None = None,
    host: GitHost | None = None,
) -> gitops.Proposal:
    """Check the version (exists, lineage, passed gate) before anything is cloned, then branch, commit and push.

    The image and serving settings carry over from the env's manifest on main unless an image is given."""
    registry = Registry(settings=settings)
    release_for(registry, env, model, version, image, Serving())  # refuse early: nothing cloned or written

    def build(previous: Release | None) -> Release:
        kept_image = image or (previous.image if previous else None)
        serving = previous.serving if previous else Serving()
        return release_for(registry, env, model, version, kept_image, serving)

    def message(release: Release, previous: Release | None) -> str:
        return gitops.commit_message(release, previous, _metrics(registry, model, version))

    author = settings.actor or "mlops-release"
    return gitops.propose(repo_url, model, env, build, message, host or PlainRemote(), author)


def _metrics(registry: Registry, model: str, version: str) -> dict[str, float]:
    """The run's overall metrics (slices aside: the gate numbers cover them) for the commit message."""
    run_id = registry.client.get_model_version(model, version).run_id
    if not run_id:
        return {}
    metrics = registry.client.get_run(run_id).data.metrics
    return {name: value for name, value in metrics.items() if "." not in name and "/" not in name}


def load_verified(settings: Settings, root: Path, model: str, env: str) -> Release:
    """The manifest in the working tree, schema-checked and re-checked against the registry."""
    release = load_release(root, model, env)
    verify_release(Registry(settings=settings), release)
    return release


def apply(settings: Settings, release: Release, commit: str, rolled_out: bool = False) -> tuple[str, str | None]:
    """Publish the live release, then move `@<env>` (what serving in staging/prod follows). (URI, old version)."""
    uri = live.publish(settings, release, commit, rolled_out)
    return uri, live.move_env_alias(Registry(settings=settings), release)
