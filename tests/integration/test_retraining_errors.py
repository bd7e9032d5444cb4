"""Failure paths on the real local stack: unreachable remotes, a missing data version, transient errors retried
with backoff then alerted, a duplicate trigger collapsed, bad config. Each leaves the registry untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest
import yaml

from mlops.core.locking import FileLock, lock_path
from mlops.training.example import RAW, init_project, make_dataset
from tests.conftest import run_mlops

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def project(local_stack, tmp_path_factory):
    return init_project(tmp_path_factory.mktemp("errors") / "p", "s3://mlops-data/dvc/errors", "errors-model",
                        frame=make_dataset(rows=200))  # fmt: skip


def config(tmp_path, name: str, project_url: str) -> Path:
    path = tmp_path / "retrain.yaml"
    path.write_text(yaml.safe_dump({"models": [{"name": name, "project": project_url}]}))
    return path


def no_traceback(result):
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def test_unreachable_dvc_remote_is_a_clear_error(project):
    result = no_traceback(
        run_mlops(
            "pipeline",
            "run",
            "--project",
            str(project.root),
            env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1"},
        )
    )
    assert result.returncode == 1
    assert "the DVC remote cannot be reached" in result.stderr and "127.0.0.1:1" in result.stderr


def test_missing_data_version_is_a_clear_error(project, tmp_path):
    bogus = "f" * 32  # an md5 no data version has
    clone = git.Repo.clone_from(project.root, tmp_path / "clone")
    dvc_file = Path(clone.working_dir) / f"{RAW}.dvc"
    dvc_file.write_text(dvc_file.read_text().replace(project.datasets()[RAW], bogus))
    result = no_traceback(run_mlops("pipeline", "run", "--project", clone.working_dir))
    assert result.returncode == 1
    assert f"data version {RAW}@{bogus} is not in the DVC remote" in result.stderr


def test_corrupt_copy_in_the_remote_is_a_checksum_error(project, tmp_path, local_stack):
    md5 = project.datasets()[RAW]
    s3, key = local_stack.boto3_client("s3"), f"dvc/errors/files/md5/{md5[:2]}/{md5[2:]}"
    good = s3.get_object(Bucket="mlops-data", Key=key)["Body"].read()
    s3.put_object(Bucket="mlops-data", Key=key, Body=b"x1,x2\n1,2\n")  # bit rot, or a tampered object
    try:
        clone = git.Repo.clone_from(project.root, tmp_path / "clone")
        result = no_traceback(run_mlops("pipeline", "run", "--project", clone.working_dir))
    finally:
        s3.put_object(Bucket="mlops-data", Key=key, Body=good)
    assert result.returncode == 1
    assert f"holds a corrupt copy of {RAW}@{md5}: its content does not match the md5" in result.stderr
    assert not (Path(clone.working_dir) / RAW).exists()  # nothing half-written


def test_transient_failure_is_retried_with_backoff_then_alerted(local_stack, tmp_path):
    name = "unreachable-model"
    env = {"MLOPS_RETRAIN_MAX_ATTEMPTS": "3", "MLOPS_RETRAIN_BACKOFF_SECONDS": "0.05"}
    cfg = config(tmp_path, name, "http://127.0.0.1:1/model.git")
    result = no_traceback(run_mlops("retrain", "run", "--model", name, "--config", str(cfg), env=env))
    assert result.returncode == 1
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "failed" and "gave up after 3 attempts" in outcome["reasons"][0]
    retries = [json.loads(line) for line in result.stderr.splitlines() if "transient failure; retrying" in line]
    assert [r["delay"] for r in retries] == [0.05, 0.1]  # exponential backoff
    objects = local_stack.boto3_client("s3").list_objects_v2(
        Bucket="mlops-data", Prefix=f"events/alerts/retrain/{name}/"
    )
    assert objects.get("KeyCount") == 1
    metrics = local_stack.boto3_client("cloudwatch").list_metrics(Namespace="MLOps", MetricName="RetrainFailures")
    assert {"Name": "Model", "Value": name} in [d for m in metrics["Metrics"] for d in m["Dimensions"]]
    textfile = Path(os.environ["MLOPS_STATE_DIR"]) / "retrain" / f"metrics-{name}.prom"
    assert f'mlops_retrain_runs_total{{model="{name}",outcome="failed",trigger="manual"}} 1.0' in textfile.read_text()
    assert not FileLock(lock_path(Path(os.environ["MLOPS_STATE_DIR"]), "retrain", name)).is_held()


def test_a_trigger_while_a_retrain_runs_collapses_into_it(local_stack, tmp_path, project):
    name = "busy-model"
    cfg = config(tmp_path, name, str(project.root))
    with FileLock(lock_path(Path(os.environ["MLOPS_STATE_DIR"]), "retrain", name), purpose="drift"):
        result = no_traceback(run_mlops("retrain", "run", "--model", name, "--config", str(cfg)))
    assert result.returncode == 0
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "collapsed" and f"locked by pid {os.getpid()}" in outcome["reasons"][0]


def test_bad_retrain_config_and_unknown_model(tmp_path, project):
    cfg = config(tmp_path, "m", str(project.root))
    result = no_traceback(run_mlops("retrain", "run", "--model", "other", "--config", str(cfg)))
    assert result.returncode == 1 and "model 'other' is not in the retraining config" in result.stderr
    cfg.write_text("models:\n  - {name: m, project: /p, schedule: 61 * * * *}\n")
    result = no_traceback(run_mlops("retrain", "serve", "--config", str(cfg)))
    assert result.returncode == 1 and "is not a cron expression" in result.stderr
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_RETRAIN_CONFIG"}
    result = subprocess.run([str(Path(sys.executable).parent / "mlops"), "retrain", "run", "--model", "m"],
                            env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 1 and "no retraining config" in no_traceback(result).stderr
    result = no_traceback(run_mlops("retrain", "run", "--model", "m", env={"MLOPS_RETRAIN_CONFIG": str(tmp_path)}))
    assert result.returncode == 1 and f"retraining config {tmp_path} does not exist" in result.stderr
    result = run_mlops("retrain", "run")
    assert result.returncode == 2 and "--model" in result.stderr


def test_a_due_schedule_runs_once_per_slot(local_stack):
    import datetime as dt

    from mlops.core.settings import get_settings
    from mlops.retraining.config import RetrainConfig
    from mlops.retraining.service import Scheduler, tick

    config = RetrainConfig.model_validate(
        {"models": [{"name": "sched-model", "project": "http://127.0.0.1:1/x.git", "schedule": "* * * * *"}]}
    )
    now = dt.datetime.now(dt.UTC)
    scheduler = Scheduler(config, now - dt.timedelta(minutes=2))  # a slot has passed since
    settings = get_settings(retrain_max_attempts=1)
    outcomes = tick(settings, config, scheduler, now)
    assert [(o.model, o.trigger, o.status) for o in outcomes] == [("sched-model", "schedule", "failed")]
    assert "cannot clone the project http://127.0.0.1:1/x.git" in outcomes[0].reasons[0]
    assert scheduler.due_at["sched-model"] > now
    assert tick(settings, config, scheduler, now) == []  # the slot was used: nothing to do until the next one


def test_the_service_publishes_a_heartbeat_per_model_every_poll(local_stack):
    """Even a poll with no work: the heartbeat alarm (terraform/modules/cloudwatch) reads its absence as a dead
    service, which a failures-only metric cannot tell from a quiet one."""
    import threading

    from mlops.core.settings import get_settings
    from mlops.retraining.config import RetrainConfig
    from mlops.retraining.service import serve

    config = RetrainConfig.model_validate(
        {"models": [{"name": f"beat-{n}", "project": "http://127.0.0.1:1/x.git", "schedule": "0 0 1 1 *"}
                    for n in ("a", "b")]}
    )  # fmt: skip
    serve(get_settings(retrain_metrics_port=0, retrain_poll_seconds=0.1), config, threading.Event(), max_ticks=2)
    cloudwatch = local_stack.boto3_client("cloudwatch")
    listed = cloudwatch.list_metrics(Namespace="MLOps", MetricName="RetrainServiceHeartbeat")["Metrics"]
    assert {d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "Model"} >= {"beat-a", "beat-b"}
