"""`mlops reproduce`: check a version's exact commit and data version out through DVC in a fresh clone, retrain
(nothing is registered) and compare the metrics with the registered ones."""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from mlops.core.clients import Registry
from mlops.core.errors import MlopsError
from mlops.core.urls import without_credentials
from mlops.registry.lineage import lineage
from mlops.training import stages
from mlops.training.progress import Steps
from mlops.training.project import Project
from mlops.training.register import flat_metrics
from mlops.training.workspace import clone, pull_inputs, repro


def reproduce(
    registry: Registry,
    uri: str,
    work_dir: Path | None = None,
    project_url: str | None = None,
    tolerance: float = 1e-9,
    steps: Steps | None = None,
) -> dict[str, Any]:
    """`steps` shows the long steps (clone, pull, retrain) on the console, one line each."""
    steps = steps or Steps.silent()
    info = lineage(registry, uri)
    url = project_url or info["project"]
    if not url or not info["git_commit"] or not info["data"]:
        raise MlopsError(f"{uri} lacks lineage tags (project, commit, data md5); it cannot be reproduced")
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp, contextlib.ExitStack() as stack:
        with steps.step(f"cloning {without_credentials(url)} at {info['git_commit'][:10]}"):
            ws = stack.enter_context(clone(url, Path(tmp), commit=info["git_commit"]))
        project = Project(ws, info["params_file"])
        recorded = project.datasets()
        if recorded != info["data"]:
            raise MlopsError(f"commit {info['git_commit'][:10]} names data {recorded}, the tags {info['data']}")
        pull_inputs(project, steps)
        repro(project, force=True, steps=steps)
        fresh = json.loads(project.path(stages.METRICS_FILE).read_text())
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
