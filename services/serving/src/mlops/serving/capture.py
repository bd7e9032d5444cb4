"""Sampled inference capture to S3, in the format the drift service reads: Parquet objects at
`mlops.core.contracts.capture_key` in the capture bucket, with request_id, timestamp, model_version, one column
per model input (configured fields nulled) and prediction.

Rows are buffered in memory and written by a background thread, so requests never wait on S3.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import uuid
from typing import Any

from mlops.core.clients import aws_client
from mlops.core.contracts import capture_key
from mlops.core.settings import Settings
from mlops.serving import parquet
from mlops.serving.inputs import Column
from mlops.serving.metrics import metrics

log = logging.getLogger("mlops.serving.capture")
FLUSH_ROWS = 5000


def _prediction_value(value):
    """Scalars stay scalars; anything structured (probabilities, records) is stored as JSON text."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        value = value.tolist()
    return json.dumps(value, default=str)


def prediction_rows(predictions) -> list:
    if hasattr(predictions, "to_dict") and hasattr(predictions, "columns"):
        return [json.dumps(r, default=str) for r in predictions.to_dict(orient="records")]
    return [_prediction_value(v) for v in list(predictions)]


class Capture:
    def __init__(self, settings: Settings, model_name: str, columns: list[Column]):
        self.settings, self.model_name = settings, model_name
        self.kinds = {c.name: c.kind for c in columns}  # the signature's, in order: what the Parquet columns hold
        self.columns = list(self.kinds)
        self.bucket, self.kms_key_arn = settings.capture_bucket, settings.kms_key_arn
        self.sample_rate, self.flush_seconds = settings.serve_capture_sample_rate, settings.serve_capture_flush_seconds
        self.redact = {f.strip() for f in settings.serve_capture_redact.split(",") if f.strip()}
        self._rows: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="capture", daemon=True)
        self._client: Any = None  # a boto3 S3 client, made on first write

    def start(self) -> None:
        self._thread.start()

    def sampled(self) -> bool:
        return self.sample_rate >= 1 or random.random() < self.sample_rate  # noqa: S311 - sampling, not security

    def add(self, request_id: str, model_version: str, rows, predictions) -> None:
        now = dt.datetime.now(dt.UTC)
        preds = prediction_rows(predictions)
        records = []
        for row, pred in zip(rows.tolist() if hasattr(rows, "tolist") else rows, preds, strict=False):
            record = {"request_id": request_id, "timestamp": now, "model_version": model_version}
            for name, value in zip(self.columns, row, strict=True):
                record[name] = None if name in self.redact else value
            record["prediction"] = pred
            records.append(record)
        with self._lock:
            self._rows.extend(records)
            full = len(self._rows) >= FLUSH_ROWS
        if full:
            threading.Thread(target=self.flush, name="capture-flush", daemon=True).start()

    def flush(self) -> str | None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return None
        try:
            return self._write(rows)
        except Exception:  # noqa: BLE001 - capture must never take serving down; the loss is logged
            log.exception("inference capture upload failed", extra={"rows_lost": len(rows)})
            return None

    def _write(self, rows: list[dict[str, Any]]) -> str:
        body = parquet.encode(rows, self.kinds)
        key = capture_key(self.model_name, dt.datetime.now(dt.UTC), uuid.uuid4().hex)
        if self._client is None:
            self._client = aws_client("s3", self.settings)
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn} if self.kms_key_arn else {}
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        metrics().captured_rows.inc(len(rows))
        log.info("inference capture written", extra={"s3_key": key, "rows": len(rows)})
        return key

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
