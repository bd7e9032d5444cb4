"""A drift window checked on EMR Serverless: the profile to S3, StartJobRun of the job entry point
(`mlops.drift.emr_entry`) with the window's capture objects, the wait, and the report the job wrote.

The wait reads GetJobRun with a doubling, capped delay until the run ends or the overall timeout passes; on the
timeout, on SIGTERM (the CronJob's pod stopped) or on any other interruption it cancels the run before giving up, so
no job outlives the command that started it. A run that ends FAILED or CANCELLED raises with its stateDetails and
publishes nothing. Every call goes through `mlops.core.clients.aws_client`.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from mlops.core.clients import aws_client
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.drift.config import DriftConfig
from mlops.drift.engines import WindowObjects
from mlops.drift.profile import ReferenceProfile

log = logging.getLogger("mlops.drift")
ENDED = ("SUCCESS", "FAILED", "CANCELLED")
ENTRY_MODULE = "mlops.drift.emr_entry"
# the packed environment is unpacked as ./environment on the driver and every executor; its Python runs the job
PYTHON = "./environment/bin/python"


class EmrJobError(MlopsError):
    """The EMR Serverless job could not be started, failed, was cancelled or timed out; the message says which."""


@dataclass(frozen=True)
class EmrTarget:
    """Where and as whom the job runs: the env's Terraform outputs and the published job code."""

    application_id: str
    job_role_arn: str
    entry_point: str
    archive: str
    log_group: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmrTarget:
        values = {
            "MLOPS_DRIFT_EMR_APPLICATION_ID": settings.drift_emr_application_id,
            "MLOPS_DRIFT_EMR_JOB_ROLE_ARN": settings.drift_emr_job_role_arn,
            "MLOPS_DRIFT_EMR_ENTRY_POINT": settings.drift_emr_entry_point,
            "MLOPS_DRIFT_EMR_ARCHIVE": settings.drift_emr_archive,
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise EmrJobError(f"--engine emr-serverless needs {', '.join(missing)} (the env's emr-serverless "
                              "Terraform outputs and the published job code: services/drift/README.md)")  # fmt: skip
        application, role, entry, archive = (str(v) for v in values.values())
        return cls(application, role, entry, archive, settings.drift_emr_log_group)


@dataclass(frozen=True)
class JobPaths:
    """The job's inputs and output under the data bucket's drift-emr prefix: one folder per run."""

    profile: str
    report: str

    @classmethod
    def for_run(cls, settings: Settings, model: str, stamp: str, run_id: str) -> JobPaths:
        base = f"s3://{settings.data_bucket}/{settings.drift_emr_prefix}/{model}/{stamp}-{run_id}"
        return cls(f"{base}/profile.json", f"{base}/report.json")


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise EmrJobError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def job_arguments(
    paths: JobPaths, window: WindowObjects, config: DriftConfig, data_classes: dict[str, str]
) -> list[str]:
    """The entry point's command line (mlops.drift.emr_entry parses it): one argument list, used by the real job
    and by anything that replays it."""
    return ["--profile", paths.profile, "--output", paths.report, "--config", json.dumps(asdict(config)),
            "--data-classes", json.dumps(data_classes), *window.bounds.arguments(), "--current",
            *window.uris]  # fmt: skip


def spark_parameters(settings: Settings, target: EmrTarget) -> str:
    """spark-submit options: the packed environment's Python on the driver and the executors, the region."""
    conf = {
        "spark.archives": f"{target.archive}#environment",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": PYTHON,
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": PYTHON,
        "spark.executorEnv.PYSPARK_PYTHON": PYTHON,
        "spark.emr-serverless.driverEnv.MLOPS_REGION": settings.region,
    }
    return " ".join(f"--conf {key}={value}" for key, value in conf.items())


def start_job(
    emr, settings: Settings, target: EmrTarget, model: str, name: str, token: str, arguments: list[str]
) -> str:
    request: dict[str, Any] = {
        "applicationId": target.application_id,
        "executionRoleArn": target.job_role_arn,
        "name": name,
        "clientToken": token,  # a retried StartJobRun does not start a second job
        "jobDriver": {"sparkSubmit": {"entryPoint": target.entry_point, "entryPointArguments": arguments,
                                      "sparkSubmitParameters": spark_parameters(settings, target)}},
        # the service stops a run the waiter lost track of (its pod killed hard): a little after our own timeout
        "executionTimeoutMinutes": max(5, math.ceil(settings.drift_emr_timeout_seconds / 60) + 5),
        "tags": {"mlops:model": model, "mlops:component": "drift"},
    }  # fmt: skip
    if target.log_group:
        request["configurationOverrides"] = {"monitoringConfiguration": {"cloudWatchLoggingConfiguration": {
            "enabled": True, "logGroupName": target.log_group, "logStreamNamePrefix": f"drift/{model}"}}}  # fmt: skip
    try:
        return emr.start_job_run(**request)["jobRunId"]
    except Exception as exc:  # botocore's ClientError and connection errors alike: name the application
        raise EmrJobError(f"cannot start the drift job on EMR Serverless application {target.application_id}: "
                          f"{exc}") from None  # fmt: skip


class Interrupted(BaseException):
    """SIGTERM while waiting: raised in the waiting thread so the run is cancelled on the way out."""


@contextmanager
def cancel_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into an exception for the duration of the wait (main thread only: signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_for_job(
    emr,
    application_id: str,
    run_id: str,
    *,
    timeout: float,
    poll: float,
    poll_max: float,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The run's GetJobRun answer once it ended SUCCESS. FAILED or CANCELLED: EmrJobError with stateDetails. The
    timeout, SIGTERM or an error while waiting: CancelJobRun first, then the error. A run just started has not
    ended, so the first read comes after the first pause."""
    pause = sleep or pause_between_reads
    deadline = clock() + timeout
    delay = poll
    try:
        with cancel_on_sigterm():
            while True:
                pause(max(0.0, min(delay, deadline - clock())))
                run = emr.get_job_run(applicationId=application_id, jobRunId=run_id)["jobRun"]
                state = run["state"]
                if state in ENDED:
                    break
                if clock() >= deadline:
                    raise TimeoutError
                log.info("EMR job %s is %s", run_id, state)
                delay = min(delay * 2, poll_max)
    except TimeoutError:
        _cancel(emr, application_id, run_id, "timeout")
        raise EmrJobError(f"EMR Serverless job {run_id} did not finish within {timeout:g} s (MLOPS_DRIFT_EMR_"
                          "TIMEOUT_SECONDS): cancelled, nothing published") from None  # fmt: skip
    except BaseException as exc:
        _cancel(emr, application_id, run_id, type(exc).__name__)
        if isinstance(exc, Interrupted):
            raise EmrJobError(f"stopped by SIGTERM while EMR Serverless job {run_id} ran: cancelled, nothing "
                              "published") from None  # fmt: skip
        raise
    if state != "SUCCESS":
        details = run.get("stateDetails") or "no details given"
        raise EmrJobError(f"EMR Serverless job {run_id} ended {state}: {details}; nothing published")
    return run


def pause_between_reads(seconds: float) -> None:
    """The wait's pause between two GetJobRun calls (the job runs on EMR meanwhile)."""
    time.sleep(seconds)


def _cancel(emr, application_id: str, run_id: str, why: str) -> None:
    try:
        emr.cancel_job_run(applicationId=application_id, jobRunId=run_id)
        log.warning("cancelled EMR job %s (%s)", run_id, why)
    except Exception:  # the original error matters more; say the run may still be going
        log.error("could not cancel EMR job %s (%s): cancel it by hand", run_id, why, exc_info=True)


def read_report(s3, uri: str, run_id: str) -> dict[str, Any]:
    bucket, key = split_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        raise EmrJobError(f"EMR Serverless job {run_id} succeeded but its report {uri} cannot be read ({exc}); "
                          "nothing published") from None  # fmt: skip
    try:
        report = json.loads(body)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not {"dataset_drift", "drift_share", "columns", "summary"} <= set(report):
        raise EmrJobError(f"{uri}: not a drift report (job {run_id}); nothing published")
    return report


def check_on_emr(
    settings: Settings,
    model: str,
    profile: ReferenceProfile,
    window: WindowObjects,
    config: DriftConfig,
    data_classes: dict[str, str],
    *,
    stamp: str,
    run_token: str,
) -> dict[str, Any]:
    """The window's report, computed by the job on EMR Serverless (SUCCESS), else EmrJobError."""
    target = EmrTarget.from_settings(settings)
    s3, emr = aws_client("s3", settings), aws_client("emr-serverless", settings)
    paths = JobPaths.for_run(settings, model, stamp, run_token)
    bucket, key = split_uri(paths.profile)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(profile.to_dict()).encode(),
                  ContentType="application/json")  # fmt: skip
    arguments = job_arguments(paths, window, config, data_classes)
    run_id = start_job(emr, settings, target, model, f"drift-{model}-{stamp}", run_token, arguments)
    log.info("started EMR job %s on %s for %d objects", run_id, target.application_id, len(window.objects))
    wait_for_job(emr, target.application_id, run_id, timeout=settings.drift_emr_timeout_seconds,
                 poll=settings.drift_emr_poll_seconds, poll_max=settings.drift_emr_poll_max_seconds)  # fmt: skip
    return read_report(s3, paths.report, run_id)
