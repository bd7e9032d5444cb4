"""The scheduled drift job (`mlops drift run`): the capture window of a model against the reference profile of the
version its champion alias names, performance drift where labels have arrived, the report in S3 and, on drift,
the event that triggers a retrain."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.clients import aws_client
from mlops.core.data_classes import DataClass, classes_for
from mlops.core.settings import Settings
from mlops.drift import publish
from mlops.drift.check import any_drift, estimate_performance, matching_columns, run_check
from mlops.drift.config import DriftConfig
from mlops.drift.data import capture_window, labels_since
from mlops.drift.html import render_html
from mlops.drift.mlflow_io import load_model_profile
from mlops.drift.performance import performance_drift, performance_metrics
from mlops.drift.profile import ProfileError, ReferenceProfile

log = logging.getLogger("mlops.drift")
LABEL_LOOKBACK = dt.timedelta(days=31)  # labels arrive late: how far back a --rows window looks for them


@dataclass
class JobResult:
    report: dict[str, Any]
    report_uri: str
    event_uri: str | None


def reference_for(
    settings: Settings, model: str, profile_path: Path | None
) -> tuple[ReferenceProfile, str | None, dict[str, str]]:
    """The given profile file, else the one logged beside the version behind the champion alias (with its version
    and the data classes its capture applied: declared, else inferred)."""
    classes: dict[str, DataClass] = {}
    if profile_path:
        ref, version = ReferenceProfile.load(profile_path), None
    else:
        ref, version, classes = load_model_profile(model, settings.champion_alias)
    if ref.model_name and ref.model_name != model:
        raise ProfileError(f"the profile belongs to model {ref.model_name!r}, not {model!r}")
    # what the capture applied: the declared classes, else the one inferred from the name (an `email` column is
    # hashed whether declared or not), exactly as serving's capture policy decides (mlops.core.data_classes)
    features = [name for name in ref.columns if name != ref.target]
    return ref, version, dict(classes_for(features, classes))


def run_job(
    settings: Settings,
    model: str,
    config: DriftConfig,
    *,
    span: dt.timedelta | None,
    rows: int | None,
    profile_path: Path | None,
    write_event: bool,
    window_label: str | None,
) -> JobResult:
    s3 = aws_client("s3", settings)
    end = dt.datetime.now(dt.UTC)
    ref, version, classes = reference_for(settings, model, profile_path)
    current = capture_window(s3, settings.capture_bucket, model, ref, end=end, span=span, rows=rows)
    matching_columns(ref, current.columns, f"the capture of {model!r}")
    report = run_check(ref, current.summaries, current.columns, config, current_rows=current.rows,
                       data_classes=classes)  # fmt: skip
    labels = None
    if current.predictions is not None and ref.task:
        labels = labels_since(s3, settings.capture_bucket, model, end - (span or LABEL_LOOKBACK), end)
        joined = current.predictions.merge(labels, on="request_id", how="inner")
        metrics = performance_metrics(joined["label"], joined["prediction"], ref.task) if len(joined) else {}
        report["model"]["performance"] = performance_drift(
            ref.reference_metrics, metrics, len(joined), min_rows=config.min_rows, abs_tolerance=0.05,
            rel_tolerance=0.1)  # fmt: skip
    arrived = None
    if labels is not None and len(labels):  # the estimate beside the realised values, row for row
        arrived = current.predictions[["request_id"]].merge(labels, on="request_id", how="left")["label"].to_numpy()
    estimated = estimate_performance(ref, current.probabilities, config, arrived)
    if estimated is not None:
        report["model"]["estimated_performance"] = estimated
    perf_drift = bool((report["model"].get("performance") or {}).get("drift"))
    report["summary"].update(model_name=model, model_version=version, window=window_label,
                             sources=len(current.sources))  # fmt: skip
    stamp, event_id = publish.new_event_id()
    html = render_html(publish.clean(report))
    report_uri = publish.upload_report(s3, settings.data_bucket, model, report, html, stamp, event_id)
    event_uri = None
    if (any_drift(report) or perf_drift) and write_event:
        event = publish.drift_event(report, model, version, report_uri, event_id, perf_drift)
        event_uri = publish.put_event(s3, settings.data_bucket, event, stamp)
    log.info("drift check done", extra={"model": model, "drift_share": report["drift_share"],
                                        "report_uri": report_uri})  # fmt: skip
    return JobResult(report, report_uri, event_uri)
