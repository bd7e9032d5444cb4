"""The local stack: a moto server standing in for AWS and a real MLflow server, on loopback.

`LocalStack(settings).up()` starts both in the background (PIDs and logs under the state dir), creates the
KMS key and the buckets the rest of the code expects, and writes the endpoints to one env file. `down()` stops
only the processes whose PID files it wrote (matched by PID *and* start time, so a recycled PID is never killed).

The state dir is the user's (`MLOPS_HOME`, else `~/.local/state/mlops`; `mlops.core.settings.user_state_dir`), so
every directory finds the same stack. Free ports are remembered (`ports.json`) and taken again by the next `up` when
they are still free, so an endpoint written into a model project's `.dvc/config.local` stays right across restarts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from mlops.core.clients import aws_client
from mlops.core.errors import MlopsError
from mlops.core.settings import Settings

# moto accepts any credentials; these are not secrets, they only keep boto3 from searching for real ones
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
}


class StackError(MlopsError):
    """The local stack could not be started or inspected; the message says why and what to do."""


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    url: str | None
    running: bool
    answers: bool
    note: str = ""


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL we built
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


def _venv_executable(name: str) -> str:
    """Prefer the executable beside the running interpreter (the project's .venv), then PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise StackError(f"'{name}' is not installed; run `make setup` to create the virtual environment")
    return found


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class LocalStack:
    SERVICES = ("moto", "mlflow")

    def __init__(self, settings: Settings):
        self.settings = settings
        self.dir = settings.state_dir.resolve()

    # ---- PID files -------------------------------------------------------------------------------------
    def _pid_file(self, name: str) -> Path:
        return self.dir / f"{name}.pid.json"

    def _log_file(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def _record(self, name: str) -> dict | None:
        path = self._pid_file(name)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            raise StackError(f"PID file {path} is unreadable; delete it and run `mlops stack up` again") from None

    @staticmethod
    def _alive(record: dict) -> bool:
        """True when the PID still belongs to the process we started (same PID and start time)."""
        try:
            proc = psutil.Process(record["pid"])
            return abs(proc.create_time() - record["create_time"]) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError):
            return False

    def _url(self, record: dict) -> str:
        return f"http://{record['host']}:{record['port']}"

    # ---- starting ----------------------------------------------------------------------------------------
    def _remembered_ports(self) -> dict[str, int]:
        try:
            found = json.loads((self.dir / "ports.json").read_text())
            return {k: int(v) for k, v in found.items()} if isinstance(found, dict) else {}
        except (OSError, ValueError):
            return {}

    def _remember_port(self, name: str, port: int) -> None:
        ports = {**self._remembered_ports(), name: port}
        (self.dir / "ports.json").write_text(json.dumps(ports, sort_keys=True))

    def _choose_port(self, name: str, configured: int) -> int:
        host = self.settings.stack_host
        if configured == 0:
            previous = self._remembered_ports().get(name)
            if previous and not _port_in_use(host, previous):
                return previous  # the same endpoint as last time: project configs that name it stay right
            port = _free_port(host)
            self._remember_port(name, port)
            return port
        if _port_in_use(host, configured):
            raise StackError(
                f"port {configured} on {host} is already in use, so the {name} server cannot start "
                f"(set MLOPS_{name.upper()}_PORT to a free port, or 0 to pick one)"
            )
        return configured

    def _start(self, name: str, argv: list[str], port: int, health_path: str, env: dict) -> dict:
        log_path = self._log_file(name)
        with log_path.open("ab") as log:
            proc = psutil.Popen(
                argv,
                stdout=log,
                stderr=log,
                stdin=_devnull(),
                env={**os.environ, **env},
                cwd=self.dir,  # what a service writes beside itself (moto's recordings) stays in the state dir
                start_new_session=True,  # its own process group, so `down` stops its workers too
            )
        record = {
            "pid": proc.pid,
            "create_time": proc.create_time(),
            "host": self.settings.stack_host,
            "port": port,
            "argv": argv,
        }
        url = self._url(record) + health_path
        deadline = time.monotonic() + self.settings.stack_start_timeout_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackError(
                    f"the {name} server exited at start with code {proc.returncode}; "
                    f"last lines of {log_path}:\n{_tail(log_path)}"
                )
            if _answers(url, timeout=1.0):
                self._pid_file(name).write_text(json.dumps(record))
                return record
            time.sleep(0.25)
        _stop_group(proc.pid)
        raise StackError(
            f"the {name} server did not answer on {url} within "
            f"{self.settings.stack_start_timeout_seconds:.0f}s; last lines of {log_path}:\n{_tail(log_path)}"
        )

    def _running_record(self, name: str, messages: list[str]) -> dict | None:
        record = self._record(name)
        if record is None:
            return None
        if self._alive(record):
            messages.append(f"{name}: already running (pid {record['pid']}) at {self._url(record)}")
            return record
        self._pid_file(name).unlink()
        messages.append(f"{name}: stale PID file (pid {record.get('pid')} is not running); removed it")
        return None

    def up(self, say: Callable[[str], None] | None = None) -> tuple[dict[str, str], list[str]]:
        """Start what is not running; return the endpoint environment and one message per service. `say` hears
        about each step as it starts (a cold start takes tens of seconds: MLflow migrates its database)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        messages: list[str] = []
        say = say or (lambda _: None)
        region = self.settings.region
        base_env = {**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}

        moto = self._running_record("moto", messages)
        if moto is None:
            say("starting the moto server (AWS)")
            port = self._choose_port("moto", self.settings.moto_port)
            argv = [_venv_executable("moto_server"), "-H", self.settings.stack_host, "-p", str(port)]
            moto = self._start("moto", argv, port, "/moto-api/", base_env)
            messages.append(f"moto: started (pid {moto['pid']}) at {self._url(moto)}")
        aws_url = self._url(moto)
        aws_env = {**base_env, "AWS_ENDPOINT_URL": aws_url, "MLFLOW_S3_ENDPOINT_URL": aws_url}

        say("creating the KMS key and the buckets (idempotent)")
        kms_key_arn = provision_aws(self.settings, aws_env)

        mlflow = self._running_record("mlflow", messages)
        if mlflow is None:
            first = not (self.dir / "mlflow.db").exists() and not self.settings.mlflow_backend_store_uri
            say("starting the MLflow server" + (" (first start: creating its database, about 30 s)" if first else ""))
            port = self._choose_port("mlflow", self.settings.mlflow_port)
            backend = self.settings.mlflow_backend_store_uri or f"sqlite:///{self.dir / 'mlflow.db'}"
            argv = [
                _venv_executable("mlflow"), "server",
                "--backend-store-uri", backend,
                "--artifacts-destination", f"s3://{self.settings.artifact_bucket}/mlflow",
                "--host", self.settings.stack_host, "--port", str(port), "--workers", "1",
            ]  # fmt: skip
            mlflow = self._start("mlflow", argv, port, "/health", aws_env)
            messages.append(f"mlflow: started (pid {mlflow['pid']}) at {self._url(mlflow)}")

        endpoints = {
            **aws_env,
            "MLFLOW_TRACKING_URI": self._url(mlflow),
            "MLOPS_KMS_KEY_ARN": kms_key_arn,
        }
        self._write_env_file(endpoints)
        return endpoints, messages

    def _write_env_file(self, endpoints: dict[str, str]) -> None:
        path = self.settings.stack_env_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{key}={value}\n" for key, value in sorted(endpoints.items())))
        tmp.replace(path)  # atomic: a reader never sees half a file

    # ---- stopping and inspecting -------------------------------------------------------------------------
    def down(self) -> list[str]:
        messages = []
        for name in reversed(self.SERVICES):
            record = self._record(name)
            if record is None:
                messages.append(f"{name}: not started by this stack")
                continue
            if self._alive(record):
                _stop_group(record["pid"])
                messages.append(f"{name}: stopped (pid {record['pid']})")
            else:
                messages.append(f"{name}: was not running (stale PID file removed)")
            self._pid_file(name).unlink(missing_ok=True)
        self.settings.stack_env_file.unlink(missing_ok=True)
        return messages

    def status(self) -> list[ServiceStatus]:
        result = []
        for name in self.SERVICES:
            record = self._record(name)
            if record is None:
                result.append(ServiceStatus(name, None, None, False, False, "not started"))
                continue
            url = self._url(record)
            alive = self._alive(record)
            health = "/moto-api/" if name == "moto" else "/health"
            answers = alive and _answers(url + health)
            note = "" if alive else "stale PID file: process is gone (run `mlops stack up`)"
            result.append(ServiceStatus(name, record["pid"], url, alive, answers, note))
        return result


def _devnull():
    return open(os.devnull, "rb")  # noqa: SIM115 - handed to the child, closed with the process


def _stop_group(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `timeout`."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    try:
        group = [p for p in psutil.process_iter() if _pgid(p) == pgid]
    except psutil.Error:
        group = []
    os.killpg(pgid, signal.SIGTERM)
    _, alive = psutil.wait_procs(group, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except (ProcessLookupError, PermissionError):
        return None


def provision_aws(settings: Settings, aws_env: dict[str, str]) -> str:
    """Create (idempotently) the KMS key and the buckets, encrypted by default with that key; return its ARN."""

    # the endpoints are not in this process's environment yet, so they are passed explicitly
    def local(service: str) -> Any:
        credentials = (aws_env["AWS_ACCESS_KEY_ID"], aws_env["AWS_SECRET_ACCESS_KEY"])
        return aws_client(service, settings, endpoint_url=aws_env["AWS_ENDPOINT_URL"], credentials=credentials)

    kms = local("kms")
    try:
        key_arn = kms.describe_key(KeyId=settings.kms_key_alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        key_arn = kms.create_key(Description="r5-mlops local stack key")["KeyMetadata"]["Arn"]
        kms.enable_key_rotation(KeyId=key_arn)
        kms.create_alias(AliasName=settings.kms_key_alias, TargetKeyId=key_arn)

    s3 = local("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in (settings.data_bucket, settings.artifact_bucket, settings.capture_bucket):
        if bucket not in existing:
            kwargs = {}
            if settings.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
            s3.create_bucket(Bucket=bucket, **kwargs)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    return key_arn
