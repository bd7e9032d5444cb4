"""EMR Serverless submission and engine choice, in-process against moto's in-memory AWS (`mock_aws`): the window's
rows counted from Parquet footers, `auto` choosing by window size, the job's arguments read back by the entry
point's parser, and the wait (capped backoff, FAILED/CANCELLED, timeout, SIGTERM). moto runs no job and reports
every run SUCCESS at once, so where a run must still be RUNNING or must have FAILED the test sets that state in
moto's backend (the one thing only a real account shows). The job played end to end on the local stack:
tests/integration/test_drift_emr.py."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from mlops.core.settings import get_settings
from mlops.drift import emr, engines, job
from mlops.drift.config import DriftConfig
from mlops.drift.data import DataError
from mlops.drift.emr_entry import parse_args
from mlops.drift.profile import ReferenceProfile

pytestmark = pytest.mark.unit

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/mlops-dev-drift-emr-job"  # moto's account: StartJobRun refuses another
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def aws(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")  # pragma: allowlist secret
    monkeypatch.setenv("MLOPS_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("mlops-capture", "mlops-data", "mlops-artifacts"):
            s3.create_bucket(Bucket=bucket)
        yield s3


@pytest.fixture
def application(aws):
    client = boto3.client("emr-serverless", region_name=REGION)
    return client, client.create_application(name="mlops-dev-drift", releaseLabel="emr-7.5.0", type="SPARK")[
        "applicationId"
    ]


def _capture(s3, model: str, at: dt.datetime, rows: int, seed: int = 0, unique: str = "a") -> str:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "request_id": [f"{unique}{i}" for i in range(rows)],
        "timestamp": pd.Timestamp(at) - pd.to_timedelta(np.arange(rows) % 50, unit="s"),
        "x": rng.normal(size=rows), "c": rng.choice(list("abc"), rows),
    })  # fmt: skip
    buffer = io.BytesIO()
    frame.to_parquet(buffer, coerce_timestamps="us")
    key = f"capture/{model}/date={at:%Y-%m-%d}/{at:%H%M%S}-{unique}.parquet"
    s3.put_object(Bucket="mlops-capture", Key=key, Body=buffer.getvalue())
    return f"s3://mlops-capture/{key}"


def test_rows_come_from_the_footer_in_one_or_two_ranged_reads(aws, monkeypatch):
    uri = _capture(aws, "m", NOW, 1234)
    key = uri.removeprefix("s3://mlops-capture/")
    assert engines.parquet_rows(aws, "mlops-capture", key) == 1234
    monkeypatch.setattr(engines, "FOOTER_TAIL_BYTES", 16)  # a footer larger than the first read: a second GET
    assert engines.parquet_rows(aws, "mlops-capture", key) == 1234
    aws.put_object(Bucket="mlops-capture", Key="capture/m/date=2026-11-30/120000-bad.parquet", Body=b"not parquet")
    with pytest.raises(DataError, match=r"s3://mlops-capture/capture/m/date=2026-11-30/120000-bad.parquet: not a"):
        engines.parquet_rows(aws, "mlops-capture", "capture/m/date=2026-11-30/120000-bad.parquet")


def test_a_time_window_takes_the_objects_uploaded_inside_it(aws):
    before = _capture(aws, "m", NOW - dt.timedelta(hours=2), 100, unique="old")
    inside = [_capture(aws, "m", NOW - dt.timedelta(minutes=m), 200, unique=f"n{m}") for m in (50, 10)]
    window = engines.window_objects(aws, "mlops-capture", "m", end=NOW, span=dt.timedelta(hours=1), rows=None)
    assert window.uris == inside and before not in window.uris
    assert window.object_rows == 400 and engines.estimated_rows(window) == 400
    assert window.bounds == engines.WindowBounds(NOW - dt.timedelta(hours=1), NOW, None)


def test_a_row_window_takes_the_newest_objects_until_enough_rows(aws):
    uris = [_capture(aws, "m", NOW - dt.timedelta(minutes=m), 300, unique=f"n{m}") for m in (30, 20, 10)]
    window = engines.window_objects(aws, "mlops-capture", "m", end=NOW, span=None, rows=500)
    assert window.uris == uris[1:]  # oldest first, as the local engine orders them
    assert engines.estimated_rows(window) == 500 and window.bounds.rows == 500
    with pytest.raises(DataError, match="the current window is empty: no capture of model 'other'"):
        engines.window_objects(aws, "mlops-capture", "other", end=NOW, span=dt.timedelta(hours=1), rows=None)


def test_auto_keeps_small_windows_here_and_sends_large_ones_to_emr(monkeypatch):
    monkeypatch.setenv("MLOPS_DRIFT_EMR_MIN_ROWS", "1000")
    without = get_settings()
    assert engines.choose_engine(without, "auto", 10**9) == "local"  # no application in this env
    monkeypatch.setenv("MLOPS_DRIFT_EMR_APPLICATION_ID", "00fabc")
    settings = get_settings()
    assert engines.choose_engine(settings, "auto", 999) == "local"
    assert engines.choose_engine(settings, "auto", 1000) == "emr-serverless"
    assert engines.choose_engine(settings, "spark", 10**9) == "spark"  # an explicit engine is kept
    assert get_settings(drift_emr_min_rows=20_000_000).drift_emr_min_rows == 20_000_000


def test_the_cli_offers_exactly_the_engines():
    from mlops.drift.cli import run

    (option,) = [p for p in run.params if p.name == "engine"]
    assert tuple(option.type.choices) == engines.ENGINES and option.default == "auto"


def test_emr_needs_its_settings_and_names_the_missing_ones(monkeypatch):
    monkeypatch.setenv("MLOPS_DRIFT_EMR_APPLICATION_ID", "00fabc")
    with pytest.raises(emr.EmrJobError) as error:
        emr.EmrTarget.from_settings(get_settings())
    message = str(error.value)
    assert "MLOPS_DRIFT_EMR_JOB_ROLE_ARN" in message and "MLOPS_DRIFT_EMR_ARCHIVE" in message
    assert "MLOPS_DRIFT_EMR_APPLICATION_ID" not in message


def test_the_entry_point_parses_the_arguments_the_submission_builds():
    window = engines.WindowObjects([engines.CaptureObject("s3://c/a.parquet", 5), engines.CaptureObject(
        "s3://c/b.parquet", 7)], engines.WindowBounds(NOW - dt.timedelta(hours=1), NOW, 9))  # fmt: skip
    paths = emr.JobPaths("s3://d/drift-emr/m/s-1/profile.json", "s3://d/drift-emr/m/s-1/report.json")
    config = DriftConfig(alpha=0.05, importance={"x": 2.0})
    args = parse_args(emr.job_arguments(paths, window, config, {"email": "personal"}))
    assert (args.profile, args.output) == (paths.profile, paths.report)
    assert DriftConfig(**json.loads(args.config)) == config
    assert json.loads(args.data_classes) == {"email": "personal"}
    assert dt.datetime.fromisoformat(args.end) == NOW and args.rows == 9
    assert args.current == ["s3://c/a.parquet", "s3://c/b.parquet"]


def _set_run(app_id: str, run_id: str, state: str, details: str | None = None) -> None:
    """What only a real job does: stay RUNNING, or fail (moto's runs are SUCCESS at once)."""
    from moto.emrserverless.models import emrserverless_backends

    (run,) = [r for r in emrserverless_backends["123456789012"][REGION].job_runs[app_id] if r.id == run_id]
    run.state, run.state_details = state, details


def _start(client, app_id: str) -> str:
    return client.start_job_run(applicationId=app_id, executionRoleArn=ROLE, clientToken="t",
                                jobDriver={"sparkSubmit": {"entryPoint": "s3://a/e.py"}})["jobRunId"]  # fmt: skip


class Clock:
    """Time that moves only when the wait sleeps: the waits are recorded, nothing really sleeps."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_wait_backs_off_to_its_cap_and_cancels_at_the_timeout(application):
    client, app_id = application
    run_id = _start(client, app_id)
    _set_run(app_id, run_id, "RUNNING")
    clock = Clock()
    with pytest.raises(emr.EmrJobError, match=rf"job {run_id} did not finish within 300 s.*cancelled, nothing"):
        emr.wait_for_job(client, app_id, run_id, timeout=300, poll=5, poll_max=60, sleep=clock.sleep, clock=clock)
    assert clock.sleeps[:5] == [5, 10, 20, 40, 60] and max(clock.sleeps) == 60
    assert sum(clock.sleeps) == pytest.approx(300)
    assert client.get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]["state"] == "CANCELLED"


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_a_failed_or_cancelled_run_raises_with_its_details(application, state):
    client, app_id = application
    run_id = _start(client, app_id)
    _set_run(app_id, run_id, state, "Job failed, ExitCode: 1. drift job: s3://c/x.parquet: no such file")
    with pytest.raises(emr.EmrJobError) as error:
        emr.wait_for_job(client, app_id, run_id, timeout=60, poll=1, poll_max=1, sleep=Clock().sleep)
    assert f"job {run_id} ended {state}: Job failed, ExitCode: 1" in str(error.value)
    assert "s3://c/x.parquet: no such file" in str(error.value) and "nothing published" in str(error.value)


def test_sigterm_while_waiting_cancels_the_run(application):
    client, app_id = application
    run_id = _start(client, app_id)
    _set_run(app_id, run_id, "RUNNING")

    def terminated(seconds: float) -> None:  # the CronJob's pod is stopped while the job runs
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(emr.EmrJobError, match="stopped by SIGTERM.*cancelled"):
        emr.wait_for_job(client, app_id, run_id, timeout=60, poll=1, poll_max=1, sleep=terminated)
    assert client.get_job_run(applicationId=app_id, jobRunId=run_id)["jobRun"]["state"] == "CANCELLED"
    assert signal.getsignal(signal.SIGTERM) is before


def test_success_is_read_after_one_pause(application):
    client, app_id = application
    run_id = _start(client, app_id)
    clock = Clock()
    run = emr.wait_for_job(client, app_id, run_id, timeout=60, poll=5, poll_max=60, sleep=clock.sleep, clock=clock)
    assert run["state"] == "SUCCESS" and clock.sleeps == [5]  # one pause: a run just started has not ended


def _runs(client, app_id: str) -> list[dict]:
    try:
        return client.list_job_runs(applicationId=app_id)["jobRuns"]
    except client.exceptions.ResourceNotFoundException:  # moto: an application without runs is "not found"
        return []


def _profile(tmp_path) -> ReferenceProfile:
    from mlops.drift.builder import build_profile

    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("abc"), 2000)})
    return build_profile(reference, model_name="m")


def test_auto_checks_here_below_the_threshold_and_submits_above_it(aws, application, tmp_path, monkeypatch):
    """The same window, threshold lowered under and over its size: below it the local engine reports; above it
    the job is submitted to the application (moto's run ends SUCCESS without running, so no report is there)."""
    client, app_id = application
    for name, value in {
        "MLOPS_DRIFT_EMR_APPLICATION_ID": app_id,
        "MLOPS_DRIFT_EMR_JOB_ROLE_ARN": ROLE,
        "MLOPS_DRIFT_EMR_ENTRY_POINT": "s3://mlops-artifacts/emr/drift/emr_entry.py",
        "MLOPS_DRIFT_EMR_ARCHIVE": "s3://mlops-artifacts/emr/drift/mlops-drift-venv.tar.gz",
    }.items():
        monkeypatch.setenv(name, value)  # fmt: skip
    end = dt.datetime.now(dt.UTC)
    for minutes in (40, 20):
        _capture(aws, "m", end - dt.timedelta(minutes=minutes), 600, seed=minutes, unique=f"n{minutes}")
    ref = _profile(tmp_path)

    def compute(min_rows: int) -> job.Computed:
        settings = get_settings(drift_emr_min_rows=min_rows)
        return job.compute(aws, settings, "m", ref, DriftConfig(), {}, end=end, span=dt.timedelta(hours=1),
                           rows=None, engine="auto", stamp="20261130T120000Z", run_token="abc")  # fmt: skip

    local = compute(1201)
    assert local.engine == "local" and local.report["summary"]["current_rows"] == 1200
    assert _runs(client, app_id) == []
    with pytest.raises(emr.EmrJobError, match="succeeded but its report s3://mlops-data/drift-emr/m/"):
        compute(1200)
    (listed,) = _runs(client, app_id)
    submitted = client.get_job_run(applicationId=app_id, jobRunId=listed["id"])["jobRun"]
    assert submitted["executionRole"] == ROLE and submitted["name"] == "drift-m-20261130T120000Z"
    profile_key = "drift-emr/m/20261130T120000Z-abc/profile.json"
    assert ReferenceProfile.from_dict(json.loads(aws.get_object(Bucket="mlops-data", Key=profile_key)["Body"].read()))
