"""A local stand-in for SageMaker's training jobs, in front of the moto server.

moto stores a CreateTrainingJob and answers DescribeTrainingJob with Completed at once; it runs no container, never
says InProgress and has no StopTrainingJob. This HTTP server is what a test points AWS_ENDPOINT_URL_SAGEMAKER at: it
forwards every call to moto (which validates and stores the job, and answers everything else), and plays the
training job itself:

- CreateTrainingJob: downloads the channels from (moto) S3 into a temporary /opt/ml (an S3Prefix channel by the keys
  below the prefix, a key equal to the prefix by its file name; a ManifestFile channel by the manifest's relative
  keys), runs the container's entry point (ContainerEntrypoint, its `mlops` the one beside this interpreter, with
  `--root` for /opt/ml) as a subprocess with the job's Environment and no AWS or MLflow endpoint (the job is
  network-isolated), writes its output lines to CloudWatch Logs (moto) in SageMaker's group and stream names, and
  uploads /opt/ml/model as `<S3OutputPath>/<job>/output/model.tar.gz` (where moto's ModelArtifacts point);
- DescribeTrainingJob: moto's answer with this job's status: InProgress while the entry point runs, then Completed,
  or Failed with /opt/ml/output/failure as FailureReason; Stopping, then Stopped after StopTrainingJob;
- StopTrainingJob: kills the entry point's process group.

What only a real account proves: that the training image starts with this entry point and the execution role
(terraform/modules/sagemaker-training) can read the channels, decrypt with the key, write the output and its logs;
that the job runs in the env's subnets with no network (EnableNetworkIsolation) yet SageMaker moves the channels and
the output; StoppingCondition (MaxRuntimeInSeconds) enforced by SageMaker; the channel layout of a real download.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import requests

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_FORWARDED = ("content-type", "x-amz-target", "x-amz-date", "authorization", "x-amz-security-token")


@dataclass
class Job:
    name: str
    request: dict[str, Any]
    status: str = "InProgress"
    secondary: str = "Starting"
    failure: str | None = None
    process: subprocess.Popen | None = None
    stop_asked: bool = False
    lines: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


class SageMakerStandin:
    def __init__(self, moto_url: str, region: str, credentials: tuple[str, str], work: Path):
        self.moto_url, self.region, self.credentials, self.work = moto_url.rstrip("/"), region, credentials, work
        self.jobs: dict[str, Job] = {}
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the test's output is the retrain's
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = standin.handle(self.headers.get("X-Amz-Target", ""), body, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="sagemaker-standin")

    def __enter__(self) -> SageMakerStandin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self.jobs.values():
            self._kill(job)
            job.done.wait(30)
        self.server.shutdown()
        self.server.server_close()

    def client(self, service: str) -> Any:
        key, secret = self.credentials
        return boto3.client(service, endpoint_url=self.moto_url, region_name=self.region,
                            aws_access_key_id=key, aws_secret_access_key=secret)  # fmt: skip

    # ---- the API ---------------------------------------------------------------------------------------------
    def handle(self, target: str, body: bytes, headers: Any) -> tuple[int, bytes]:
        action = target.rpartition(".")[2]
        request = json.loads(body or b"{}")
        if action == "StopTrainingJob":  # not in moto
            job = self.jobs.get(request.get("TrainingJobName", ""))
            if job is None:
                return 400, json.dumps({"__type": "ValidationException", "message": "no such job"}).encode()
            if job.status == "InProgress":
                job.stop_asked, job.status, job.secondary = True, "Stopping", "Stopping"
                self._kill(job)
            return 200, b"{}"
        forwarded = {k: v for k, v in headers.items() if k.lower() in _FORWARDED}
        answer = requests.post(self.moto_url + "/", data=body, headers=forwarded, timeout=30)
        if answer.status_code != 200:
            return answer.status_code, answer.content
        if action == "CreateTrainingJob":
            job = Job(request["TrainingJobName"], request)
            self.jobs[job.name] = job
            threading.Thread(target=self._play, args=(job,), daemon=True, name=f"job-{job.name}").start()
        elif action == "DescribeTrainingJob" and request.get("TrainingJobName") in self.jobs:
            job = self.jobs[request["TrainingJobName"]]
            described = answer.json()
            described.update(TrainingJobStatus=job.status, SecondaryStatus=job.secondary)
            if job.failure:
                described["FailureReason"] = job.failure
            if job.status != "Completed":
                described.pop("ModelArtifacts", None)
            return 200, json.dumps(described).encode()
        return 200, answer.content

    # ---- the job ---------------------------------------------------------------------------------------------
    def _play(self, job: Job) -> None:
        root = Path(tempfile.mkdtemp(prefix=f"{job.name}-", dir=self.work))
        stream = f"{job.name}/algo-1-{int(time.time())}"
        logs = self.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=LOG_GROUP)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        try:
            job.secondary = "Downloading"
            for channel in job.request.get("InputDataConfig", []):
                self._download(channel, root / "input" / "data" / channel["ChannelName"])
            job.secondary = "Training"
            if not job.stop_asked:
                self._run(job, root, logs, stream)
            if job.stop_asked:
                job.status, job.secondary = "Stopped", "Stopped"
            elif job.process is not None and job.process.returncode == 0:
                job.secondary = "Uploading"
                self._upload_model(job, root / "model")
                job.status, job.secondary = "Completed", "Completed"
            else:
                failure = root / "output" / "failure"
                code = job.process.returncode if job.process else "?"
                job.failure = failure.read_text() if failure.is_file() else f"AlgorithmError: exit code {code}"
                job.status, job.secondary = "Failed", "Failed"
        except Exception as exc:  # the stand-in's own fault: a failed job that says so
            job.failure, job.status, job.secondary = f"stand-in error: {exc}", "Failed", "Failed"
        finally:
            job.done.set()

    def _download(self, channel: dict[str, Any], into: Path) -> None:
        source = channel["DataSource"]["S3DataSource"]
        s3 = self.client("s3")
        bucket, _, key = source["S3Uri"].removeprefix("s3://").partition("/")
        if source["S3DataType"] == "ManifestFile":
            prefix, *relatives = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            bucket, _, base = prefix["prefix"].removeprefix("s3://").partition("/")
            wanted = [(base + relative, relative) for relative in relatives]
        else:
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            wanted = [(o["Key"], o["Key"][len(key) :].lstrip("/") or Path(o["Key"]).name) for o in listed]
        for object_key, relative in wanted:
            (into / relative).parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, object_key, str(into / relative))

    def _run(self, job: Job, root: Path, logs: Any, stream: str) -> None:
        program, *args = job.request["AlgorithmSpecification"]["ContainerEntrypoint"]
        if program == "mlops":
            program = str(Path(sys.executable).parent / "mlops")
        isolated = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_", "MLOPS_"))}
        env = {**isolated, "MLOPS_STATE_DIR": str(root / "state"), **job.request.get("Environment", {})}
        job.process = subprocess.Popen([program, *args, "--root", str(root)], env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)  # fmt: skip
        assert job.process.stdout is not None
        for line in job.process.stdout:
            job.lines.append(line)
            stamp = int(time.time() * 1000)
            logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                logEvents=[{"timestamp": stamp, "message": line.rstrip("\n") or " "}])  # fmt: skip
        job.process.wait()

    def _upload_model(self, job: Job, model_dir: Path) -> None:
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        bucket, _, prefix = job.request["OutputDataConfig"]["S3OutputPath"].removeprefix("s3://").partition("/")
        key = f"{prefix.rstrip('/')}/{job.name}/output/model.tar.gz".lstrip("/")
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=archive.getvalue())

    def _kill(self, job: Job) -> None:
        if job.process is not None and job.process.poll() is None:
            os.killpg(job.process.pid, signal.SIGKILL)
        job.stop_asked = job.stop_asked or job.status == "Stopping"
