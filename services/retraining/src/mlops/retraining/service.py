"""`mlops retrain serve`: one long-lived process that, every poll, retrains each configured model whose cron
schedule is due or which has pending drift events. Models are handled one after another, so the machine
trains one model at a time; the per-model lock also keeps a concurrent `mlops retrain run` from doubling up.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from mlops.retraining import events as drift_events
from mlops.retraining.config import ModelConfig, RetrainConfig
from mlops.retraining.metrics import metrics, publish_heartbeat
from mlops.retraining.outcome import Outcome
from mlops.retraining.runner import retrain

log = logging.getLogger(__name__)


def next_run(schedule: str, after: dt.datetime) -> dt.datetime:
    from croniter import croniter

    return croniter(schedule, after).get_next(dt.datetime)


class Scheduler:
    """Which models to retrain now, and why. `now` is injected so the schedule logic is testable."""

    def __init__(self, config: RetrainConfig, now: dt.datetime):
        self.config = config
        self.due_at = {m.name: next_run(m.schedule, now) for m in config.models if m.schedule}

    def due(self, model: ModelConfig, now: dt.datetime) -> bool:
        return model.name in self.due_at and now >= self.due_at[model.name]

    def ran(self, model: ModelConfig, now: dt.datetime) -> None:
        if model.schedule:  # the next slot after now: missed slots collapse into the run that just happened
            self.due_at[model.name] = next_run(model.schedule, now)


def tick(settings, config: RetrainConfig, scheduler: Scheduler, now: dt.datetime) -> list[Outcome]:
    outcomes = []
    for model in config.models:
        try:
            wanted = drift_events.triggering(drift_events.pending(settings, model.name))
        except Exception as exc:  # S3 briefly unreachable: try again next poll, keep serving the other models
            log.warning("cannot list drift events", extra={"model": model.name, "error": str(exc)})
            wanted = []
        scheduled = scheduler.due(model, now)
        if not wanted and not scheduled:
            continue
        trigger = "drift" if wanted else "schedule"
        outcome = retrain(settings, model, trigger)
        outcomes.append(outcome)
        if outcome.status != "collapsed":
            scheduler.ran(model, dt.datetime.now(dt.UTC))
    return outcomes


def serve(settings, config: RetrainConfig, stop: threading.Event, max_ticks: int | None = None) -> None:
    from prometheus_client import start_http_server

    if settings.retrain_metrics_port:
        start_http_server(settings.retrain_metrics_port, settings.retrain_metrics_host, registry=metrics().registry)
    scheduler = Scheduler(config, dt.datetime.now(dt.UTC))
    next_scheduled = {name: when.isoformat() for name, when in scheduler.due_at.items()}
    log.info("retraining service started", extra={"models": [m.name for m in config.models], "next": next_scheduled})
    ticks = 0
    while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
        tick(settings, config, scheduler, dt.datetime.now(dt.UTC))
        publish_heartbeat(settings, [m.name for m in config.models])  # alive, whether or not there was work
        ticks += 1
        stop.wait(settings.retrain_poll_seconds)
    log.info("retraining service stopped")
