"""`mlops retrain run --model NAME` (one shot) and `mlops retrain serve` (scheduled + drift-triggered)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from mlops.core.cli import friendly
from mlops.core.contracts import ENVIRONMENTS
from mlops.core.settings import get_settings
from mlops.retraining.config import BACKENDS, RETRAIN_SERVICE_ACCOUNT

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
    type=click.Choice(BACKENDS),
    help="Where the stages run (default: the model's `backend:` in the config, else local): local here; sagemaker "
    "as a SageMaker training job (MLOPS_RETRAIN_SAGEMAKER_*); k8s the whole retrain as a Kubernetes Job.",
)
@click.option("--image", help="sagemaker, k8s: the container image with `mlops` (sagemaker default: settings).")
@click.option("--timeout", type=click.IntRange(min=1), help="sagemaker, k8s: seconds to wait before stopping it.")
@click.option("--instance-type", help="sagemaker: the instance type (default: MLOPS_RETRAIN_SAGEMAKER_INSTANCE_TYPE).")
@click.option(
    "--env",
    "environment",
    type=click.Choice(ENVIRONMENTS),
    help="k8s: the EKS env the Job runs in: namespace mlops-ENV, where the IRSA role of retraining trusts the "
    "service account and the retraining service's ConfigMaps are.",
)
@click.option("--namespace", help="k8s: the namespace, when not the env's (default: mlops-ENV of --env).")
@click.option("--service-account", help=f"k8s: the service account (default {RETRAIN_SERVICE_ACCOUNT}, which the "
              "IRSA role of retraining trusts).")  # fmt: skip
@click.option("--cpu", help="k8s: CPU request and limit (default 2).")
@click.option("--memory", help="k8s: memory request and limit (default 8Gi).")
@click.option("--node-selector", multiple=True, metavar="KEY=VALUE", help="k8s: a node label to run on (repeatable).")
@click.option("--kube-context", help="k8s: the kubeconfig context (default: the current one, else in-cluster).")
@friendly
def run(
    model_name: str,
    config_path: Path | None,
    trigger: str,
    release_env: str | None,
    release_evidence: Path | None,
    backend: str | None,
    image: str | None,
    timeout: int | None,
    instance_type: str | None,
    environment: str | None,
    namespace: str | None,
    service_account: str | None,
    cpu: str | None,
    memory: str | None,
    node_selector: tuple[str, ...],
    kube_context: str | None,
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
    k8s_flags = {"env": environment, "namespace": namespace, "service_account": service_account, "cpu": cpu,
                 "memory": memory, "node_selector": _labels(node_selector), "kube_context": kube_context}  # fmt: skip
    sagemaker_flags = {"instance_type": instance_type}
    model = _with_backend(model, backend, image, timeout, k8s_flags, sagemaker_flags)
    outcome = do_retrain(settings, model, trigger)
    textfile = Path(settings.state_dir) / "retrain" / f"metrics-{model_name}.prom"
    textfile.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(textfile), metrics().registry)  # for a node-exporter textfile collector
    if settings.retrain_outcome_file:  # in a k8s Job: the termination message its submitter reads
        from mlops.retraining.k8s_job import outcome_message

        settings.retrain_outcome_file.write_text(outcome_message(outcome))
    click.echo(json.dumps({**outcome.as_dict(), "reasons": outcome.reasons, "attempts": outcome.attempts}))
    if outcome.status == "failed":
        sys.exit(1)


def _labels(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--node-selector")
        labels[key] = value
    return labels


def _with_backend(model, backend, image, timeout, k8s_flags, sagemaker_flags):
    """The model's config with the command line's backend and options over it, validated as a config file is."""
    from pydantic import ValidationError

    from mlops.retraining.config import ModelConfig

    chosen = backend or model.backend
    given = {flag: value for flag, value in k8s_flags.items() if value is not None}
    given_sagemaker = {flag: value for flag, value in sagemaker_flags.items() if value is not None}
    wrong = {**(given if chosen != "k8s" else {}), **(given_sagemaker if chosen != "sagemaker" else {})}
    if wrong:
        flags = ", ".join("--" + flag.replace("_", "-") for flag in wrong)
        raise click.UsageError(f"{flags} {'does' if len(wrong) == 1 else 'do'} not apply to --backend {chosen}")
    if chosen == "local" and (image or timeout):
        raise click.UsageError("--image and --timeout apply to --backend sagemaker or k8s, not local")
    common = {key: value for key, value in (("image", image), ("timeout_seconds", timeout)) if value is not None}
    raw = model.model_dump(exclude_unset=True)
    if chosen == "k8s":
        raw["k8s"] = {**raw.get("k8s", {}), **given, **common}
    elif chosen == "sagemaker":
        raw["sagemaker"] = {**raw.get("sagemaker", {}), **given_sagemaker, **common}
    raw["backend"] = chosen
    try:
        return ModelConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'backend'}: {e['msg']}" for e in exc.errors())
        raise click.UsageError(f"--backend {chosen}: {problems}") from None


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
