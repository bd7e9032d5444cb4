"""Ship JSON log lines to CloudWatch Logs without ever blocking the caller.

`emit` only puts the formatted line on a bounded queue (a full queue drops the line and counts it); a daemon thread
sends batches with PutLogEvents, creating the group and stream when missing and retrying transient failures with
backoff. On AWS the group is KMS-encrypted by Terraform (modules/cloudwatch); locally it lives on the moto server.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from typing import Any

from mlops.core.clients import aws_client

# PutLogEvents limits: 10,000 events and 1 MiB per batch (26 bytes of overhead per event)
_MAX_EVENTS = 10_000
_MAX_BATCH_BYTES = 1_048_576 - 10_000


class CloudWatchLogsHandler(logging.Handler):
    def __init__(
        self,
        group: str,
        stream: str | None = None,
        region: str | None = None,
        max_queue: int = 50_000,
        flush_seconds: float = 2.0,
        retries: int = 3,
    ):
        super().__init__()
        self.group = group
        self.stream = stream or f"{socket.gethostname()}-{threading.get_native_id()}-{int(time.time())}"
        self.region, self.flush_seconds, self.retries = region, flush_seconds, retries
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue[tuple[int, str]] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._client: Any = None  # a boto3 CloudWatch Logs client, made on first use
        self._thread = threading.Thread(target=self._run, name="cloudwatch-logs", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait((int(record.created * 1000), self.format(record)))
        except queue.Full:
            self.dropped += 1
        except Exception:  # a log line must never take the caller down
            self.handleError(record)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until what is queued now has been sent."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.flush()
        self._stop.set()
        self._thread.join(timeout=self.flush_seconds + 5)
        while True:  # whatever could not be sent in time is counted, not silently lost
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self.dropped += 1
        super().close()

    # ---- the sending thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._take_batch()
            if batch:
                self._send(batch)

    def _take_batch(self) -> list[tuple[int, str]]:
        batch: list[tuple[int, str]] = []
        size = 0
        deadline = time.monotonic() + self.flush_seconds
        while len(batch) < _MAX_EVENTS:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            size += len(item[1].encode()) + 26
            batch.append(item)
            if size >= _MAX_BATCH_BYTES:
                break
        batch.sort(key=lambda item: item[0])  # PutLogEvents wants time order; stable, so FIFO within a millisecond
        return batch

    def _logs(self) -> Any:
        if self._client is None:
            # one attempt per call: this thread does its own retries, and must not hang on a dead endpoint
            self._client = aws_client("logs", region=self.region, connect_timeout=2, read_timeout=10, max_attempts=1)
        return self._client

    def _ensure_stream(self) -> None:
        logs = self._logs()
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=self.group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)

    def _send(self, batch: list[tuple[int, str]]) -> None:
        events = [{"timestamp": ts, "message": message} for ts, message in batch]
        for attempt in range(self.retries + 1):
            try:
                logs = self._logs()
                try:
                    logs.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=events)
                except logs.exceptions.ResourceNotFoundException:
                    self._ensure_stream()
                    logs.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=events)
                self.sent += len(events)
                return
            except Exception:  # network or throttling: back off, then give up on this batch only
                if attempt == self.retries:
                    self.dropped += len(events)
                    return
                time.sleep(min(0.5 * 2**attempt, 5.0))
