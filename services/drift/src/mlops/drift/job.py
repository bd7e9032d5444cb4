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
from mlops.drift.emr import check_on_emr
from mlops.drift.engines import choose_engine, emr_configured, estimated_rows, window_objects
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
    engine: str = "local"


@dataclass
class Computed:
    """What an engine hands back for a window: the check's report and the capture objects it read; the local
    engine also keeps the rows' predictions and probabilities (the labels join and the label-free estimate)."""

    report: dict[str, Any]
    sources: list[str]
    engine: str
    predictions: Any = None
    probabilities: Any = None


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


def compute_local(s3, settings: Settings, model: str, ref: ReferenceProfile, config: DriftConfig,
                  classes: dict[str, str], *, end: dt.datetime, span: dt.timedelta | None,
                  rows: int | None) -> Computed:  # fmt: skip
    """This machine: the window read object by object and reduced to summaries (mlops.drift.data)."""
    current = capture_window(s3, settings.capture_bucket, model, ref, end=end, span=span, rows=rows)
    matching_columns(ref, current.columns, f"the capture of {model!r}")
    report = run_check(ref, current.summaries, current.columns, config, current_rows=current.rows,
                       data_classes=classes)  # fmt: skip
    return Computed(report, current.sources, "local", current.predictions, current.probabilities)


def compute(s3, settings: Settings, model: str, ref: ReferenceProfile, config: DriftConfig,
            classes: dict[str, str], *, end: dt.datetime, span: dt.timedelta | None, rows: int | None,
            engine: str, stamp: str, run_token: str) -> Computed:  # fmt: skip
    """The one step that differs by engine. Every engine but `local` starts from the window's capture objects
    (counted from their footers, which is also how `auto` chooses)."""
    if engine == "local" or (engine == "auto" and not emr_configured(settings)):  # nothing to choose from
        return compute_local(s3, settings, model, ref, config, classes, end=end, span=span, rows=rows)
    window = window_objects(s3, settings.capture_bucket, model, end=end, span=span, rows=rows)
    chosen = choose_engine(settings, engine, estimated_rows(window))
    log.info("drift engine %s for %d objects of %d rows", chosen, len(window.objects), window.object_rows)
    if chosen == "local":
        return compute_local(s3, settings, model, ref, config, classes, end=end, span=span, rows=rows)
    if chosen == "spark":
        from mlops.drift.emr_entry import spark_check
        from mlops.drift.spark import session

        report = spark_check(session(), ref, window.uris, window.bounds, config, classes)
    else:
        report = check_on_emr(settings, model, ref, window, config, classes, stamp=stamp, run_token=run_token)
    return Computed(report, window.uris, chosen)


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
    engine: str = "local",
) -> JobResult:
    """Check the window with `engine` (local, spark, emr-serverless or auto), then the one path for all:
    performance where labels arrived, the report and, on drift, the event in S3."""
    s3 = aws_client("s3", settings)
    end = dt.datetime.now(dt.UTC)
    ref, version, classes = reference_for(settings, model, profile_path)
    stamp, event_id = publish.new_event_id()
    computed = compute(s3, settings, model, ref, config, classes, end=end, span=span, rows=rows, engine=engine,
                       stamp=stamp, run_token=event_id)  # fmt: skip
    report = computed.report
    labels = None
    if computed.predictions is not None and ref.task:
        labels = labels_since(s3, settings.capture_bucket, model, end - (span or LABEL_LOOKBACK), end)
        joined = computed.predictions.merge(labels, on="request_id", how="inner")
        metrics = performance_metrics(joined["label"], joined["prediction"], ref.task) if len(joined) else {}
        report["model"]["performance"] = performance_drift(
            ref.reference_metrics, metrics, len(joined), min_rows=config.min_rows, abs_tolerance=0.05,
            rel_tolerance=0.1)  # fmt: skip
    arrived = None
    if labels is not None and len(labels):  # the estimate beside the realised values, row for row
        arrived = computed.predictions[["request_id"]].merge(labels, on="request_id", how="left")["label"].to_numpy()
    # the local engine keeps the rows' probabilities for this; a Spark job estimated on its own rows already
    estimated = None if "estimated_performance" in report["model"] else estimate_performance(
        ref, computed.probabilities, config, arrived)  # fmt: skip
    if estimated is not None:
        report["model"]["estimated_performance"] = estimated
    perf_drift = bool((report["model"].get("performance") or {}).get("drift"))
    report["summary"].update(model_name=model, model_version=version, window=window_label,
                             sources=len(computed.sources), engine=computed.engine)  # fmt: skip
    html = render_html(publish.clean(report))
    report_uri = publish.upload_report(s3, settings.data_bucket, model, report, html, stamp, event_id)
    event_uri = None
    if (any_drift(report) or perf_drift) and write_event:
        event = publish.drift_event(report, model, version, report_uri, event_id, perf_drift)
        event_uri = publish.put_event(s3, settings.data_bucket, event, stamp)
    log.info("drift check done", extra={"model": model, "drift_share": report["drift_share"],
                                        "report_uri": report_uri, "engine": computed.engine})  # fmt: skip
    return JobResult(report, report_uri, event_uri, computed.engine)
