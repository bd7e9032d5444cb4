"""Drift events (written by the drift service, see services/README.md) as the retraining trigger.

Pending = an event object under `events/drift/<model>/` with no marker under `events/drift-consumed/<model>/`.
All pending events of a model are handled by one retrain (duplicates collapse), then marked consumed with the
outcome, so the marker doubles as the audit of what each event led to.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)
EVENTS = "events/drift"
CONSUMED = "events/drift-consumed"
REQUIRED = ("event_id", "model_name", "detected_at", "dataset_drift")


@dataclass(frozen=True)
class DriftEvent:
    key: str
    event_id: str
    body: dict
    problem: str | None = None  # why the event is unusable (it is consumed without a retrain)


def _s3(settings):
    import boto3

    return boto3.client("s3", region_name=settings.region)


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _parse(key: str, raw: bytes, model: str) -> DriftEvent:
    fallback_id = key.rsplit("/", 1)[-1].removesuffix(".json")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return DriftEvent(key, fallback_id, {}, "not valid JSON")
    if not isinstance(body, dict):
        return DriftEvent(key, fallback_id, {}, "not a JSON object")
    missing = [f for f in REQUIRED if f not in body]
    if missing:
        return DriftEvent(key, str(body.get("event_id", fallback_id)), body, f"missing fields {missing}")
    if body["model_name"] != model:
        return DriftEvent(key, str(body["event_id"]), body, f"model_name {body['model_name']!r} != {model!r}")
    return DriftEvent(key, str(body["event_id"]), body)


def pending(settings, model: str) -> list[DriftEvent]:
    s3 = _s3(settings)
    bucket = settings.data_bucket
    consumed = {k.rsplit("/", 1)[-1].removesuffix(".json") for k in _keys(s3, bucket, f"{CONSUMED}/{model}/")}
    events = []
    for key in sorted(_keys(s3, bucket, f"{EVENTS}/{model}/")):
        event = _parse(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read(), model)
        if event.event_id not in consumed:
            events.append(event)
    return events


def triggering(events: list[DriftEvent]) -> list[DriftEvent]:
    """The events that ask for a retrain: well-formed and reporting dataset drift."""
    return [e for e in events if e.problem is None and e.body.get("dataset_drift") is True]


def consume(settings, model: str, events: list[DriftEvent], outcome: dict) -> None:
    s3 = _s3(settings)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for event in events:
        marker = {"event_key": event.key, "consumed_at": now, "problem": event.problem, **outcome}
        if event.problem:
            log.warning("unusable drift event", extra={"event_key": event.key, "problem": event.problem})
        s3.put_object(
            Bucket=settings.data_bucket,
            Key=f"{CONSUMED}/{model}/{event.event_id}.json",
            Body=json.dumps(marker, sort_keys=True).encode(),
        )
