"""The one settings object. Every value comes from an `MLOPS_`-prefixed environment variable.

Nothing here is read at import time: call `get_settings()` where a value is needed.
AWS and MLflow endpoints are not MLOps settings: boto3 honours `AWS_ENDPOINT_URL` and MLflow
`MLFLOW_TRACKING_URI`; when they are unset the code talks to real AWS and MLflow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A settings value has the wrong type or range; the message names the variable."""


def user_state_dir() -> Path:
    """The platform's local state (stack PIDs, logs and endpoints, locks, caches), the same from every directory:
    `MLOPS_HOME`, else `$XDG_STATE_HOME/mlops`, else `~/.local/state/mlops`. `MLOPS_STATE_DIR` overrides it."""
    home = os.environ.get("MLOPS_HOME")
    if home:
        return Path(home).expanduser().absolute()
    xdg = os.environ.get("XDG_STATE_HOME")
    return ((Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state") / "mlops").absolute()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLOPS_", extra="ignore")

    # where the local stack keeps PIDs, logs, its SQLite database and its env file
    state_dir: Path = Field(
        default_factory=user_state_dir,
        description="Local state: stack PIDs, logs and endpoints, locks, caches (default MLOPS_HOME or a user dir)",
    )
    region: str = Field("us-east-1", description="AWS region")

    # buckets and keys the services expect (created by the local stack, by Terraform on AWS)
    data_bucket: str = Field("mlops-data", description="DVC remote bucket")
    artifact_bucket: str = Field("mlops-artifacts", description="MLflow artifact bucket")
    capture_bucket: str = Field("mlops-capture", description="Inference capture bucket")
    kms_key_arn: str | None = Field(None, description="Key ARN, written by the local stack or Terraform output")
    kms_key_alias: str = Field("alias/mlops", description="Customer-managed KMS key alias")
    metrics_namespace: str = Field("MLOps", description="CloudWatch metrics namespace")

    # clients (mlops.core.clients): every call to AWS or MLflow is bounded
    aws_connect_timeout_seconds: float = Field(5.0, gt=0, le=120, description="AWS connect timeout")
    aws_read_timeout_seconds: float = Field(30.0, gt=0, le=900, description="AWS read timeout")
    aws_max_attempts: int = Field(3, ge=1, le=10, description="AWS attempts per call, the first included")
    # MLflow takes one timeout for connect and read alike; a dead server is found first by a short probe
    mlflow_timeout_seconds: float = Field(10.0, gt=0, le=900, description="MLflow timeout per HTTP request")
    mlflow_max_retries: int = Field(1, ge=0, le=10, description="MLflow retries per HTTP request")
    mlflow_probe_timeout_seconds: float = Field(
        3.0, gt=0, le=60, description="Connect and read timeout of the probe that checks the MLflow server answers"
    )
    mlflow_probe_attempts: int = Field(2, ge=1, le=5, description="Probes before the MLflow server counts as down")

    # models
    model_name: str = Field("demo-model", description="Default registered model name")
    champion_alias: str = Field("champion", description="Registry alias that serving follows")

    # infra (mlops.infra): the Terraform remote state that terraform/bootstrap creates (AWS runs only)
    tf_state_bucket: str | None = Field(None, description="Terraform state bucket (bootstrap output state_bucket)")
    tf_state_kms_key_arn: str | None = Field(
        None, description="CMK of the state and its lock file (bootstrap output kms_key_arn)"
    )

    # local stack ports: 0 picks a free loopback port
    stack_host: str = Field("127.0.0.1", description="Loopback address the local stack binds")
    moto_port: int = Field(0, ge=0, le=65535, description="moto server port (0 = free port)")
    mlflow_port: int = Field(0, ge=0, le=65535, description="MLflow server port (0 = free port)")
    mlflow_backend_store_uri: str | None = Field(
        None, description="MLflow backend store (e.g. postgresql://...); default SQLite in the state dir"
    )
    stack_start_timeout_seconds: float = Field(180.0, gt=0, description="How long a server may take to answer")

    # serving
    serve_host: str = Field("127.0.0.1", description="Serving bind address")
    serve_port: int = Field(8080, ge=1, le=65535, description="Serving port")
    # serving (mlops.serving): batching, limits, reload, auth, CORS, capture
    serve_model_uri: str | None = Field(
        None,
        description="Models to serve, one URI each separated by commas (models:/name@alias, models:/name/3, path); "
        "each names a different model (mlops.serving.model.split_model_uris)",
    )
    serve_workers: int = Field(1, ge=1, le=64, description="Serving worker processes")
    serve_max_batch_rows: int = Field(1024, ge=1, description="Most rows merged into one predict call")
    serve_max_wait_ms: float = Field(5.0, ge=0, le=1000, description="Longest a request waits for a batch to fill")
    serve_max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest request body (413 above)")
    serve_max_request_rows: int = Field(10_000, ge=1, description="Most rows in one request (413 above)")
    serve_max_header_bytes: int = Field(
        16 * 1024, ge=1024, le=1024 * 1024, description="Largest request line + headers (431 above)"
    )
    serve_max_headers: int = Field(100, ge=8, le=1000, description="Most header fields in one request (431 above)")
    serve_header_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Longest a connection may take to send a request's headers (then closed)"
    )
    serve_body_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest a request may take to send its body after the headers (408)"
    )
    serve_keepalive_timeout_seconds: float = Field(
        5.0, gt=0, le=300, description="Idle keep-alive connections are closed after this"
    )
    serve_max_connections: int = Field(
        1024, ge=1, le=100_000, description="Open connections per worker; more get 503 and are closed"
    )
    serve_startup_wait_seconds: float = Field(
        120.0,
        ge=0,
        le=3600,
        description="A starting worker accepts connections once its model is loaded, or "
        "after this long (then 503 until it is): a restarted worker takes no traffic it cannot serve",
    )
    serve_load_max_attempts: int = Field(
        5, ge=1, le=100, description="Failed loads of one model version before it is given up (until it changes)"
    )
    serve_reload_interval_seconds: float = Field(30.0, ge=0, description="Registry alias poll period (0 = off)")
    serve_api_keys: SecretStr | None = Field(None, description="Comma-separated API keys for serving")
    serve_api_keys_file: Path | None = Field(None, description="File with one API key per line (mounted secret)")
    serve_auth_required: bool = Field(True, description="Refuse to start without API keys (false = open server)")
    serve_public_version: bool = Field(
        False, description="Show the served model version on /health/ready to callers without a key (release diff)"
    )
    serve_cors_origins: str = Field("", description="Comma-separated allowed CORS origins (empty = CORS off)")
    serve_access_log: bool = Field(True, description="One JSON access-log line per request")
    serve_capture_sample_rate: float = Field(0.0, ge=0, le=1, description="Share of rows captured to S3")
    serve_capture_max_rows_per_request: int = Field(
        100, ge=1, description="Most rows one request adds to the capture (one caller cannot fill the window)"
    )
    serve_capture_max_rows_per_second: float = Field(
        1000.0, gt=0, description="Most rows per second a worker adds to the capture (the rest are counted, dropped)"
    )
    serve_capture_flush_seconds: float = Field(60.0, gt=0, description="Longest captured rows wait before upload")
    # privacy (mlops.core.data_classes): personal columns are hashed in the capture with this key (serving), and
    # the same key hashes drift's reference and the subject `mlops privacy erase` looks for
    capture_hash_key_parameter: str | None = Field(
        None,
        pattern=r"^/[A-Za-z0-9_.\-/]+$",
        description="SSM SecureString holding the HMAC-SHA256 key for personal columns (e.g. /mlops/capture/hash-key)",
    )
    serve_graceful_timeout_seconds: float = Field(30.0, gt=0, description="SIGTERM: time allowed for in-flight work")

    # drift (mlops.drift): where `drift run --engine auto` sends a window, and EMR Serverless (the ids and URIs are
    # terraform/modules/emr-serverless outputs and the published job code, services/drift/README.md)
    drift_emr_min_rows: int = Field(
        # the local engine counts about 285k rows/s end to end on 2 cores (benchmarks/README.md): 200M rows take
        # about 12 minutes, a quarter of the CronJob's 45-minute deadline in prod (docs/scaling.md)
        200_000_000,
        ge=1,
        description="`drift run --engine auto`: windows of at least this many rows run on EMR",
    )
    drift_emr_application_id: str | None = Field(None, description="EMR Serverless application (output application_id)")
    drift_emr_job_role_arn: str | None = Field(None, description="Execution role of the drift job (job_role_arn)")
    drift_emr_entry_point: str | None = Field(
        None, pattern=r"^s3://", description="S3 URI of the job's entry point script (mlops/drift/emr_entry.py)"
    )
    drift_emr_archive: str | None = Field(
        None, pattern=r"^s3://", description="S3 URI of the packed Python environment (venv-pack .tar.gz)"
    )
    drift_emr_log_group: str | None = Field(None, description="CloudWatch Logs group of the job (log_group_name)")
    drift_emr_prefix: str = Field(
        "drift-emr", pattern=r"^[A-Za-z0-9_.\-]+$", description="Data bucket prefix of the jobs' profiles and reports"
    )
    drift_emr_timeout_seconds: float = Field(
        # below the drift CronJob's shortest activeDeadlineSeconds (prod, 2700 s): the wait, not a killed pod, cancels
        2400.0,
        gt=0,
        description="How long `drift run` waits for its EMR job (queueing included); then cancels it",
    )
    drift_emr_poll_seconds: float = Field(5.0, gt=0, le=300, description="First wait between GetJobRun calls")
    drift_emr_poll_max_seconds: float = Field(60.0, gt=0, le=900, description="Longest wait between GetJobRun calls")

    # pipelines and retraining (mlops.training, mlops.registry, mlops.retraining)
    actor: str | None = Field(None, description="Who promotes/rolls back, for the audit record (default: login user)")
    retrain_config: Path | None = Field(None, description="YAML listing the models the retraining service handles")
    retrain_max_attempts: int = Field(3, ge=1, le=20, description="Tries per retrain on transient errors")
    retrain_backoff_seconds: float = Field(5.0, ge=0, description="First retry delay; doubles per attempt")
    retrain_dvc_timeout_seconds: float = Field(
        3600.0, gt=0, description="Longest one dvc command (pull, repro) may run; then its process group is killed"
    )
    retrain_retry_timeouts: bool = Field(
        False, description="Count a dvc timeout as transient, so the retrain retries it (off: it fails at once)"
    )
    retrain_poll_seconds: float = Field(30.0, gt=0, description="How often `mlops retrain serve` looks for work")
    retrain_metrics_host: str = Field("127.0.0.1", description="Bind address of the retraining metrics endpoint")
    retrain_metrics_port: int = Field(9108, ge=0, le=65535, description="Retraining metrics port (0 = off)")
    retrain_outcome_file: Path | None = Field(
        None, description="`mlops retrain run` also writes its outcome JSON here (a k8s Job's termination message)"
    )
    # the SageMaker training backend (mlops.retraining.sagemaker); the ARNs and ids are the env's Terraform outputs
    retrain_sagemaker_role_arn: str | None = Field(
        None, description="Execution role of the training jobs (terraform/modules/sagemaker-training output role_arn)"
    )
    retrain_sagemaker_image: str | None = Field(
        None, description="ECR image URI of the training image (ops/training: `mlops` installed) the jobs run"
    )
    retrain_sagemaker_subnets: str = Field(
        "", pattern=r"^[A-Za-z0-9-]*(,[A-Za-z0-9-]+)*$", description="Comma-separated private subnet ids of the env"
    )
    retrain_sagemaker_security_groups: str = Field(
        "",
        pattern=r"^[A-Za-z0-9-]*(,[A-Za-z0-9-]+)*$",
        description="Comma-separated security group ids (sagemaker-training output security_group_id)",
    )
    retrain_sagemaker_job_prefix: str = Field(
        "mlops",
        pattern=r"^[a-zA-Z0-9](-?[a-zA-Z0-9]){0,23}$",
        description="Training job names start with it: the env's name (sagemaker-training scopes its IAM to it)",
    )
    retrain_sagemaker_instance_type: str = Field("ml.m5.xlarge", description="Instance type of a training job")
    retrain_sagemaker_volume_gb: int = Field(30, ge=1, le=16384, description="ML storage volume of a training job")
    retrain_sagemaker_max_runtime_seconds: int = Field(
        6 * 3600, ge=60, le=28 * 86400, description="StoppingCondition: SageMaker stops a job running longer"
    )
    retrain_sagemaker_timeout_seconds: float = Field(
        7 * 3600, gt=0, description="How long a retrain waits for its job (queueing included); then it stops the job"
    )
    retrain_sagemaker_poll_seconds: float = Field(
        5.0, gt=0, le=300, description="First wait between DescribeTrainingJob calls; doubles up to the cap"
    )
    retrain_sagemaker_poll_max_seconds: float = Field(
        60.0, gt=0, le=900, description="Longest wait between DescribeTrainingJob calls"
    )

    # deploy (mlops.delivery): canary rollout behind the ALB
    canary_steps: str = Field("10,50,100", pattern=r"^\d+(,\d+)*$", description="Traffic % per canary step")
    canary_watch_seconds: float = Field(300.0, ge=0, description="How long each canary step watches the alarms")
    canary_poll_seconds: float = Field(
        15.0,
        gt=0,
        description="Alarm poll period during a canary step; also the longest poll of the wait for the new color's "
        "healthy targets (which otherwise follows the target group's health check interval)",
    )
    ecr_repository: str = Field("mlops-serve", description="ECR repository of the serving image")

    # releases (mlops.release): the github Git host client of `mlops release propose --git-host github`
    github_api_url: str = Field(
        "https://api.github.com", description="GitHub REST API (Enterprise: https://HOST/api/v3)"
    )
    github_token: SecretStr | None = Field(None, description="Token that may open pull requests on the release repo")

    # Jenkins (mlops jenkins): credentials only from the environment, never from arguments
    jenkins_url: str | None = Field(None, description="Jenkins controller URL")
    jenkins_user: str | None = Field(None, description="Jenkins user the API token belongs to")
    jenkins_api_token: SecretStr | None = Field(None, description="Jenkins API token")

    # monitoring (monitoring/, mlops.core.cloudwatch_metrics): serving figures to CloudWatch
    cloudwatch_metrics: bool = Field(False, description="Serving also sends request figures to CloudWatch")
    cloudwatch_metrics_flush_seconds: float = Field(60.0, gt=0, le=3600, description="CloudWatch metrics send period")

    log_group: str | None = Field(None, description="CloudWatch Logs group that services also ship their logs to")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$", description="Log level")
    verbose: bool = Field(
        False, description="Show every log line on the console, libraries' too (`mlops --verbose`); else the log file"
    )

    @field_validator("state_dir")
    @classmethod
    def _absolute_state_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()  # one place, whichever directory a command starts in

    @property
    def stack_env_file(self) -> Path:
        return self.state_dir / "stack.env"

    @property
    def log_file(self) -> Path:
        """Where `mlops` commands write every log line, libraries' included (the console shows a summary)."""
        return self.state_dir / "logs" / "mlops.log"


def _describe(error: Any) -> str:
    field = str(error["loc"][0]) if error.get("loc") else "?"
    variable = f"MLOPS_{field.upper()}"
    value = os.environ.get(variable, "")
    return f"{variable}={value!r}: {error['msg']}"


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, turning a validation failure into a message per variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped), as the local stack writes its endpoints."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def load_stack_env(settings: Settings) -> bool:
    """Export the running local stack's endpoints into this process unless the caller already set them."""
    path = settings.stack_env_file
    if not path.exists():
        return False
    for key, value in read_env_file(path).items():
        os.environ.setdefault(key, value)
    return True
