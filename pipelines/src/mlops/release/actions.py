"""Propose and deploy, as functions: the CLI (`mlops release`) and the retraining service call these."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import Environment
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.release import gitops, live, signing
from mlops.release.checks import release_for, verify_release
from mlops.release.evidence import sha256_hex
from mlops.release.evidence_build import Pack, pack, read_parts, version_data_classes
from mlops.release.hosts import GitHost, PlainRemote
from mlops.release.manifest import Image, Release, Serving, load_release
from mlops.release.scan_reports import scanned_checkout


def resolve_version(settings: Settings, model: str, version: str) -> str:
    """A version number as given, or `@alias` (`@champion`, `@dev`, `@staging`) as the version it points at now: a
    project proposes what its last passing train made champion, and promotes what dev (then staging) runs."""
    if not version.startswith("@"):
        return version
    found = Registry(settings=settings).alias_version(model, version[1:])
    if found is None:
        raise MlopsError(f"model {model!r} has no alias {version}: nothing to propose")
    return found


@dataclass(frozen=True)
class EvidenceRequest:
    """Attach an evidence pack: from the scan reports in `reports` (mlops.release.scan_reports), signed with the
    KMS key `signing_key` when one is given."""

    reports: Path
    signing_key: str | None = None


def propose_version(
    settings: Settings,
    model: str,
    env: Environment,
    version: str,
    repo_url: str,
    image: Image | None = None,
    host: GitHost | None = None,
    evidence: EvidenceRequest | None = None,
) -> gitops.Proposal:
    """Check the version (exists, lineage, passed gate) and, when asked, every input of its evidence pack before
    anything is cloned, then branch, commit (manifest and pack) and push.

    The image and serving settings carry over from the env's manifest on main unless an image is given."""
    registry = Registry(settings=settings)
    release_for(registry, env, model, version, image, Serving())  # refuse early: nothing cloned or written
    author = settings.actor or "mlops-release"
    attach = _evidence_attacher(settings, registry, model, version, evidence, author) if evidence else None

    def build(previous: Release | None) -> Release:
        kept_image = image or (previous.image if previous else None)
        serving = previous.serving if previous else Serving()
        return release_for(registry, env, model, version, kept_image, serving)

    def message(release: Release, previous: Release | None) -> str:
        return gitops.commit_message(release, previous, _metrics(registry, model, version))

    return gitops.propose(repo_url, model, env, build, message, host or PlainRemote(), author, attach)


def _evidence_attacher(
    settings: Settings, registry: Registry, model: str, version: str, request: EvidenceRequest, author: str
) -> Callable[[Release], Pack]:
    """Read and check the pack's inputs now (the reports, the data classes, the signing key); build it later, when
    the manifest (whose image may come from main) is known."""
    checkout = scanned_checkout(request.reports)
    lock = checkout.root / "uv.lock"
    try:
        lock_sha256 = sha256_hex(lock.read_bytes())
    except OSError as exc:
        raise MlopsError(f"cannot read {lock}: {exc.strerror}") from None
    classes = version_data_classes(registry, model, version)
    parts = read_parts(request.reports, checkout.commit, checkout.commit_time, lock_sha256, classes)
    key = request.signing_key
    if key:
        signing.signing_key(aws_client("kms", settings), key)  # a wrong key is refused before the clone
    generated_by = settings.actor or getpass.getuser() or author

    def attach(release: Release) -> Pack:
        return pack(release, parts, generated_by, (lambda digest: signing.sign(settings, key, digest)) if key else None)

    return attach


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
