"""The local stack works end to end: real moto server, real MLflow server, artifacts in KMS-encrypted S3."""

import json
import socket
import subprocess
import sys
import time

import psutil
import pytest

from mlops.core.settings import get_settings, read_env_file
from mlops.devstack.stack import LocalStack, StackError
from tests.conftest import run_mlops

pytestmark = pytest.mark.integration


def test_s3_object_is_encrypted_with_the_stack_kms_key(local_stack):
    s3 = local_stack.boto3_client("s3")
    bucket = local_stack.settings.data_bucket
    s3.put_object(Bucket=bucket, Key="probe/hello.txt", Body=b"hello")
    head = s3.head_object(Bucket=bucket, Key="probe/hello.txt")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == local_stack.env["MLOPS_KMS_KEY_ARN"]
    assert s3.get_object(Bucket=bucket, Key="probe/hello.txt")["Body"].read() == b"hello"

    kms = local_stack.boto3_client("kms")
    key = kms.describe_key(KeyId=local_stack.settings.kms_key_alias)["KeyMetadata"]
    assert key["Arn"] == local_stack.env["MLOPS_KMS_KEY_ARN"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    for bucket in (local_stack.settings.artifact_bucket, local_stack.settings.capture_bucket):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())


def test_mlflow_run_logs_metric_and_artifact_into_s3(local_stack, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(local_stack.env["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment("stack-smoke")
    artifact = tmp_path / "note.txt"
    artifact.write_text("artifact body")
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 0.93)
        mlflow.log_artifact(str(artifact))
    fetched = mlflow.get_run(run.info.run_id)
    assert fetched.data.metrics["accuracy"] == pytest.approx(0.93)

    s3 = local_stack.boto3_client("s3")
    bucket = local_stack.settings.artifact_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="mlflow/")["Contents"]]
    key = next(k for k in keys if run.info.run_id in k and k.endswith("note.txt"))
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"artifact body"
    assert s3.head_object(Bucket=bucket, Key=key)["SSEKMSKeyId"] == local_stack.env["MLOPS_KMS_KEY_ARN"]


def test_up_twice_is_harmless_and_status_reports_both(local_stack):
    env = {"MLOPS_STATE_DIR": str(local_stack.settings.state_dir)}
    again = run_mlops("stack", "up", env=env)
    assert again.returncode == 0, again.stderr
    assert "moto: already running" in again.stdout and "mlflow: already running" in again.stdout
    assert read_env_file(local_stack.settings.stack_env_file) == local_stack.env

    status = run_mlops("stack", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("running, answers") == 2


def test_taken_port_is_a_clear_error_and_starts_nothing(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_mlops("stack", "up", env={"MLOPS_STATE_DIR": str(tmp_path), "MLOPS_MOTO_PORT": str(port)})
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "MLOPS_MOTO_PORT" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.pid.json"))


def test_stale_pid_file_is_reported_and_down_leaves_foreign_processes_alone(tmp_path):
    # a live process this stack did not start, recorded with a different start time (a recycled PID)
    foreign = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"pid": foreign.pid, "create_time": time.time() - 3600, "host": "127.0.0.1", "port": 1}
        (tmp_path / "moto.pid.json").write_text(json.dumps(record))
        env = {"MLOPS_STATE_DIR": str(tmp_path)}
        status = run_mlops("stack", "status", env=env)
        assert "stale PID file" in status.stdout and status.returncode == 1

        down = run_mlops("stack", "down", env=env)
        assert down.returncode == 0, down.stderr
        assert "moto: was not running (stale PID file removed)" in down.stdout
        assert foreign.poll() is None, "down killed a process it did not start"
        assert not (tmp_path / "moto.pid.json").exists()
    finally:
        foreign.kill()
        foreign.wait()


def test_server_dying_at_start_is_reported_with_its_log(tmp_path):
    settings = get_settings(state_dir=tmp_path, mlflow_backend_store_uri="nosuchscheme://nowhere")
    stack = LocalStack(settings)
    try:
        with pytest.raises(StackError, match=r"the mlflow server exited at start with code \d+; last lines of"):
            stack.up()
        assert not (tmp_path / "mlflow.pid.json").exists()
        assert not settings.stack_env_file.exists()
        moto_pid = json.loads((tmp_path / "moto.pid.json").read_text())["pid"]
    finally:
        stack.down()
    assert not psutil.pid_exists(moto_pid) or psutil.Process(moto_pid).status() == psutil.STATUS_ZOMBIE
