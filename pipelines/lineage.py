"""`mlops lineage` (which data, code, params, metrics and gate decision made a model version) and
`mlops reproduce` (check that data version out through DVC, retrain, compare the metrics)."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from pipelines import stages
from pipelines.errors import PipelineError
from pipelines.gate import DATA_TAG_PREFIX
from pipelines.project import Project
from pipelines.registry import client, parse_model_uri, resolve, translate
from pipelines.workspace import clone, pull_inputs, repro


def lineage(uri: str) -> dict:
    from mlflow.exceptions import MlflowException

    ref = parse_model_uri(uri)
    mlflow_client = client()
    version = resolve(mlflow_client, ref)
    tags = dict(version.tags)
    try:
        run = mlflow_client.get_run(version.run_id) if version.run_id else None
    except MlflowException as exc:
        raise translate(exc, f"reading the run of {uri}") from None
    data = {
        key[len(DATA_TAG_PREFIX) : -len(".md5")]: value
        for key, value in sorted(tags.items())
        if key.startswith(DATA_TAG_PREFIX) and key.endswith(".md5")
    }
    return {
        "model": ref.name,
        "version": version.version,
        "aliases": list(getattr(version, "aliases", []) or []),
        "run_id": version.run_id,
        "data": data,
        "dvc_remote": tags.get("mlops.dvc.remote_url"),
        "dvc_lock_md5": tags.get("mlops.dvc.lock_md5"),
        "git_commit": tags.get("mlops.git.commit"),
        "git_dirty": tags.get("mlops.git.dirty"),
        "project": tags.get("mlops.project.url"),
        "params": dict(sorted(run.data.params.items())) if run else {},
        "metrics": dict(sorted(run.data.metrics.items())) if run else {},
        "gate": {
            "decision": tags.get("mlops.gate.decision"),
            "reasons": json.loads(tags.get("mlops.gate.reasons", "[]")),
            "numbers": json.loads(tags.get("mlops.gate.numbers", "{}")),
        },
    }


def reproduce(uri: str, work_dir: Path | None = None, project_url: str | None = None, tolerance: float = 1e-9) -> dict:
    """Retrain the version's exact commit and data in a fresh clone (nothing is registered) and compare metrics."""
    info = lineage(uri)
    url = project_url or info["project"]
    if not url or not info["git_commit"] or not info["data"]:
        raise PipelineError(f"{uri} lacks lineage tags (project, commit, data md5); it cannot be reproduced")
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp, clone(url, Path(tmp), commit=info["git_commit"]) as ws:
        project = Project(ws, _params_file(uri))
        recorded = project.datasets()
        if recorded != info["data"]:
            raise PipelineError(f"commit {info['git_commit'][:10]} names data {recorded}, the tags {info['data']}")
        pull_inputs(project)
        repro(project, force=True)
        fresh = json.loads(project.path(stages.METRICS_FILE).read_text())
    from pipelines.register import flat_metrics

    new = flat_metrics(fresh)
    rows = []
    for name, old in sorted(info["metrics"].items()):
        value = new.get(name)
        same = value is not None and math.isclose(old, value, rel_tol=0, abs_tol=tolerance)
        rows.append({"metric": name, "registered": old, "reproduced": value, "match": same})
    return {
        "model": uri,
        "commit": info["git_commit"],
        "data": info["data"],
        "metrics": rows,
        "match": bool(rows) and all(r["match"] for r in rows),
    }


def _params_file(uri: str) -> str:
    version = resolve(client(), parse_model_uri(uri))
    return dict(version.tags).get("mlops.project.params", "params.yaml")
