"""`mlops serve`: check the model URI and the settings up front, then run the ASGI app under uvicorn."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile

import click

from mlops.core.settings import Settings, get_settings


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@click.command()
@click.option("--model-uri", "model_uris", multiple=True,
              help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN/PATH or a local model dir; repeat it to serve "
              "several models, one URI each [default: MLOPS_SERVE_MODEL_URI, URIs separated by commas]")  # fmt: skip
@click.option("--host", help="Bind address [default: MLOPS_SERVE_HOST, 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [default: MLOPS_SERVE_PORT, 8080]")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes [default: MLOPS_SERVE_WORKERS, 1]")
def serve(model_uris: tuple[str, ...], host: str | None, port: int | None, workers: int | None) -> None:
    """Serve MLflow models: /invocations, /models/NAME/invocations, Open Inference Protocol V2, /health/*, /metrics."""
    from mlops.core.contracts import ModelUriError
    from mlops.core.errors import MlopsError
    from mlops.serving.app import MIN_KEY_LENGTH, load_keys, weak_keys
    from mlops.serving.model import parse_sources, resolve_version, split_model_uris

    settings = get_settings()
    for name, instead in REMOVED_SETTINGS.items():
        if name in os.environ:
            raise click.ClickException(f"{name} is no longer read: {instead}")
    hint = "--model-uri"
    for uri in model_uris:
        if "," in uri:  # the workers get the list comma-joined: a comma cannot be part of one URI
            raise click.BadParameter(f"'{uri}' holds a comma: give each model its own --model-uri", param_hint=hint)
    try:
        uris = list(model_uris) or split_model_uris(settings.serve_model_uri or "")
        if not uris:
            raise click.UsageError("--model-uri is required (or set MLOPS_SERVE_MODEL_URI)")
        sources = parse_sources(uris, settings.model_name)
    except ModelUriError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None
    try:
        keys = load_keys(settings)
    except OSError as exc:
        raise click.ClickException(f"MLOPS_SERVE_API_KEYS_FILE cannot be read: {exc.strerror}") from None
    if settings.serve_auth_required and not keys:
        raise click.ClickException(
            "no API keys configured: set MLOPS_SERVE_API_KEYS or MLOPS_SERVE_API_KEYS_FILE "
            "(or MLOPS_SERVE_AUTH_REQUIRED=false to serve without authentication)"
        )
    if weak_keys(keys):
        which = ", ".join(str(i) for i in weak_keys(keys))
        raise click.ClickException(
            f"API key number {which} is shorter than {MIN_KEY_LENGTH} characters; use long random keys "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    host = host or settings.serve_host
    port = port or settings.serve_port
    workers = workers or settings.serve_workers
    _check_port(host, port)
    for source in sources:  # each model is checked, and gets its own capture policy, before any worker starts
        try:
            concrete, version, classes = resolve_version(source)
            if settings.serve_capture_sample_rate > 0:
                _check_capture_policy(concrete, classes, settings)
        except MlopsError as exc:  # a missing model or alias, or an unreachable registry: the message says which
            prefix = f"model '{source.name}': " if len(sources) > 1 else ""
            raise click.ClickException(prefix + str(exc)) from None
        click.echo(f"serving {source.uri} (version {version}) on http://{host}:{port}, {workers} worker(s)", err=True)
    _run(",".join(source.uri for source in sources), host, port, workers, settings)


REMOVED_SETTINGS = {
    "MLOPS_SERVE_CAPTURE_REDACT": "mark the columns personal (hashed) or sensitive (dropped) in params.yaml "
    "`data.classes`; the capture takes them from the model version",
}


def _check_capture_policy(concrete: str, classes: dict, settings: Settings) -> None:
    """Fail closed before any worker starts: personal columns (declared, or inferred from the signature's column
    names) with no readable hash key stop the command, naming the columns and the setting."""
    from mlops.core.clients import bound_mlflow_requests, translate
    from mlops.core.data_classes import CapturePolicy, classes_for, load_hash_key

    bound_mlflow_requests(settings)
    import mlflow.models
    from mlflow.exceptions import MlflowException

    try:
        signature = mlflow.models.get_model_info(concrete).signature
    except MlflowException as exc:
        raise translate(exc, f"reading the signature of {concrete}") from None
    names = signature.inputs.input_names() if signature is not None and signature.inputs is not None else []
    names = [str(n) for n in names] or list(classes)
    key = load_hash_key(settings) if "personal" in classes_for(names, classes).values() else None
    CapturePolicy.build(names, classes, key)


def _run(uri: str, host: str, port: int, workers: int, settings: Settings) -> None:
    import uvicorn

    # the workers read their settings from the environment; metrics need one shared directory across them
    os.environ["MLOPS_SERVE_MODEL_URI"] = uri
    # MLflow's progress bar and its own log handler would write plain text into the JSON log lines: no bar, and its
    # logger left to propagate to ours (read when mlflow is first imported, in the workers)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    own_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    metrics_dir = tempfile.mkdtemp(prefix="mlops-serve-metrics-") if own_dir else os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; ending with status 0 here tells systemd and
    # Kubernetes that the shutdown was clean rather than a crash
    previous = {sig: signal.signal(sig, _exit_cleanly) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(
            "mlops.serving.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            # httptools, with limits on headers, read times and connections (transport.py)
            http="mlops.serving.transport:GuardedHttpToolsProtocol",
            lifespan="on",
            log_config=None,  # keep the project's JSON logging
            access_log=False,  # the app writes its own JSON access log with request id and model version
            server_header=False,
            timeout_graceful_shutdown=int(settings.serve_graceful_timeout_seconds),
            timeout_keep_alive=settings.serve_keepalive_timeout_seconds,  # type: ignore[arg-type]
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _exit_cleanly(signum, frame) -> None:
    sys.exit(0)
