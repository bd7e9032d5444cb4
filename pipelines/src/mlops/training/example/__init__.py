"""An example model project: synthetic tabular data, a binary classifier, the generic dvc.yaml and params.yaml.

`init_project` stamps it into a directory as its own Git + DVC repository with an S3 remote and data version 1;
`add_data_version` records and pushes a new version. The demo and the tests use it; `mlops new-model` stamps the
same shape from a cookiecutter template.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.training.project import Project, run_dvc

HERE = Path(__file__).parent
RAW = "data/raw.csv"


def make_dataset(rows: int = 600, seed: int = 0, shift: bool = False) -> pd.DataFrame:
    """x1..x3 numeric, `segment` a/b/c. With `shift`, x1 moves and the label's relation to it flips."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(1.0 if shift else 0.0, 1.0, rows)
    x2, x3 = rng.normal(0.0, 1.0, rows), rng.normal(0.0, 1.0, rows)
    logit = (-2.0 * x1 + x3 + 2.0) if shift else (2.0 * x1 + x2)
    label = (logit + rng.normal(0.0, 0.7, rows) > 0).astype(int)
    segment = rng.choice(["a", "b", "c"], rows)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "segment": segment, "label": label})


def init_project(dest: Path, remote_url: str, model_name: str, frame: pd.DataFrame | None = None) -> Project:
    import git

    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "params.yaml", "README.md"):
        shutil.copy(HERE / name, dest / name)
    params = (dest / "params.yaml").read_text().replace("model_name: example-model", f"model_name: {model_name}")
    (dest / "params.yaml").write_text(params)
    repo = git.Repo.init(dest, initial_branch="main")
    with repo.config_writer() as config:  # a stamped project must commit even where no Git identity is set
        config.set_value("user", "name", "mlops")
        config.set_value("user", "email", "mlops@localhost")
    (dest / "data").mkdir(exist_ok=True)
    run_dvc(dest, "init")
    run_dvc(dest, "config", "core.analytics", "false")  # no usage reports from a platform's model projects
    run_dvc(dest, "remote", "add", "-d", "storage", remote_url)
    run_dvc(dest, "remote", "modify", "storage", "verify", "true")  # re-hash what `dvc pull` downloads
    project = Project(dest)
    project.configure_remote_endpoint()
    repo.git.add(all=True)
    repo.index.commit("model project skeleton")
    add_data_version(project, make_dataset() if frame is None else frame, "data v1")
    return project


def add_data_version(project: Project, frame: pd.DataFrame, message: str) -> str:
    """Write the raw data, `dvc add` it, commit the `.dvc` file and push the data; returns its DVC md5."""
    import git

    frame.to_csv(project.path(RAW), index=False)
    project.dvc("add", RAW)
    project.dvc("push", f"{RAW}.dvc")
    repo = git.Repo(project.root)
    repo.git.add(f"{RAW}.dvc", "data/.gitignore")
    repo.index.commit(message)
    return project.datasets()[RAW]
