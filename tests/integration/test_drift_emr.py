"""`mlops drift run --engine emr-serverless` on the local stack: the submission, the wait, the report the job wrote
and the one publishing path (report, event), and a cancelled run that publishes nothing.

Only a real account runs the job. moto's EMR Serverless stores the application and the runs, answers every run
SUCCESS at once and runs nothing; so this test plays the job: in the wait's first pause (where on AWS the job runs)
it reads the run back with GetJobRun and runs the entry point it names, with exactly the arguments the submission
passed, under the real `spark-submit` in local[2], writing the report to moto's S3. What that leaves to a real
account: EMR starting the application in the private subnets, the packed environment (spark.archives) unpacking and
its Python running the job, EMRFS reading s3:// (here the entry point downloads the objects first: PyPI's pyspark
has no S3 filesystem), the job role's policy being enough and no more, the logs reaching the log group, and
CancelJobRun stopping a running job. The Terraform module cannot be applied on moto (moto creates the application
STARTED and the provider waits for CREATED until it times out): the application and role are created here the way
the module creates them, and the module is asserted at plan level (terraform/modules/emr-serverless/tests). The
wait's timeout, backoff and SIGTERM, and `auto` choosing by window size: tests/unit/drift/test_emr.py.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlops.drift import emr
from mlops.drift.builder import build_profile
from mlops.drift.cli import drift

pytestmark = pytest.mark.integration

ENTRY_POINT = Path(emr.__file__).with_name("emr_entry.py")
SPARK_SUBMIT = Path(sys.executable).with_name("spark-submit")


@pytest.fixture(scope="module")
def application(local_stack):
    """The env's drift application and job role as modules/emr-serverless creates them, the entry point published
    where the job reads it, and the settings `drift run` takes from the module's outputs."""
    settings, name = local_stack.settings, f"mlops-it-{uuid.uuid4().hex[:6]}"
    ec2, iam = local_stack.boto3_client("ec2"), local_stack.boto3_client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"{name}-drift-emr", Description="drift jobs", VpcId=vpc)["GroupId"]
    client = local_stack.boto3_client("emr-serverless")
    app = client.create_application(
        name=f"{name}-drift", releaseLabel="emr-7.5.0", type="SPARK",
        maximumCapacity={"cpu": "32 vCPU", "memory": "128 GB", "disk": "1000 GB"},
        autoStartConfiguration={"enabled": True}, autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 15},
        networkConfiguration={"subnetIds": [subnet], "securityGroupIds": [group]},
    )  # fmt: skip
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "emr-serverless.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnLike": {"aws:SourceArn": app["arn"]}},
    }]}  # fmt: skip
    role = iam.create_role(RoleName=f"{name}-drift-emr-job", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    log_group = f"/{name}/drift-emr"
    local_stack.boto3_client("logs").create_log_group(logGroupName=log_group)
    code = f"s3://{settings.artifact_bucket}/emr/drift"
    local_stack.boto3_client("s3").upload_file(str(ENTRY_POINT), settings.artifact_bucket, "emr/drift/emr_entry.py")
    env = {
        "MLOPS_DRIFT_EMR_APPLICATION_ID": app["applicationId"],
        "MLOPS_DRIFT_EMR_JOB_ROLE_ARN": role["Arn"],
        "MLOPS_DRIFT_EMR_ENTRY_POINT": f"{code}/emr_entry.py",
        # the packed environment is built on Amazon Linux for EMR (services/drift/README.md): not here, and moto
        # never unpacks it; the test checks that the submission hands it to Spark
        "MLOPS_DRIFT_EMR_ARCHIVE": f"{code}/mlops-drift-venv.tar.gz",
        "MLOPS_DRIFT_EMR_LOG_GROUP": log_group,
        "MLOPS_DRIFT_EMR_POLL_SECONDS": "0.2",
        "MLOPS_DRIFT_EMR_POLL_MAX_SECONDS": "0.5",
    }
    return client, app["applicationId"], env


def _put_capture(s3, bucket: str, model: str, uploaded: dt.datetime, frame: pd.DataFrame, part: int) -> str:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, coerce_timestamps="us")  # serving writes microseconds (mlops.serving.parquet)
    key = f"capture/{model}/date={uploaded:%Y-%m-%d}/{uploaded:%H%M%S}-{part}.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return f"s3://{bucket}/{key}"


def _rows(seed: int, n: int, shift: float, newest: dt.datetime, spread_s: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "request_id": [uuid.uuid4().hex for _ in range(n)],
        "timestamp": pd.Timestamp(newest) - pd.to_timedelta(rng.integers(0, spread_s, n), unit="s"),
        "model_version": "1",
        "amount": rng.lognormal(3 + shift, 1, n), "age": rng.normal(40 + 8 * shift, 10, n),
        "country": rng.choice(["de", "fr", "it", "es"], n, p=[0.4, 0.3, 0.2, 0.1]),
    })  # fmt: skip


@pytest.fixture
def window(local_stack, tmp_path):
    """A model's profile and a capture window: two objects uploaded inside the last hour (one holding rows from
    just before it, which both engines must leave out) and one uploaded three hours ago."""
    settings, model = local_stack.settings, f"fraud-{uuid.uuid4().hex[:6]}"
    s3 = local_stack.boto3_client("s3")
    profile = tmp_path / "profile.json"
    reference = _rows(1, 4_000, 0.0, dt.datetime.now(dt.UTC), 60).drop(columns=["request_id", "timestamp",
                                                                                   "model_version"])  # fmt: skip
    build_profile(reference, model_name=model).save(profile)
    now = dt.datetime.now(dt.UTC)
    early = now - dt.timedelta(minutes=58)
    # rows well clear of the window's start, so the two runs (seconds apart) cut the same rows
    straddling = pd.concat([_rows(2, 600, 1.0, now - dt.timedelta(minutes=61), 30), _rows(5, 900, 1.0, early, 30)])
    recent = now - dt.timedelta(minutes=5)
    inside = [
        _put_capture(s3, settings.capture_bucket, model, early, straddling.reset_index(drop=True), 0),
        _put_capture(s3, settings.capture_bucket, model, recent, _rows(3, 1_500, 1.0, recent, 600), 1),
    ]
    old = now - dt.timedelta(hours=3)
    outside = _put_capture(s3, settings.capture_bucket, model, old, _rows(4, 500, 0.0, old, 60), 2)
    return model, profile, inside, outside


def _job_runs(client, application_id: str) -> list[dict]:
    try:
        return client.list_job_runs(applicationId=application_id)["jobRuns"]
    except client.exceptions.ResourceNotFoundException:  # moto: an application without runs is "not found"
        return []


class PlayedJob:
    """The wait's pause, where on AWS the job runs: the first call plays the run (or cancels it), later ones just
    wait."""

    def __init__(self, client, s3, application_id: str, folder: Path, cancel: bool = False):
        self.client, self.s3, self.application_id, self.cancel = client, s3, application_id, cancel
        self.folder = folder
        self.before = {r["id"] for r in _job_runs(client, application_id)}
        self.run: dict | None = None
        self.played: subprocess.CompletedProcess | None = None

    def __call__(self, seconds: float) -> None:
        if self.run is not None:
            return
        (new,) = [r["id"] for r in _job_runs(self.client, self.application_id) if r["id"] not in self.before]
        self.run = self.client.get_job_run(applicationId=self.application_id, jobRunId=new)["jobRun"]
        if self.cancel:
            self.client.cancel_job_run(applicationId=self.application_id, jobRunId=new)
            return
        driver = self.run["jobDriver"]["sparkSubmit"]
        entry = self.folder / "emr_entry.py"  # as EMR does: the entry point fetched from S3, run alone
        bucket, key = driver["entryPoint"].removeprefix("s3://").split("/", 1)
        self.s3.download_file(bucket, key, str(entry))
        self.played = subprocess.run(
            # tuned for a seconds-long job on tiny data: the JIT's quick tier, two shuffle partitions, no re-planning
            [str(SPARK_SUBMIT), "--master", "local[2]", "--driver-java-options",
             "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC", "--conf", "spark.ui.enabled=false", "--conf",
             "spark.sql.shuffle.partitions=2", "--conf", "spark.sql.adaptive.enabled=false", str(entry),
             *driver["entryPointArguments"]],
            env={**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable},
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip


def _invoke(*args: str):
    result = CliRunner().invoke(drift, ["run", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_the_job_runs_as_submitted_and_its_report_is_published_like_a_local_one(
    local_stack, application, window, tmp_path, monkeypatch
):
    client, app_id, env = application
    model, profile, inside, outside = window
    settings, s3 = local_stack.settings, local_stack.boto3_client("s3")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    common = ["--model", model, "--window", "1h", "--profile", str(profile), "--no-cloudwatch", "--drift-share",
              "0.3"]  # fmt: skip
    local = _invoke(*common, "--engine", "local", "--no-event", "--json", str(tmp_path / "local.json"))
    assert local.exit_code == 0, local.output

    played = PlayedJob(client, s3, app_id, tmp_path)
    monkeypatch.setattr(emr, "pause_between_reads", played)
    result = _invoke(*common, "--engine", "emr-serverless", "--json", str(tmp_path / "emr.json"))
    assert played.played is not None and played.played.returncode == 0, played.played and played.played.stderr[-3000:]
    assert result.exit_code == 0, result.output
    assert "checked with emr-serverless" in result.output

    # submitted as the module's outputs say: this application, the job role, the published entry point and env
    run = played.run
    assert run["applicationId"] == app_id and run["executionRole"] == env["MLOPS_DRIFT_EMR_JOB_ROLE_ARN"]
    driver = run["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == env["MLOPS_DRIFT_EMR_ENTRY_POINT"]
    published = s3.get_object(Bucket=settings.artifact_bucket, Key="emr/drift/emr_entry.py")["Body"].read()
    assert published == ENTRY_POINT.read_bytes()
    assert f"spark.archives={env['MLOPS_DRIFT_EMR_ARCHIVE']}#environment" in driver["sparkSubmitParameters"]
    assert "spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python" in driver["sparkSubmitParameters"]
    logging = run["configurationOverrides"]["monitoringConfiguration"]["cloudWatchLoggingConfiguration"]
    assert logging["logGroupName"] == env["MLOPS_DRIFT_EMR_LOG_GROUP"] and logging["enabled"]
    arguments = driver["entryPointArguments"]
    assert arguments[arguments.index("--current") + 1 :] == inside and outside not in arguments
    output = arguments[arguments.index("--output") + 1]
    assert output.startswith(f"s3://{settings.data_bucket}/drift-emr/{model}/") and output.endswith("/report.json")

    # the job's report went through the one publishing path: the report in S3, the event on drift
    report = json.loads((tmp_path / "emr.json").read_text())
    expected = json.loads((tmp_path / "local.json").read_text())
    assert report["summary"]["engine"] == "emr-serverless" and report["summary"]["sources"] == 2
    assert report["summary"]["current_rows"] == expected["summary"]["current_rows"] == 2_400  # the same rows cut out
    assert report["dataset_drift"] is expected["dataset_drift"] is True
    assert report["drifted_columns"] == expected["drifted_columns"]
    for name, column in expected["columns"].items():
        assert report["columns"][name]["statistic"] == pytest.approx(column["statistic"], rel=1e-9, abs=1e-12)
        assert report["columns"][name]["drift"] == column["drift"]
    events = s3.list_objects_v2(Bucket=settings.data_bucket, Prefix=f"events/drift/{model}/").get("Contents", [])
    assert len(events) == 1
    event = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=events[0]["Key"])["Body"].read())
    assert event["model_name"] == model and event["dataset_drift"] is True
    bucket, key = event["report_uri"].removeprefix("s3://").split("/", 1)
    assert json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["drift_share"] == report["drift_share"]


def test_a_cancelled_run_publishes_nothing_and_says_why(local_stack, application, window, tmp_path, monkeypatch):
    client, app_id, env = application
    model, profile, _, _ = window
    settings, s3 = local_stack.settings, local_stack.boto3_client("s3")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    played = PlayedJob(client, s3, app_id, tmp_path, cancel=True)
    monkeypatch.setattr(emr, "pause_between_reads", played)
    result = _invoke("--model", model, "--window", "1h", "--profile", str(profile), "--no-cloudwatch",
                     "--engine", "emr-serverless")  # fmt: skip
    assert result.exit_code == 1
    assert f"EMR Serverless job {played.run['jobRunId']} ended CANCELLED" in result.output
    assert "nothing published" in result.output
    for prefix in (f"reports/drift/{model}/", f"events/drift/{model}/"):
        assert not s3.list_objects_v2(Bucket=settings.data_bucket, Prefix=prefix).get("Contents")
