"""The MLflow model registry as this project uses it: `models:/NAME@alias` and `models:/NAME/N` URIs, the champion
and previous aliases, and MLflow errors turned into messages that name the model."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import PipelineError, TransientError

CHAMPION = "champion"
PREVIOUS = "previous"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[A-Za-z0-9_-]+))$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str | None = None
    alias: str | None = None


def parse_model_uri(uri: str) -> ModelRef:
    match = _URI.match(uri.strip())
    if not match:
        raise PipelineError(f"{uri!r} is not a model URI; expected models:/NAME/VERSION or models:/NAME@ALIAS")
    return ModelRef(match["name"], match["version"], match["alias"])


def client():
    from mlflow import MlflowClient

    return MlflowClient()


def _is_missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower()


def translate(exc: Exception, what: str) -> PipelineError:
    """An MlflowException as a PipelineError; connection trouble is transient."""
    text = str(exc)
    if "connection" in text.lower() or "max retries" in text.lower():
        return TransientError(f"the MLflow server cannot be reached while {what}: {text.splitlines()[0]}")
    return PipelineError(f"MLflow refused {what}: {text.splitlines()[0]}")


def model_exists(mlflow_client, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
        return True
    except MlflowException as exc:
        if _is_missing(exc):
            return False
        raise translate(exc, f"looking up model {name!r}") from None


def resolve(mlflow_client, ref: ModelRef):
    """The ModelVersion a reference names, with a clear error when the model, version or alias is unknown."""
    from mlflow.exceptions import MlflowException

    if not model_exists(mlflow_client, ref.name):
        raise PipelineError(f"registered model {ref.name!r} does not exist")
    try:
        if ref.version is not None:
            return mlflow_client.get_model_version(ref.name, ref.version)
        return mlflow_client.get_model_version_by_alias(ref.name, ref.alias)
    except MlflowException as exc:
        if _is_missing(exc):
            what = f"version {ref.version}" if ref.version else f"alias @{ref.alias}"
            raise PipelineError(f"model {ref.name!r} has no {what}") from None
        raise translate(exc, f"resolving {ref}") from None


def alias_version(mlflow_client, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the model or the alias does not exist yet."""
    from mlflow.exceptions import MlflowException

    if not model_exists(mlflow_client, name):
        return None
    try:
        return mlflow_client.get_model_version_by_alias(name, alias).version
    except MlflowException as exc:
        if _is_missing(exc):
            return None
        raise translate(exc, f"reading alias @{alias} of {name!r}") from None


def version_count(mlflow_client, name: str) -> int:
    if not model_exists(mlflow_client, name):
        return 0
    return len(mlflow_client.search_model_versions(f"name='{name}'"))
