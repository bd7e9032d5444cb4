"""Drift events (written by `mlops drift run`, format `mlops.core.contracts.DriftEvent`) as the retraining trigger.

Pending = an event object under the model's drift events prefix with no consumed marker. All pending events of a
model are handled by one retrain (duplicates collapse), then marked consumed with the outcome, so the marker
doubles as the audit of what each event led to.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mlops.core.clients import aws_client
from mlops.core.contracts import DriftEvent, consumed_event_key, consumed_events_prefix, drift_events_prefix
from mlops.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingEvent:
    key: str
    event_id: str
    event: DriftEvent | None
    problem: str | None = None  # why the event is unusable (it is consumed without a retrain)


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _parse(key: str, raw: bytes, model: str) -> PendingEvent:
    fallback_id = key.rsplit("/", 1)[-1].removesuffix(".json")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return PendingEvent(key, fallback_id, None, "not valid JSON")
    if not isinstance(body, dict):
        return PendingEvent(key, fallback_id, None, "not a JSON object")
    event_id = str(body.get("event_id") or fallback_id)
    try:
        event = DriftEvent.model_validate(body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        return PendingEvent(key, event_id, None, f"missing or invalid fields {fields}")
    if event.model_name != model:
        return PendingEvent(key, event_id, event, f"model_name {event.model_name!r} != {model!r}")
    return PendingEvent(key, event_id, event)


def pending(settings: Settings, model: str) -> list[PendingEvent]:
    s3 = aws_client("s3", settings)
    bucket = settings.data_bucket
    consumed = {k.rsplit("/", 1)[-1].removesuffix(".json") for k in _keys(s3, bucket, consumed_events_prefix(model))}
    events = []
    for key in sorted(_keys(s3, bucket, drift_events_prefix(model))):
        event = _parse(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read(), model)
        if event.event_id not in consumed:
            events.append(event)
    return events


def triggering(events: list[PendingEvent]) -> list[PendingEvent]:
    """The events that ask for a retrain: well-formed and reporting data or performance drift."""
    return [e for e in events if e.problem is None and e.event is not None and e.event.asks_for_retrain]


def consume(settings: Settings, model: str, events: list[PendingEvent], outcome: dict[str, Any]) -> None:
    s3 = aws_client("s3", settings)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for event in events:
        marker = {"event_key": event.key, "consumed_at": now, "problem": event.problem, **outcome}
        if event.problem:
            log.warning("unusable drift event", extra={"event_key": event.key, "problem": event.problem})
        s3.put_object(
            Bucket=settings.data_bucket,
            Key=consumed_event_key(model, event.event_id),
            Body=json.dumps(marker, sort_keys=True).encode(),
        )
