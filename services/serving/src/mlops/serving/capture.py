"""Sampled inference capture to S3, in the format the drift service reads: Parquet objects at
`mlops.core.contracts.capture_key` in the capture bucket, with request_id, timestamp, model_version, one column
per model input, prediction and, for classifiers, prediction_proba.

What is stored of each input follows the columns' data classes (`mlops.core.data_classes.CapturePolicy`): personal
columns hold the keyed HMAC-SHA256 of the value (text), sensitive columns are not stored at all, the rest as they
came. Each object carries the S3 tag `mlops-data-class` (the most restricted class it stores), which the capture
bucket's lifecycle rules expire it by.

Rows are sampled, not requests: each row of a request is kept with probability `MLOPS_SERVE_CAPTURE_SAMPLE_RATE`,
then at most `MLOPS_SERVE_CAPTURE_MAX_ROWS_PER_REQUEST` per request and `MLOPS_SERVE_CAPTURE_MAX_ROWS_PER_SECOND`
per worker are kept, so one caller sending huge requests cannot make up the drift window. Rows left out by a cap are
counted (`mlops_serving_capture_dropped_rows_total{reason}`, and in the log line of each upload).

The request path only picks the rows and queues them; a background thread builds the records, asks the same model
object that answered for the class probabilities of the captured rows, and uploads, so requests never wait on it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.core.clients import aws_client
from mlops.core.contracts import CAPTURE_PREDICTION_COLUMN, CAPTURE_PROBABILITIES_COLUMN, capture_key
from mlops.core.data_classes import OBJECT_TAG, CapturePolicy
from mlops.core.settings import Settings
from mlops.serving import parquet
from mlops.serving.inputs import Column
from mlops.serving.metrics import metrics

log = logging.getLogger("mlops.serving.capture")
FLUSH_ROWS = 5000
MAX_PENDING_ROWS = 50_000  # sampled rows waiting for the capture thread (S3 slow or down); more are dropped


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


def _take(values: Any, index: np.ndarray) -> Any:
    """The rows at `index` of an array, a DataFrame or Series, or a list."""
    if hasattr(values, "iloc"):
        return values.iloc[index]
    if isinstance(values, np.ndarray):
        return values[index]
    return [values[i] for i in index]


@dataclass
class _Sample:
    request_id: str
    model: Any  # the LoadedModel that answered these rows
    at: dt.datetime
    rows: Any
    predictions: Any


def probabilities(model: Any, rows: Any) -> list[str] | None:
    """JSON {class label: probability} per row from the model's classifier, or None when it has none."""
    classifier = getattr(model, "classifier", None)
    if classifier is None or model.schema is None:
        return None
    try:
        proba = classifier.predict_proba(model.schema.frame([rows]))
    except Exception:  # noqa: BLE001 - capture without probabilities rather than lose the rows
        log.warning("class probabilities not computed for the capture", exc_info=True)
        return None
    labels = [c.item() if hasattr(c, "item") else c for c in classifier.classes_]
    return [json.dumps({str(label): float(p) for label, p in zip(labels, row, strict=True)}) for row in proba]


class Capture:
    def __init__(self, settings: Settings, model_name: str, columns: list[Column], policy: CapturePolicy | None = None):
        self.settings, self.model_name = settings, model_name
        self.columns = [c.name for c in columns]  # the signature's, in order: what each row holds
        # no classes given: every column takes its default class (and a personal-looking name needs the key)
        self.policy = policy or CapturePolicy.build(self.columns, {}, None)
        kept = set(self.policy.kept(self.columns))
        # what the Parquet columns hold: sensitive inputs left out, personal ones as hash text
        self.kinds = {c.name: "string" if c.name in self.policy.personal else c.kind for c in columns if c.name in kept}
        self.object_tag = f"{OBJECT_TAG}={self.policy.stored_class(self.columns)}"
        self.versions: set[str] = set()  # the model versions whose rows this policy applies to (the data plane's)
        self.bucket, self.kms_key_arn = settings.capture_bucket, settings.kms_key_arn
        self.sample_rate, self.flush_seconds = settings.serve_capture_sample_rate, settings.serve_capture_flush_seconds
        self.per_request = settings.serve_capture_max_rows_per_request
        self.per_second = settings.serve_capture_max_rows_per_second
        self._tokens, self._refilled = self.per_second, time.monotonic()  # token bucket of the per-second cap
        self._rng = np.random.default_rng()
        self._pending: deque[_Sample] = deque()  # handed over by the request path, consumed by the thread
        self._pending_rows = 0
        self._rows: list[dict] = []  # records of the next file
        self.dropped: Counter[str] = Counter()  # since the last upload, by reason
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="capture", daemon=True)
        self._client: Any = None  # a boto3 S3 client, made on first write

    def start(self) -> None:
        self._thread.start()

    def _drop(self, reason: str, n: int) -> None:
        if n > 0:
            metrics().capture_dropped.labels(reason, self.model_name).inc(n)
            with self._lock:
                self.dropped[reason] += n

    def _allowance(self, wanted: int) -> int:
        now = time.monotonic()
        self._tokens = min(self.per_second, self._tokens + (now - self._refilled) * self.per_second)
        self._refilled = now
        allowed = min(wanted, int(self._tokens))
        self._tokens -= allowed
        return allowed

    def offer(self, request_id: str, model: Any, rows: Any, predictions: Any) -> int:
        """On the request path (the event loop): pick this request's captured rows and queue them. Cheap: no
        conversion happens here. Returns how many rows were queued."""
        n = len(rows)
        wanted = n if self.sample_rate >= 1 else int(self._rng.binomial(n, self.sample_rate))
        kept = min(wanted, self.per_request)
        self._drop("request_cap", wanted - kept)
        allowed = self._allowance(kept)
        self._drop("rate_cap", kept - allowed)
        if allowed == 0:
            return 0
        if self._pending_rows + allowed > MAX_PENDING_ROWS:
            self._drop("backlog", allowed)
            return 0
        index = np.arange(n) if allowed == n else np.sort(self._rng.choice(n, allowed, replace=False))
        sample = _Sample(request_id, model, dt.datetime.now(dt.UTC), _take(rows, index), _take(predictions, index))
        with self._lock:
            self._pending.append(sample)
            self._pending_rows += allowed
        self._wake.set()
        return allowed

    def _records(self, sample: _Sample) -> list[dict[str, Any]]:
        rows = sample.rows.tolist() if hasattr(sample.rows, "tolist") else sample.rows
        preds = prediction_rows(sample.predictions)
        proba = probabilities(sample.model, sample.rows)
        records = []
        for i, (row, pred) in enumerate(zip(rows, preds, strict=False)):
            record = {"request_id": sample.request_id, "timestamp": sample.at, "model_version": sample.model.version}
            for name, value in zip(self.columns, row, strict=True):
                if name in self.kinds:  # sensitive columns are not
                    record[name] = self.policy.value(name, value)
            record[CAPTURE_PREDICTION_COLUMN] = pred
            if proba is not None:
                record[CAPTURE_PROBABILITIES_COLUMN] = proba[i]
            records.append(record)
        return records

    def _drain(self) -> None:
        """Turn what the request path queued into records (in the capture thread)."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                sample = self._pending.popleft()
                self._pending_rows -= len(sample.rows)
            try:
                records = self._records(sample)
            except Exception:  # noqa: BLE001 - one odd prediction shape must not stop the capture
                log.exception("captured rows could not be recorded")
                self._drop("unrecordable", len(sample.rows))
                continue
            with self._lock:
                self._rows.extend(records)

    def flush(self) -> str | None:
        self._drain()
        with self._lock:
            rows, self._rows = self._rows, []
            dropped, self.dropped = dict(self.dropped), Counter()
        if not rows:
            return None
        try:
            return self._write(rows, dropped)
        except Exception:  # noqa: BLE001 - capture must never take serving down; the loss is logged and counted
            log.exception("inference capture upload failed", extra={"rows_lost": len(rows)})
            self._drop("upload_failed", len(rows))
            return None

    def _write(self, rows: list[dict[str, Any]], dropped: dict[str, int]) -> str:
        body = parquet.encode(rows, self.kinds)
        key = capture_key(self.model_name, dt.datetime.now(dt.UTC), uuid.uuid4().hex)
        if self._client is None:
            self._client = aws_client("s3", self.settings)
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn} if self.kms_key_arn else {}
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, Tagging=self.object_tag, **extra)
        metrics().captured_rows.labels(self.model_name).inc(len(rows))
        log.info("inference capture written", extra={"s3_key": key, "rows": len(rows), "dropped_rows": dropped})
        return key

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(min(1.0, self.flush_seconds))
            self._wake.clear()
            self._drain()
            with self._lock:
                full = len(self._rows) >= FLUSH_ROWS
            if full or time.monotonic() - last >= self.flush_seconds:
                self.flush()
                last = time.monotonic()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.flush()
