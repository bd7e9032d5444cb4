"""The reference profile as an MLflow artifact beside the model: `drift/reference_profile.json` on the
training run; `mlops drift run` finds it through the registry alias serving follows."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlops.core.clients import Registry, mlflow_client
from mlops.core.contracts import ModelRef
from mlops.core.data_classes import DataClass
from mlops.core.errors import MlopsError, TransientError
from mlops.drift.profile import MLFLOW_ARTIFACT_PATH, ProfileError, ReferenceProfile


def log_profile(profile: ReferenceProfile, run_id: str) -> str:
    """Log the profile to an MLflow run; return the artifact URI."""
    directory, name = MLFLOW_ARTIFACT_PATH.rsplit("/", 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = profile.save(Path(tmp) / name)
        client = mlflow_client()
        client.log_artifact(run_id, str(path), artifact_path=directory)
        return f"{client.get_run(run_id).info.artifact_uri}/{MLFLOW_ARTIFACT_PATH}"


def load_model_profile(model: str, alias: str) -> tuple[ReferenceProfile, str, dict[str, DataClass]]:
    """The profile logged on the run of the model version `alias` points at; returns it, that version and the data
    classes the version declares (its capture's policy)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from mlops.core.data_classes import DataClassError, classes_from_tags

    try:
        version = Registry().resolve(ModelRef(model, alias=alias))
    except TransientError:
        raise
    except MlopsError as exc:
        raise ProfileError(f"no reference profile for {model!r}: {exc}") from None
    if not version.run_id:
        raise ProfileError(f"model {model!r} version {version.version} has no training run to hold a profile")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=MLFLOW_ARTIFACT_PATH, dst_path=tmp
            )
        except (MlflowException, OSError) as exc:
            raise ProfileError(
                f"run {version.run_id} of model {model!r} version {version.version} has no "
                f"{MLFLOW_ARTIFACT_PATH} artifact ({type(exc).__name__}); log one with `mlops drift profile "
                "--log-to-run RUN_ID`"
            ) from None
        profile = ReferenceProfile.load(local)
    try:
        classes = classes_from_tags(version.tags or {}, f"model {model!r} version {version.version}")
    except DataClassError as exc:
        raise ProfileError(str(exc)) from None
    return profile, str(version.version), dict(classes)
