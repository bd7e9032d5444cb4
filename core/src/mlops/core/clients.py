"""Every AWS and MLflow client is built here, with explicit timeouts and a bounded retry, so an unreachable
dependency fails a command within seconds and names itself instead of hanging it.

- `aws_client(service)`: boto3 honours AWS_ENDPOINT_URL (the local stack) and the normal credential chain.
- `mlflow_client()`: MLflow reads its HTTP limits from the environment on every request; its defaults (120 s per
  request, 7 retries with doubling back-off) let a dead tracking server hold a command for minutes.
- `Registry`: the model registry as the parts use it: references resolved with errors that name the model, aliases
  read, and MLflow's errors turned into MlopsError (TransientError when the server cannot be reached).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mlops.core.contracts import ModelRef
from mlops.core.errors import MlopsError, TransientError
from mlops.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion


def aws_client(
    service: str,
    settings: Settings | None = None,
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> Any:
    """A boto3 client for `service` in the configured region. Callers with their own retry loop pass
    max_attempts=1, so botocore's retries do not multiply theirs; `credentials` (key id, secret) replace the normal
    chain only where no chain exists yet (the local stack provisioning itself)."""
    import boto3
    from botocore.config import Config

    s = settings or get_settings()
    region = region or s.region
    config = Config(
        region_name=region,
        connect_timeout=connect_timeout if connect_timeout is not None else s.aws_connect_timeout_seconds,
        read_timeout=read_timeout if read_timeout is not None else s.aws_read_timeout_seconds,
        retries={"max_attempts": max_attempts or s.aws_max_attempts, "mode": "standard"},
    )
    keys = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]} if credentials else {}
    session = boto3.session.Session(region_name=region, **keys)
    return session.client(service, config=config, endpoint_url=endpoint_url)


def bound_mlflow_requests(settings: Settings | None = None) -> None:
    """Give MLflow's HTTP calls (client, fluent API, model downloads) our timeout and retry bound, unless the
    operator set MLflow's own variables."""
    s = settings or get_settings()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(s.mlflow_timeout_seconds)))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(s.mlflow_max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def mlflow_client(settings: Settings | None = None) -> MlflowClient:
    bound_mlflow_requests(settings)
    from mlflow import MlflowClient

    return MlflowClient()


_UNREACHABLE = ("connection", "max retries", "timed out", "timeout", "name or service not known")


def translate(exc: Exception, what: str) -> MlopsError:
    """An MlflowException as an MlopsError; trouble reaching the server is transient."""
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    if any(marker in text.lower() for marker in _UNREACHABLE):
        return TransientError(f"the MLflow server cannot be reached while {what}: {first}")
    return MlopsError(f"MLflow refused {what}: {first}")


def _is_missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower()


class Registry:
    def __init__(self, client: MlflowClient | None = None, settings: Settings | None = None):
        self.client = client if client is not None else mlflow_client(settings)

    def exists(self, name: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
            return True
        except MlflowException as exc:
            if _is_missing(exc):
                return False
            raise translate(exc, f"looking up model {name!r}") from None

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """The version a reference names, with a clear error when the model, version or alias is unknown."""
        from mlflow.exceptions import MlflowException

        if not self.exists(ref.name):
            raise MlopsError(f"registered model {ref.name!r} does not exist")
        try:
            if ref.version is not None:
                return self.client.get_model_version(ref.name, ref.version)
            return self.client.get_model_version_by_alias(ref.name, ref.alias or "")
        except MlflowException as exc:
            if _is_missing(exc):
                what = f"version {ref.version}" if ref.version else f"alias @{ref.alias}"
                raise MlopsError(f"model {ref.name!r} has no {what}") from None
            raise translate(exc, f"resolving {ref}") from None

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version an alias points at, or None when the model or the alias does not exist yet."""
        from mlflow.exceptions import MlflowException

        if not self.exists(name):
            return None
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if _is_missing(exc):
                return None
            raise translate(exc, f"reading alias @{alias} of {name!r}") from None

    def set_alias(self, name: str, alias: str, version: str | None) -> None:
        """Point `alias` at `version`, or remove it when version is None."""
        from mlflow.exceptions import MlflowException

        try:
            if version is None:
                self.client.delete_registered_model_alias(name, alias)
            else:
                self.client.set_registered_model_alias(name, alias, version)
        except MlflowException as exc:
            raise translate(exc, f"moving @{alias} of {name!r}") from None

    def version_tags(self, ref: ModelRef) -> dict[str, str]:
        return dict(self.resolve(ref).tags)
