"""A tiny sklearn model saved as a local MLflow model directory, so `mlops serve` can start without a tracking
server. Trained in the dev venv (full MLflow); every environment under test loads it with its own MLflow."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

# MLflow >= 3.17 refuses to save sklearn tree models in the skops format unless the tree node class is trusted
# explicitly. This model is trained right here by the benchmark, so it is trusted deliberately.
TRUSTED_TREE_TYPES = ["sklearn.tree._tree.Tree"]


def save_tiny_model(dest: Path) -> Path:
    import logging

    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.tree import DecisionTreeClassifier

    logging.getLogger("mlflow").setLevel(logging.ERROR)  # its pip-version notice for conda.yaml is not ours
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(500, 8)), columns=[f"x{i}" for i in range(8)])
    target = (frame["x0"] - frame["x1"] > 0).astype(int)
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(frame, target)
    mlflow.sklearn.save_model(
        model,
        str(dest),
        serialization_format="skops",
        skops_trusted_types=TRUSTED_TREE_TYPES,
        signature=infer_signature(frame, model.predict(frame)),
        # stated, not inferred: inferring them exports the whole uv project, which takes seconds
        pip_requirements=[f"mlflow-skinny=={version('mlflow')}", f"scikit-learn=={version('scikit-learn')}"],
    )
    return dest
