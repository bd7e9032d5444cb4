"""The one check a release passes at propose time and again at deploy time: the version exists, its lineage tags
are complete, its gate decision is `passed`, and the manifest says the same as the registry (a hand-edited md5 or
metric is caught here)."""

from __future__ import annotations

import json

from mlops.core.clients import Registry
from mlops.core.contracts import Environment, ModelRef, Tags
from mlops.core.errors import MlopsError
from mlops.registry.lineage import lineage_problems
from mlops.release.manifest import Gate, Image, Lineage, ModelVersion, Release, Serving


def version_tags(registry: Registry, model: str, version: str) -> dict[str, str]:
    """The tags of a version that may be released; every problem named at once, else a MlopsError."""
    tags = registry.version_tags(ModelRef(model, version=version))  # names a missing model or version
    problems = lineage_problems(tags)
    decision = tags.get(Tags.GATE_DECISION)
    if decision != "passed":
        problems.append(f"its gate decision is {decision or 'missing'} ({Tags.GATE_DECISION}), not passed")
    if problems:
        raise MlopsError(f"{model} version {version} cannot be released: " + "; ".join(problems))
    return tags


def release_for(
    registry: Registry, env: Environment, model: str, version: str, image: Image | None, serving: Serving
) -> Release:
    """A manifest for `model` `version` in `env`, lineage and gate copied from the version's tags."""
    tags = version_tags(registry, model, version)
    release = Release(
        env=env,
        model=ModelVersion(name=model, version=version),
        lineage=_lineage(tags),
        image=image,
        serving=serving,
        gate=_gate(tags),
    )
    verify_release(registry, release)
    return release


def verify_release(registry: Registry, release: Release) -> dict[str, str]:
    """Re-check a manifest against the registry (deploy time); return the version's tags."""
    model, version = release.model.name, release.model.version
    tags = version_tags(registry, model, version)
    differences = [
        f"{field}: manifest {ours!r}, registry {theirs!r}"
        for field, ours, theirs in [
            ("lineage", release.lineage, _lineage(tags)),
            ("gate", release.gate, _gate(tags)),
        ]
        if ours != theirs
    ]
    if differences:
        raise MlopsError(
            f"the {release.env} manifest of {model} v{version} does not match the registry: " + "; ".join(differences)
        )
    return tags


def _lineage(tags: dict[str, str]) -> Lineage:
    try:
        return Lineage(
            git_commit=tags[Tags.GIT_COMMIT],
            dvc_lock_md5=tags[Tags.DVC_LOCK_MD5],
            dvc_remote_url=tags[Tags.DVC_REMOTE_URL],
            data={path: md5 for path, md5 in Tags.data_paths(tags).items() if md5},
        )
    except ValueError as exc:  # a tag with a malformed value (e.g. not a 40-hex commit)
        raise MlopsError(f"the lineage tags are malformed: {exc}") from None


def _gate(tags: dict[str, str]) -> Gate:
    try:
        numbers = json.loads(tags.get(Tags.GATE_NUMBERS) or "{}")
    except json.JSONDecodeError:
        raise MlopsError(f"the {Tags.GATE_NUMBERS} tag is not JSON") from None
    return Gate(
        decision="passed",
        primary_metric=numbers.get("primary_metric") or "unknown",
        challenger=numbers.get("challenger"),
        champion=numbers.get("champion"),
        champion_version=numbers.get("champion_version"),
    )
