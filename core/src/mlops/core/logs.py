"""JSON-lines logging, configured once for every service, with a request id carried in a context variable."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
import uuid
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mlops.core.cloudwatch_logs import CloudWatchLogsHandler

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# attributes every LogRecord has; anything else passed via `extra=` is emitted as a field
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(
    level: str = "INFO", stream: TextIO | None = None, log_group: str | None = None, region: str | None = None
) -> CloudWatchLogsHandler | None:
    """Route every logger through one JSON handler on stderr, and to CloudWatch Logs when `log_group` is set
    (idempotent). Returns the CloudWatch handler, if any."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mlops", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
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
    # boto3's own loggers would otherwise log every PutLogEvents call back into the queue
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    return cloudwatch


def new_request_id() -> str:
    return uuid.uuid4().hex
