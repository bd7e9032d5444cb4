"""Releases meet the running env: `deploy_release` applies what a manifest on main says (optionally with a canary
rollout) and stores its evidence pack with the approval and the deploy record, `diff_release` compares a manifest
with everything live, the ASG's launch template included."""

from __future__ import annotations

from pathlib import Path

from mlops.core.clients import Registry, aws_client
from mlops.core.contracts import MODEL_VERSION_INSTANCE_TAG, env_alias
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.delivery.canary import current_weights, live_color
from mlops.delivery.deploy import ImageRef, Say, current_commit, run_rollout
from mlops.delivery.rollout import template_tags
from mlops.delivery.targets import DeployTargets, load_targets
from mlops.delivery.unchanged import nothing_to_deploy, pinned_version, release_unchanged
from mlops.release import deployed, signing
from mlops.release.actions import apply, load_verified
from mlops.release.deployed import Approval
from mlops.release.evidence import Evidence, load_evidence
from mlops.release.live import Row, compare, read_live_release
from mlops.release.manifest import Release, load_release, manifest_path


def deploy_release(
    settings: Settings,
    root: Path,
    model: str,
    env: str,
    *,
    rollout: bool,
    targets_file: Path | None,
    instance_refresh: bool,
    record_dir: Path,
    force: bool = False,
    say: Say = print,
    approval: Approval | None = None,
    signing_key: str | None = None,
) -> None:
    """Re-check the env's manifest against the registry and its evidence pack (checksums, and the KMS signature;
    with `signing_key` the pack must be signed by that key), roll it out (canary) when asked, store the evidence with
    the approval (`approval`, else the merge commit's author) and the deploy record, publish the live release and
    move `@<env>`; or, unless `force`, say there is nothing to deploy when the live release already is this manifest
    (mlops.delivery.unchanged), with no AWS write, no record and no alias moved."""
    found = load_verified(settings, root, model, env)
    evidence, evidence_note = checked_evidence(settings, root, found, signing_key)
    image = found.image
    if rollout and image is None:
        raise MlopsError(f"{manifest_path(root, model, env)} pins no image: --rollout needs image")
    targets = load_targets(env, targets_file) if rollout else None
    if targets is not None:  # the live release and the record live in the env's own bucket, which the targets name
        settings = targets.settings_for(settings)
    if not force:
        live = read_live_release(settings, model, env)
        alias = Registry(settings=settings).alias_version(model, env_alias(found.env))
        if release_unchanged(live, found, alias, rollout):
            say(nothing_to_deploy(env, model, found.model.version, image.digest if image else None))
            return
    say(evidence_note)
    # who approved, worked out before any traffic moves (it reads Git and can fail)
    approved = (approval or deployed.merge_approval(root, model, env)) if evidence is not None else None
    record = None
    if rollout and image is not None:
        # the live release says this manifest has not run yet; when the live color runs it all the same (a deploy
        # whose publish failed), the canary says so and the release is published below without moving traffic
        done = run_rollout(
            settings, env, model, found.model.version, ImageRef(image.repository, digest=image.digest),
            targets_file=targets_file, instance_refresh=instance_refresh, record_dir=record_dir, targets=targets,
            serving_env=found.serving.environment(), replicas=found.serving.replicas, force=force, say=say,
        )  # fmt: skip
        record = (f"s3://{settings.artifact_bucket}/{done.key()}", done.body().encode()) if done else None
    commit = current_commit(root) or "unknown"
    # before the live release and the alias: a failure here publishes neither (the canary's traffic has moved; the
    # next `make deploy` finds the live color running this version and publishes without moving it again)
    if evidence is not None and found.evidence is not None and approved is not None:
        section = deployed.deployment(settings, approved, commit, rollout, record)
        stored = deployed.publish(settings, evidence.model_copy(update={"deployment": section}), found.evidence.sha256)
        say(f"evidence: {stored} (approved by {approved.by} at {approved.at}; {approved.source})")
    uri, before = apply(settings, found, commit, rolled_out=rollout)
    say(f"live release: {uri}")
    moved = f"v{before} -> " if before else ""
    say(f"{model}@{env}: {moved}v{found.model.version}")


def checked_evidence(
    settings: Settings, root: Path, release: Release, signing_key: str | None
) -> tuple[Evidence | None, str]:
    """The manifest's evidence pack and what to tell the user; refused when changed (checksums, signature) or,
    with `signing_key`, missing."""
    source = str(manifest_path(root, release.model.name, release.env))
    if release.evidence is None:
        if signing_key:
            raise MlopsError(f"{source} carries no evidence, but evidence signed by {signing_key} is required")
        return None, f"{source}: no evidence pack (proposed without --evidence)"
    evidence = load_evidence(root, release)
    return evidence, f"{source}: {signing.verify(settings, release.evidence, signing_key, source)}"


def diff_release(
    settings: Settings, root: Path, models: list[str], env: str, server_url: str | None, targets: DeployTargets | None
) -> list[Row]:
    registry = Registry(settings=settings)
    rows = []
    for name in models:
        release = load_release(root, name, env)
        rows += compare(settings, registry, release, server_url)
        if targets is not None and targets.serving_target == "asg":
            rows.append(asg_row(settings, release, targets))
    return rows


def asg_row(settings: Settings, release: Release, targets: DeployTargets) -> Row:
    """The live color's ASG (more ALB weight): which version of the release's model its launch template tags pin."""
    color = live_color(current_weights(aws_client("elbv2", settings), targets))
    name = targets.asg_names[color]
    tags = template_tags(aws_client("autoscaling", settings), aws_client("ec2", settings), name)
    version = pinned_version(tags, release.model.name)
    # the tag pins every model the color serves: this row is about the release's model alone
    actual = f"v{version}" if version else tags.get(MODEL_VERSION_INSTANCE_TAG, "none")
    return Row(f"ASG {name} ({color}, live) launch template", f"v{release.model.version}", actual)
