"""Which data, code, params, metrics and gate decision made a model version, read back from its registry tags
(written once, by `mlops.training.register`), and what a version's lineage lacks."""

from __future__ import annotations

import json
from typing import Any

from mlops.core.clients import Registry, translate
from mlops.core.contracts import ModelRef, Tags


def lineage_problems(tags: dict[str, str]) -> list[str]:
    """What keeps these tags from naming the exact code and data a version came from (empty: nothing)."""
    problems = [f"lineage tag {key} is missing" for key in Tags.REQUIRED_LINEAGE if not tags.get(key)]
    if not any(md5 for md5 in Tags.data_paths(tags).values()):
        problems.append(f"no input dataset md5 ({Tags.DATA_PREFIX}*) is recorded")
    if tags.get(Tags.GIT_DIRTY, "false") != "false":
        problems.append("the Git tree had uncommitted changes, so the commit does not describe the code")
    return problems


def lineage(registry: Registry, uri: str) -> dict[str, Any]:
    """Everything recorded about the version `uri` names (models:/NAME/N or models:/NAME@ALIAS)."""
    from mlflow.exceptions import MlflowException

    ref = ModelRef.parse(uri)
    version = registry.resolve(ref)
    tags = dict(version.tags)
    try:
        run = registry.client.get_run(version.run_id) if version.run_id else None
    except MlflowException as exc:
        raise translate(exc, f"reading the run of {uri}") from None
    return {
        "model": ref.name,
        "version": version.version,
        "aliases": list(getattr(version, "aliases", []) or []),
        "run_id": version.run_id,
        "data": Tags.data_paths(tags),
        "dvc_remote": tags.get(Tags.DVC_REMOTE_URL),
        "dvc_lock_md5": tags.get(Tags.DVC_LOCK_MD5),
        "git_commit": tags.get(Tags.GIT_COMMIT),
        "git_dirty": tags.get(Tags.GIT_DIRTY),
        "project": tags.get(Tags.PROJECT_URL),
        "params_file": tags.get(Tags.PROJECT_PARAMS, "params.yaml"),
        "params": dict(sorted(run.data.params.items())) if run else {},
        "metrics": dict(sorted(run.data.metrics.items())) if run else {},
        "gate": {
            "decision": tags.get(Tags.GATE_DECISION),
            "reasons": json.loads(tags.get(Tags.GATE_REASONS, "[]")),
            "numbers": json.loads(tags.get(Tags.GATE_NUMBERS, "{}")),
        },
    }
