"""Every AWS and MLflow client is built here, with explicit timeouts and a bounded retry, so an unreachable
dependency fails a command within seconds and names itself instead of hanging it.

- `aws_client(service)`: boto3 honours AWS_ENDPOINT_URL (the local stack) and the normal credential chain.
- `mlflow_client()`: MLflow reads its HTTP limits from the environment on every request; its defaults (120 s per
  request, 7 retries with doubling back-off) let a dead tracking server hold a command for minutes. MLflow takes one
  timeout for connect and read alike, so before the first call a short probe (`probe_mlflow`) checks that the server
  answers at all: a dead or hung server fails the command in seconds, naming its URL.
- `bound_mlflow_requests()`: the same limits for MLflow's artifact downloads and uploads, including the boto3 client
  MLflow builds itself for S3 artifacts (through the default session's client config), and no progress bar.
- `Registry`: the model registry as the parts use it: references resolved with errors that name the model, aliases
  read, and MLflow's errors turned into MlopsError (TransientError when the server cannot be reached).
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from mlops.core.contracts import ModelRef
from mlops.core.errors import MlopsError, TransientError
from mlops.core.settings import Settings, get_settings
from mlops.core.urls import without_credentials

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
    operator set MLflow's own variables; bound the S3 client MLflow makes for artifacts the same way; and turn off
    the download progress bar, which would write into the JSON log lines on stderr."""
    s = settings or get_settings()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, round(s.mlflow_timeout_seconds))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(s.mlflow_max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # takes effect if mlflow is not imported yet
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run at" on a command's stdout
    _bound_default_boto3_session(s)
    _sagemaker_headers_only_for_sagemaker()


def _sagemaker_headers_only_for_sagemaker() -> None:
    """The sagemaker-mlflow plugin's request header provider says it applies to every tracking server, then fails
    on any URI but a SageMaker tracking server ARN: MLflow logs a warning per request. Keep it for ARNs only."""
    import mlflow
    from mlflow.tracking.request_header import registry

    if str(mlflow.get_tracking_uri()).startswith("arn:"):
        return
    providers = registry._request_header_provider_registry._registry
    providers[:] = [p for p in providers if not type(p).__module__.startswith("sagemaker_mlflow.")]


def _bound_default_boto3_session(s: Settings) -> None:
    """MLflow builds its S3 artifact client with `boto3.client(...)` and a config of its own (no timeouts, so
    botocore's 60 s and legacy retries): a default client config on boto3's default session is merged under it."""
    import boto3
    from botocore.config import Config

    bounds = Config(
        connect_timeout=s.aws_connect_timeout_seconds,
        read_timeout=s.aws_read_timeout_seconds,
        retries={"max_attempts": s.aws_max_attempts, "mode": "standard"},
    )
    core = boto3._get_default_session()._session  # botocore's session behind boto3.client()
    current = core.get_default_client_config()
    core.set_default_client_config(bounds if current is None else bounds.merge(current))


def tracking_url() -> str:
    """The MLflow tracking URI in use, without credentials (for messages)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri:
        import mlflow

        uri = mlflow.get_tracking_uri()
    return without_credentials(uri)


_probed: dict[str, float] = {}  # tracking URI -> when it last answered
_probe_lock = threading.Lock()
PROBE_FRESH_SECONDS = 30.0  # an answer this recent spares the next probe


def probe_mlflow(settings: Settings | None = None) -> None:
    """Raise TransientError naming the URL unless the MLflow tracking server answers an HTTP request within the
    probe timeout (connect and read), in at most `mlflow_probe_attempts` tries. Any HTTP status counts as an answer
    (a proxy may refuse /health); only no answer does not. Non-HTTP tracking URIs (files, databricks) pass."""
    s = settings or get_settings()
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    with _probe_lock:
        if time.monotonic() - _probed.get(uri, -PROBE_FRESH_SECONDS) < PROBE_FRESH_SECONDS:
            return
    factory = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    path = parsed.path.rstrip("/") + "/health"
    problem = "no answer"
    for attempt in range(s.mlflow_probe_attempts):
        if attempt:
            time.sleep(0.5)
        conn = factory(parsed.hostname, parsed.port, timeout=s.mlflow_probe_timeout_seconds)
        try:
            conn.request("GET", path)
            conn.getresponse().read(1024)
        except (OSError, http.client.HTTPException) as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            continue
        finally:
            conn.close()
        with _probe_lock:
            _probed[uri] = time.monotonic()
        return
    raise TransientError(
        f"the MLflow server at {without_credentials(uri)} cannot be reached ({problem}, "
        f"{s.mlflow_probe_attempts} tries of {s.mlflow_probe_timeout_seconds:g}s)"
    )


NO_TRACKING_SERVER = "no tracking server: run `mlops stack up` or set MLFLOW_TRACKING_URI"


def require_tracking_server() -> None:
    """Refuse to go on without a configured tracking server. MLflow would otherwise fall back to a SQLite file
    (`mlflow.db`, `mlruns/`) in the current directory: a registry nobody else sees, inside the project's Git tree."""
    import mlflow

    if not os.environ.get("MLFLOW_TRACKING_URI") and not mlflow.is_tracking_uri_set():  # type: ignore[no-untyped-call]
        raise MlopsError(NO_TRACKING_SERVER)


def mlflow_client(settings: Settings | None = None) -> MlflowClient:
    """An MlflowClient with bounded requests, after checking that a tracking server is configured and answers."""
    require_tracking_server()
    bound_mlflow_requests(settings)
    probe_mlflow(settings)
    from mlflow import MlflowClient

    return MlflowClient()


_UNREACHABLE = (
    "connection",
    "max retries",
    "timed out",
    "timeout",
    "name or service not known",
    "temporary failure in name resolution",
    "remote end closed",
)


def unreachable(exc: BaseException) -> bool:
    """Whether an MLflow error says the server could not be reached (rather than refusing the request)."""
    return any(marker in str(exc).lower() for marker in _UNREACHABLE)


def translate(exc: Exception, what: str) -> MlopsError:
    """An MlflowException as an MlopsError; trouble reaching the server is transient and names the server."""
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    if unreachable(exc):
        return TransientError(f"the MLflow server at {tracking_url()} cannot be reached while {what}: {first[:300]}")
    return MlopsError(f"MLflow refused {what}: {first}")


def _is_missing(exc: Exception) -> bool:
    if unreachable(exc):  # a proxy's "404 not found" page while the server is down is not a missing model
        return False
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
