"""`mlops retrain run --model NAME` (one shot) and `mlops retrain serve` (scheduled + drift-triggered)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from pipelines.cli import friendly
from services.common.settings import get_settings

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Retraining config YAML (default: MLOPS_RETRAIN_CONFIG).",
)


def _config(config_path: Path | None):
    from services.retraining.config import load_config

    return load_config(config_path or get_settings().retrain_config)


@click.group()
def retrain() -> None:
    """Retrain models: now (`run`) or as a service on cron schedules and drift events (`serve`)."""


@retrain.command()
@click.option("--model", "model_name", required=True, help="Model name from the retraining config.")
@config_option
@click.option("--trigger", default="manual", show_default=True, help="Recorded on the model version and metrics.")
@friendly
def run(model_name: str, config_path: Path | None, trigger: str) -> None:
    """Retrain one model now: newest data, train, gate, promote or reject. Exit 1 when it failed."""
    from prometheus_client import write_to_textfile

    from services.retraining.metrics import metrics
    from services.retraining.runner import retrain as do_retrain

    settings = get_settings()
    model = _config(config_path).get(model_name)
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
    from services.retraining.service import serve as do_serve

    settings = get_settings()
    config = _config(config_path)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    do_serve(settings, config, stop, max_ticks)
