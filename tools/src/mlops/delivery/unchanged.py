"""A deploy of what already runs changes nothing: it says so and stops, with no AWS write, no deploy record and no
alias moved (`--force` deploys anyway).

- `mlops release deploy`: the env's live release (the manifest the last successful deploy published) is the
  manifest on disk, the `@<env>` alias points at its version and, with `--rollout`, that deploy rolled it out.
- `mlops deploy canary` (EC2): the live color has all the traffic and its launch template version's instance tags
  pin the deployed model at the same version (the tag pins every model of the env; the others do not matter here)
  and name the same image (and, for a release, the same serving settings).
"""

from __future__ import annotations

from mlops.core.contracts import (
    MODEL_VERSION_INSTANCE_TAG,
    SERVING_ENV_INSTANCE_TAG,
    ModelVersionTagError,
    parse_model_versions,
)
from mlops.delivery.preflight import Artifact
from mlops.delivery.rollout import IMAGE_DIGEST_TAG_KEY, IMAGE_TAG_KEY, serving_env_tag
from mlops.release.live import LiveRelease
from mlops.release.manifest import Release


def nothing_to_deploy(environment: str, model: str, version: str, image_digest: str | None) -> str:
    image = f" (image {image_digest})" if image_digest else ""
    return f"{environment} already serves {model} v{version}{image}: nothing to deploy"


def release_unchanged(live: LiveRelease | None, release: Release, alias_version: str | None, rollout: bool) -> bool:
    """Applying `release` would change nothing: the live release is this very manifest (version, image, serving
    settings, lineage, gate), `@<env>` already points at its version, and a `--rollout` was rolled out before (a
    manifest published without `--rollout` moved the alias only: its image may never have reached the instances)."""
    if live is None or live.release != release or alias_version != release.model.version:
        return False
    return live.rolled_out or not rollout


def live_color_runs(tags: dict[str, str], weights: dict[str, int], live: str, artifact: Artifact) -> bool:
    """The live color (all the traffic, `tags` from its group's launch template version) already runs `artifact`."""
    if any(weight for color, weight in weights.items() if color != live):
        return False  # a canary stopped half-way: the deploy must finish the move, not skip it
    if pinned_version(tags, artifact.model_name) != artifact.model_version:
        return False
    digest = tags.get(IMAGE_DIGEST_TAG_KEY)
    # templates from before the digest tag name the image by URI only (ECR tags are immutable: terraform/modules/ecr)
    same_image = digest == artifact.image_digest if digest else tags.get(IMAGE_TAG_KEY) == artifact.image_uri
    if not same_image:
        return False
    # a release sets the serving settings; `mlops deploy canary` sets none and keeps the template's
    return not artifact.serving_env or tags.get(SERVING_ENV_INSTANCE_TAG) == serving_env_tag(artifact.serving_env)


def pinned_version(tags: dict[str, str], model: str) -> str | None:
    """The version of `model` a launch template version's instance tags pin; None when they pin none, or when the tag
    is malformed (the deploy's roll names it: mlops.delivery.rollout.pin_versions)."""
    try:
        return parse_model_versions(tags.get(MODEL_VERSION_INSTANCE_TAG, "")).get(model)
    except ModelVersionTagError:
        return None
