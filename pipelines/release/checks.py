"""The one check a release passes at propose time and again at deploy time: the version exists, its lineage tags
are complete, its gate decision is `passed`, and the manifest says the same as the registry (a hand-edited md5 or
metric is caught here)."""

from __future__ import annotations

import json

from pipelines.errors import PipelineError
from pipelines.gate import DATA_TAG_PREFIX, lineage_problems
from pipelines.registry import ModelRef, resolve
from pipelines.release.manifest import Gate, Image, Lineage, ModelVersion, Release, Serving


def _data(tags: dict[str, str]) -> dict[str, str]:
    return {
        key[len(DATA_TAG_PREFIX) : -len(".md5")]: value
        for key, value in sorted(tags.items())
        if key.startswith(DATA_TAG_PREFIX) and key.endswith(".md5") and value
    }


def version_tags(mlflow_client, model: str, version: str) -> dict[str, str]:
    """The tags of a version that may be released; every problem named at once, else a PipelineError."""
    tags = dict(resolve(mlflow_client, ModelRef(model, version=version)).tags)  # names a missing model/version
    problems = lineage_problems(tags)
    decision = tags.get("mlops.gate.decision")
    if decision != "passed":
        problems.append(f"its gate decision is {decision or 'missing'} (mlops.gate.decision), not passed")
    if problems:
        raise PipelineError(f"{model} version {version} cannot be released: " + "; ".join(problems))
    return tags


def release_for(mlflow_client, env: str, model: str, version: str, image: Image | None, serving: Serving) -> Release:
    """A manifest for `model` `version` in `env`, lineage and gate copied from the version's tags."""
    tags = version_tags(mlflow_client, model, version)
    release = Release(
        env=env,
        model=ModelVersion(name=model, version=version),
        lineage=_lineage(tags),
        image=image,
        serving=serving,
        gate=_gate(tags),
    )
    verify_release(mlflow_client, release)
    return release


def verify_release(mlflow_client, release: Release) -> dict[str, str]:
    """Re-check a manifest against the registry (deploy time); return the version's tags."""
    model, version = release.model.name, release.model.version
    tags = version_tags(mlflow_client, model, version)
    differences = [
        f"{field}: manifest {ours!r}, registry {theirs!r}"
        for field, ours, theirs in [
            ("lineage", release.lineage, _lineage(tags)),
            ("gate", release.gate, _gate(tags)),
        ]
        if ours != theirs
    ]
    if differences:
        raise PipelineError(
            f"the {release.env} manifest of {model} v{version} does not match the registry: " + "; ".join(differences)
        )
    return tags


def _lineage(tags: dict[str, str]) -> Lineage:
    try:
        return Lineage(
            git_commit=tags["mlops.git.commit"],
            dvc_lock_md5=tags["mlops.dvc.lock_md5"],
            dvc_remote_url=tags["mlops.dvc.remote_url"],
            data=_data(tags),
        )
    except ValueError as exc:  # a tag with a malformed value (e.g. not a 40-hex commit)
        raise PipelineError(f"the lineage tags are malformed: {exc}") from None


def _gate(tags: dict[str, str]) -> Gate:
    try:
        numbers = json.loads(tags.get("mlops.gate.numbers") or "{}")
    except json.JSONDecodeError:
        raise PipelineError("the mlops.gate.numbers tag is not JSON") from None
    return Gate(
        decision="passed",
        primary_metric=numbers.get("primary_metric") or "unknown",
        challenger=numbers.get("challenger"),
        champion=numbers.get("champion"),
        champion_version=numbers.get("champion_version"),
    )
