"""JSON-lines logging, configured once for every service, with a request id carried in a context variable.

The console is for people: it shows the platform's own lines at its level, libraries' lines (httpx, urllib3,
MLflow, alembic, uvicorn, DVC, ...) only from ERROR up, and no access line for a health probe or a scrape. Every line,
libraries' included, goes to the log file (`mlops` commands: `<state dir>/logs/mlops.log`) and to CloudWatch Logs
when a group is set. `verbose` (`mlops --verbose`, MLOPS_VERBOSE=true) puts everything on the console too.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mlops.core.cloudwatch_logs import CloudWatchLogsHandler

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# attributes every LogRecord has; anything else passed via `extra=` is emitted as a field
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colours and cursor moves from tools whose output we quote

# loggers of the libraries we use: their records go to the log file; the console shows them from ERROR up
LIBRARY_LOGGERS = (
    "httpx", "httpcore", "urllib3", "botocore", "boto3", "s3transfer", "aiobotocore", "s3fs", "fsspec", "mlflow",
    "alembic", "sqlalchemy", "uvicorn", "gunicorn", "werkzeug", "git", "dvc", "filelock", "asyncio", "skops",
    "py.warnings", "numexpr", "matplotlib", "PIL", "cookiecutter", "binaryornot", "moto", "kubernetes", "jenkinsapi",
)  # fmt: skip
ACCESS_LOGGER = "mlops.serving.access"
PROBE_PATHS = ("/health/", "/v2/health/", "/metrics")  # probes and scrapes, not traffic


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _plain(record.getMessage()),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _plain(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = _plain(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def is_library(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in LIBRARY_LOGGERS)


class ConsoleFilter(logging.Filter):
    """What a person reads: no library chatter below ERROR, no access line per health probe or scrape."""

    def __init__(self, verbose: bool = False) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose:
            return True
        if is_library(record.name):
            return record.levelno >= logging.ERROR
        if record.name == ACCESS_LOGGER:
            return not str(getattr(record, "path", "")).startswith(PROBE_PATHS)
        return True


def verbose_from_env() -> bool:
    return os.environ.get("MLOPS_VERBOSE", "").strip().lower() in ("1", "true", "yes", "on")


def _route_libraries_through_root() -> None:
    """Some libraries configure logging of their own: MLflow, on import, gives its logger a console handler and stops
    propagation; alembic's fileConfig (run by MLflow's migrations) does the same and raises its level. Their lines
    would then reach the console unfiltered and miss the log file. Undo that for the ones already loaded, and ask
    MLflow not to do it when it is imported later."""
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    for name in LIBRARY_LOGGERS:
        if name not in logging.Logger.manager.loggerDict:
            continue  # not loaded: nothing to undo, and no logger created for nothing
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        library.propagate, library.disabled = True, False
        library.setLevel(logging.NOTSET)


def configure_logging(
    level: str = "INFO",
    stream: TextIO | None = None,
    log_group: str | None = None,
    region: str | None = None,
    *,
    console_level: str | None = None,
    verbose: bool | None = None,
    log_file: Path | None = None,
) -> CloudWatchLogsHandler | None:
    """Route every logger through one JSON handler on stderr (at `console_level`, default `level`, filtered for
    people unless `verbose`; None reads MLOPS_VERBOSE), to `log_file` when given and writable, and to CloudWatch Logs
    when `log_group` is set (idempotent). Returns the CloudWatch handler, if any."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mlops", False):
            root.removeHandler(handler)
            handler.close()
    verbose = verbose_from_env() if verbose is None else verbose
    console = logging.StreamHandler(stream or sys.stderr)
    console.setLevel(level if verbose else (console_level or level))
    console.addFilter(ConsoleFilter(verbose))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8", delay=False))
        except OSError:  # a read-only home (a container): the console and CloudWatch still get the lines
            pass
    cloudwatch = None
    if log_group:
        # only processes that ship logs pay for importing boto3 and the client factory
        from mlops.core.cloudwatch_logs import CloudWatchLogsHandler

        cloudwatch = CloudWatchLogsHandler(log_group, region=region)
        handlers.append(cloudwatch)
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
        handler._mlops = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    _route_libraries_through_root()
    logging.captureWarnings(True)  # Python warnings (libraries' deprecations) become `py.warnings` records
    # boto3's own loggers would otherwise log every PutLogEvents call back into the queue
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    return cloudwatch


def new_request_id() -> str:
    return uuid.uuid4().hex
