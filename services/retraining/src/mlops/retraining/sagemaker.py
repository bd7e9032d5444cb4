"""The SageMaker backend of a retrain: the pipeline stages run as a SageMaker training job; the registration, the
gate and the promotion stay here, the same calls as a local retrain (mlops.retraining.runner).

1. Stage: the project's source at the clone's commit (`git archive`) and a manifest of its DVC inputs (the DVC
   remote's `files/md5/xx/yyyy` objects of the exact md5s the `.dvc` files name) go to the artifacts bucket.
2. Submit CreateTrainingJob: the training image runs `mlops pipeline sagemaker-entry` (mlops.training.sagemaker_entry)
   in the env's private subnets, network-isolated, outputs and volume encrypted with the env's key.
3. Watch: DescribeTrainingJob with capped exponential backoff, the job's CloudWatch Logs streamed into the log as
   they appear. A Failed or Stopped job is a failed retrain with SageMaker's FailureReason; on the overall timeout, an
   error or SIGTERM/KeyboardInterrupt on the way out the job is stopped (StopTrainingJob) first.
4. Completed: model.tar.gz is unpacked into the clone where `dvc repro` puts the outputs; the caller registers it.
A job that did not complete never reaches the registry.
"""

from __future__ import annotations

import logging
import re
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

import click

from mlops.core.clients import aws_client
from mlops.core.contracts import (
    Tags,
    training_manifest_key,
    training_output_prefix,
    training_source_key,
)
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings
from mlops.training.project import Project, pipeline_outputs
from mlops.training.sagemaker_entry import DATA_CHANNEL, ENTRY_COMMAND, SOURCE_CHANNEL

log = logging.getLogger(__name__)
job_log = logging.getLogger("mlops.retraining.sagemaker.job")  # the training job's own lines, as they come

LOG_GROUP: Final = "/aws/sagemaker/TrainingJobs"  # SageMaker's fixed group; streams are "<job name>/algo-1-..."
TERMINAL: Final = ("Completed", "Failed", "Stopped")
_DESCRIBE_FAILURES: Final = 5  # DescribeTrainingJob failing this many polls in a row ends the watch
_JOB_NAME = re.compile(r"[^a-zA-Z0-9-]+")


@dataclass(frozen=True)
class JobSettings:
    """The settings a training job needs, checked up front so a missing one is named before anything is uploaded."""

    role_arn: str
    image: str
    subnets: list[str]
    security_groups: list[str]
    kms_key: str
    instance_type: str
    volume_gb: int
    max_runtime_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> JobSettings:
        subnets = [s for s in settings.retrain_sagemaker_subnets.split(",") if s]
        groups = [g for g in settings.retrain_sagemaker_security_groups.split(",") if g]
        missing = [
            f"{variable} ({what})"
            for variable, value, what in (
                ("MLOPS_RETRAIN_SAGEMAKER_ROLE_ARN", settings.retrain_sagemaker_role_arn, "the execution role ARN"),
                ("MLOPS_RETRAIN_SAGEMAKER_IMAGE", settings.retrain_sagemaker_image, "the training image URI"),
                ("MLOPS_RETRAIN_SAGEMAKER_SUBNETS", subnets, "the env's private subnet ids"),
                ("MLOPS_RETRAIN_SAGEMAKER_SECURITY_GROUPS", groups, "the job's security group id"),
                ("MLOPS_KMS_KEY_ARN", settings.kms_key_arn, "the env's KMS key for outputs and volumes"),
            )
            if not value
        ]
        if missing:
            raise MlopsError(f"the sagemaker backend needs settings that are not set: {', '.join(missing)}")
        return cls(
            role_arn=str(settings.retrain_sagemaker_role_arn),
            image=str(settings.retrain_sagemaker_image),
            subnets=subnets,
            security_groups=groups,
            kms_key=str(settings.kms_key_arn),
            instance_type=settings.retrain_sagemaker_instance_type,
            volume_gb=settings.retrain_sagemaker_volume_gb,
            max_runtime_seconds=settings.retrain_sagemaker_max_runtime_seconds,
        )


def job_name(prefix: str, model: str, commit: str) -> str:
    """`<prefix>-<model>-<commit>-<id>`: unique per submission, at most 63 characters, the env's prefix first (the
    IAM of sagemaker-training is scoped to it), model and commit readable in the console."""
    room = 63 - len(prefix) - len("--") - 8 - len("-") - 8
    stem = _JOB_NAME.sub("-", model).strip("-")[:room].strip("-") or "model"
    return f"{prefix}-{stem}-{commit[:8]}-{uuid.uuid4().hex[:8]}"


def dvc_objects(project: Project) -> tuple[str, list[str]]:
    """(the DVC remote's md5 prefix, the object keys below it) of the project's inputs at this data version: DVC 3
    stores a file of md5 M at `<remote>/files/md5/M[:2]/M[2:]`."""
    name, url = project.remote()
    if not url.startswith("s3://"):
        raise MlopsError(f"the sagemaker backend reads inputs from an S3 DVC remote; remote {name!r} is {url}")
    return f"{url.rstrip('/')}/files/md5/", [f"{md5[:2]}/{md5[2:]}" for md5 in project.datasets().values()]


def training_job_request(
    job: JobSettings,
    name: str,
    model: str,
    commit: str,
    params: str,
    source_uri: str,
    manifest_uri: str,
    output_uri: str,
) -> dict[str, Any]:
    """The CreateTrainingJob request: the entry point in the training image, in the env's private subnets with no
    network of its own (SageMaker fetches the channels and stores the output), everything encrypted with the key."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": job.image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": [*ENTRY_COMMAND, "--params", params],
        },
        "RoleArn": job.role_arn,
        "InputDataConfig": [
            {
                "ChannelName": SOURCE_CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": source_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "CompressionType": "None",
            },
            {
                "ChannelName": DATA_CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",  # exactly the md5 objects, each at <channel>/xx/yyyy
                        "S3Uri": manifest_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "CompressionType": "None",
            },
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri, "KmsKeyId": job.kms_key},
        "ResourceConfig": {
            "InstanceType": job.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": job.volume_gb,
            "VolumeKmsKeyId": job.kms_key,
        },
        "VpcConfig": {"SecurityGroupIds": job.security_groups, "Subnets": job.subnets},
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime_seconds},
        "EnableNetworkIsolation": True,  # the stages need no network: inputs and outputs are SageMaker's to move
        "EnableInterContainerTrafficEncryption": True,
        # every line on the console, DVC's and the stages' too: the console is the job's CloudWatch log
        "Environment": {"MLOPS_VERBOSE": "true", "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"},
        "Tags": [{"Key": "mlops.model", "Value": model}, {"Key": Tags.GIT_COMMIT, "Value": commit}],
    }


def _upload_source(settings: Settings, project: Project, key: str) -> None:
    import git

    with tempfile.TemporaryFile() as archive:
        git.Repo(project.root).archive(archive, treeish="HEAD", format="tar.gz")
        archive.seek(0)
        aws_client("s3", settings).upload_fileobj(
            archive, settings.artifact_bucket, key, ExtraArgs=_encryption(settings)
        )


def _encryption(settings: Settings) -> dict[str, str]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings.kms_key_arn} if settings.kms_key_arn else {}


def _upload_manifest(settings: Settings, project: Project, key: str) -> None:
    import json

    prefix, keys = dvc_objects(project)
    body = json.dumps([{"prefix": prefix}, *keys]).encode()
    aws_client("s3", settings).put_object(Bucket=settings.artifact_bucket, Key=key, Body=body, **_encryption(settings))


class LogTail:
    """The job's CloudWatch Logs streams (`<job>/algo-1-<epoch>`), read from where the last call stopped."""

    def __init__(self, settings: Settings, name: str):
        self.logs = aws_client("logs", settings)
        self.name = name
        self.tokens: dict[str, str | None] = {}

    def drain(self) -> int:
        """Show the lines written since the last call. A failure to read them is logged, never fatal to the job."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._drain()
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":  # not found: no line written yet
                log.warning("cannot read the training job's logs", extra={"training_job": self.name, "error": str(exc)})
        except BotoCoreError as exc:
            log.warning("cannot read the training job's logs", extra={"training_job": self.name, "error": str(exc)})
        return 0

    def _drain(self) -> int:
        shown = 0
        streams = self.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=self.name + "/")
        for stream in streams.get("logStreams", []):
            stream_name = stream["logStreamName"]
            while True:
                token = self.tokens.get(stream_name)
                page = self.logs.get_log_events(
                    logGroupName=LOG_GROUP,
                    logStreamName=stream_name,
                    startFromHead=True,
                    **({"nextToken": token} if token else {}),
                )
                for event in page.get("events", []):
                    line = event["message"].rstrip("\n")
                    job_log.info(line, extra={"training_job": self.name})  # the log file (and its CloudWatch)
                    click.echo(f"sagemaker {self.name}: {line}", err=True)  # the console, as they come
                    shown += 1
                self.tokens[stream_name] = page.get("nextForwardToken")
                if not page.get("events") or page.get("nextForwardToken") == token:
                    break
        return shown


def watch(
    settings: Settings,
    name: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the job until it ends, streaming its logs; stop it when this ends any other way (timeout, an error,
    SIGTERM as SystemExit, KeyboardInterrupt). Returns the last DescribeTrainingJob answer."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = aws_client("sagemaker", settings)
    tail = LogTail(settings, name)
    deadline = clock() + settings.retrain_sagemaker_timeout_seconds
    delay = settings.retrain_sagemaker_poll_seconds
    status, finished, failures = "Unknown", False, 0
    try:
        while True:
            try:
                job = client.describe_training_job(TrainingJobName=name)
                failures = 0
            except (BotoCoreError, ClientError) as exc:  # each call has its own bounded retries already
                failures += 1
                if failures >= _DESCRIBE_FAILURES:
                    raise MlopsError(f"cannot watch training job {name}: {exc}; it was stopped") from None
                log.warning("cannot describe the training job", extra={"training_job": name, "error": str(exc)})
                sleep(delay)
                continue
            if job["TrainingJobStatus"] != status:
                status = job["TrainingJobStatus"]
                secondary = job.get("SecondaryStatus")
                log.info("training job status", extra={"training_job": name, "status": status,
                                                        "secondary_status": secondary})  # fmt: skip
                click.echo(f"sagemaker {name}: {status} ({secondary})", err=True)
            tail.drain()
            if status in TERMINAL:
                finished = True
                return job
            if clock() >= deadline:
                raise MlopsError(
                    f"training job {name} did not finish within {settings.retrain_sagemaker_timeout_seconds:.0f}s "
                    "(MLOPS_RETRAIN_SAGEMAKER_TIMEOUT_SECONDS); it was stopped"
                )
            sleep(min(delay, max(0.0, deadline - clock())))
            delay = min(delay * 2, settings.retrain_sagemaker_poll_max_seconds)
    finally:
        if not finished:
            _stop(client, name)


def _stop(client: Any, name: str) -> None:
    """Stop the job; it may have ended meanwhile, and a failure to stop must not hide why we stopped it."""
    try:
        client.stop_training_job(TrainingJobName=name)
        log.warning("training job stopped", extra={"training_job": name})
    except Exception as exc:
        log.error("cannot stop the training job", extra={"training_job": name, "error": str(exc), "alert": True})


def unpack_outputs(settings: Settings, project: Project, artifacts_uri: str) -> None:
    """Put the job's model.tar.gz where `dvc repro` writes: the stage outputs of dvc.yaml and dvc.lock, nothing else."""
    import shutil

    bucket, _, key = artifacts_uri.removeprefix("s3://").partition("/")
    allowed = pipeline_outputs(project.root) | {"dvc.lock"}
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "model.tar.gz"
        aws_client("s3", settings).download_file(bucket, key, str(archive))
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if PurePosixPath(m.name).parts not in ((), (".",))]
            stray = [m.name for m in members if not _under(m.name, allowed)]
            if stray:
                raise MlopsError(f"{artifacts_uri} holds files no stage of dvc.yaml writes: {stray[:5]}")
            names = [PurePosixPath(m.name).as_posix().removeprefix("./") for m in members]
            missing = sorted(o for o in allowed if not any(n == o or n.startswith(o + "/") for n in names))
            if missing:
                raise MlopsError(f"{artifacts_uri} lacks the stage outputs {missing}")
            staged = Path(tmp) / "out"
            tar.extractall(staged, members=members, filter="data")  # refuses links and paths outside staged
        for output in sorted(allowed):  # all checked: now replace what a previous run may have left
            target = project.path(output)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staged / output), target)


def _under(name: str, outputs: set[str]) -> bool:
    path = PurePosixPath(name).as_posix().removeprefix("./")
    return any(path == o or path.startswith(o + "/") or o.startswith(path + "/") for o in outputs)


def train_on_sagemaker(settings: Settings, project: Project, model: str, params: str) -> str:
    """Run the project's stages as a training job and unpack its outputs into `project`; returns the job's ARN.
    Raises MlopsError when the job did not complete (nothing is unpacked then)."""
    job = JobSettings.from_settings(settings)
    commit = project.git_facts().commit
    prefix, _ = dvc_objects(project)  # an unusable remote is refused before anything is uploaded
    name = job_name(settings.retrain_sagemaker_job_prefix, model, commit)
    bucket = settings.artifact_bucket
    _upload_source(settings, project, training_source_key(model, commit))
    _upload_manifest(settings, project, training_manifest_key(model, name))
    request = training_job_request(
        job, name, model, commit, params,
        source_uri=f"s3://{bucket}/{training_source_key(model, commit)}",
        manifest_uri=f"s3://{bucket}/{training_manifest_key(model, name)}",
        output_uri=f"s3://{bucket}/{training_output_prefix(model)}",
    )  # fmt: skip
    arn = aws_client("sagemaker", settings).create_training_job(**request)["TrainingJobArn"]
    log.info("training job submitted", extra={"model": model, "training_job": name, "arn": arn, "inputs": prefix})
    click.echo(f"sagemaker: training job {name} submitted ({job.instance_type}, commit {commit[:8]})", err=True)
    described = watch(settings, name)
    if described["TrainingJobStatus"] != "Completed":
        reason = described.get("FailureReason") or "no reason given"
        raise MlopsError(f"training job {name} {described['TrainingJobStatus'].lower()}: {reason}")
    unpack_outputs(settings, project, described["ModelArtifacts"]["S3ModelArtifacts"])
    return arn
