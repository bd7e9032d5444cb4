"""`mlops retrain run --model NAME` (one shot) and `mlops retrain serve` (scheduled + drift-triggered)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.contracts import ENVIRONMENTS, eks_namespace, eks_service_accounts
from mlops.core.settings import get_settings

# the service account the IRSA role of retraining trusts (core/src/mlops/core/contracts_eks.json), in every env
RETRAIN_SERVICE_ACCOUNT = eks_service_accounts("retraining")[0]

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Retraining config YAML (default: MLOPS_RETRAIN_CONFIG).",
)


def _config(config_path: Path | None):
    from mlops.retraining.config import load_config

    return load_config(config_path or get_settings().retrain_config)


@click.group()
def retrain() -> None:
    """Retrain models: now (`run`) or as a service on cron schedules and drift events (`serve`)."""


@retrain.command()
@click.option("--model", "model_name", required=True, help="Model name from the retraining config.")
@config_option
@click.option("--trigger", default="manual", show_default=True, help="Recorded on the model version and metrics.")
@click.option(
    "--release-env",
    type=click.Choice(ENVIRONMENTS),
    help="After a pass, propose a release to this env (repo: the config's release.repo, else origin here).",
)
@click.option(
    "--release-evidence",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --release-env: attach the evidence pack from these scan reports (`make scan release-scan`).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "kubernetes", "sagemaker"]),
    default="local",
    show_default=True,
    help="local runs here; kubernetes/sagemaker print the Job / CreateTrainingJob spec that runs it there.",
)
@click.option("--image", help="Container image with `mlops` (kubernetes, sagemaker).")
@click.option(
    "--env",
    "environment",
    type=click.Choice(ENVIRONMENTS),
    help="kubernetes: the EKS env the Job runs in: namespace mlops-ENV, where the IRSA role of retraining trusts "
    "the service account and the retraining service's ConfigMaps are.",
)
@click.option("--namespace", help="kubernetes: the namespace, when not the env's (default: mlops-ENV of --env).")
@click.option(
    "--service-account",
    default=RETRAIN_SERVICE_ACCOUNT,
    show_default=True,
    help="kubernetes: the service account (the one the IRSA role of retraining trusts).",
)
@click.option("--role-arn", help="SageMaker execution role ARN.")
@click.option("--instance-type", default="ml.m5.4xlarge", show_default=True, help="SageMaker instance type.")
@friendly
def run(
    model_name: str,
    config_path: Path | None,
    trigger: str,
    release_env: str | None,
    release_evidence: Path | None,
    backend: str,
    image: str | None,
    environment: str | None,
    namespace: str | None,
    service_account: str,
    role_arn: str | None,
    instance_type: str,
) -> None:
    """Retrain one model now: newest data, train, gate, promote or reject. Exit 1 when it failed."""
    if release_evidence and not release_env:
        raise click.UsageError("--release-evidence needs --release-env (the release it is the evidence of)")
    from prometheus_client import write_to_textfile

    from mlops.retraining.metrics import metrics
    from mlops.retraining.runner import retrain as do_retrain

    settings = get_settings()
    model = _config(config_path).get(model_name)
    if release_env:
        from mlops.retraining.config import ReleaseTarget

        configured = model.release.model_dump() if model.release else {}
        evidence = {"evidence": release_evidence} if release_evidence else {}
        model = model.model_copy(update={"release": ReleaseTarget(**{**configured, "env": release_env, **evidence})})
    if backend != "local":
        where = (environment, namespace, service_account)
        _render(backend, model_name, image, where, role_arn, instance_type, settings)
        return
    outcome = do_retrain(settings, model, trigger)
    textfile = Path(settings.state_dir) / "retrain" / f"metrics-{model_name}.prom"
    textfile.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(textfile), metrics().registry)  # for a node-exporter textfile collector
    click.echo(json.dumps({**outcome.as_dict(), "reasons": outcome.reasons, "attempts": outcome.attempts}))
    if outcome.status == "failed":
        sys.exit(1)


@retrain.command()
@config_option
@click.option("--max-ticks", type=click.IntRange(min=1), help="Stop after N polls (default: until SIGTERM).")
@friendly
def serve(config_path: Path | None, max_ticks: int | None) -> None:
    """Run until SIGTERM/SIGINT: every MLOPS_RETRAIN_POLL_SECONDS, retrain models that are due or drifted."""
    from mlops.retraining.service import serve as do_serve

    settings = get_settings()
    config = _config(config_path)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    do_serve(settings, config, stop, max_ticks)


def _kubernetes_namespace(environment: str | None, namespace: str | None, service_account: str) -> str:
    """Where the Job runs: the env's namespace, as the IRSA role of retraining trusts it; refuse names it does not
    trust for that env (the Job could not take the role), naming both sides."""
    if environment is None:
        if namespace is None:
            raise click.UsageError(
                "--backend kubernetes needs --env (the Job runs in mlops-ENV as "
                f"{RETRAIN_SERVICE_ACCOUNT}, which the IRSA role of retraining trusts) or --namespace"
            )
        return namespace  # a cluster of one's own: the caller vouches for the names
    expected = eks_namespace(environment)
    trusted = eks_service_accounts("retraining")
    if namespace not in (None, expected):
        raise click.BadParameter(
            f"{namespace!r}, but the IRSA role of retraining in {environment} trusts namespace {expected!r} only",
            param_hint="--namespace",
        )
    if service_account not in trusted:
        raise click.BadParameter(
            f"{service_account!r}, but the IRSA role of retraining in {environment} trusts "
            f"{', '.join(f'{expected}/{account}' for account in trusted)} only",
            param_hint="--service-account",
        )
    return expected


def _render(backend, model_name, image, where, role_arn, instance_type, settings) -> None:
    import uuid

    import yaml

    from mlops.retraining import scale

    if not image:
        raise click.UsageError(f"--backend {backend} needs --image (an image with `mlops` installed)")
    run_id = uuid.uuid4().hex[:8]
    if backend == "kubernetes":
        environment, namespace, service_account = where
        namespace = _kubernetes_namespace(environment, namespace, service_account)
        job = scale.kubernetes_job(model_name, run_id, image, namespace, service_account, "2", "8Gi")
        click.echo(yaml.safe_dump(job, sort_keys=False), nl=False)
        return
    if not role_arn:
        raise click.UsageError("--backend sagemaker needs --role-arn")
    request = scale.sagemaker_training_job(model_name, run_id, image, role_arn, instance_type, settings.kms_key_arn)
    click.echo(json.dumps(request, indent=2))
