"""One retrain of one model: lock -> fresh clone of the newest commit -> dvc pull -> dvc repro -> register
(gate) -> promote or reject. Transient failures are retried with exponential backoff; the rest fail at once.

The backend (the config's `backend:`, `--backend`) is what one attempt does; the lock, the drift events, the
metrics and the alert around it are the same for all: `local` pulls and runs `dvc repro` here; `sagemaker` runs
the stages as a training job on the clone's commit and data version (mlops.retraining.sagemaker) and registers its
outputs here, with the same lineage and gate; `k8s` runs this whole retrain in a Kubernetes Job
(mlops.retraining.k8s) and takes its outcome.

What a crash (even kill -9) leaves behind: the lock is an flock, released by the kernel; the clone is in a
scratch directory under the state dir, removed at the next start; `dvc` and the training it runs are killed with
their whole process group (see mlops.training.project); the MLflow run is marked FAILED (on SIGTERM at once, after
SIGKILL by the next run); nothing is pushed to the DVC remote; the registry is written once, at the end (see
mlops.training.register); the alias moves only after that, through an intent record (mlops.registry.promotion).
A dvc timeout fails the retrain at once unless MLOPS_RETRAIN_RETRY_TIMEOUTS says it is worth another try.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from mlops.core.contracts import Tags
from mlops.core.errors import MlopsError, TransientError
from mlops.core.locking import FileLock, LockHeld, lock_path
from mlops.core.settings import Settings
from mlops.registry.promotion import promote
from mlops.release.actions import EvidenceRequest, propose_version
from mlops.release.gitops import origin_url
from mlops.retraining import events as drift_events
from mlops.retraining.config import ModelConfig
from mlops.retraining.metrics import alert_failure, metrics
from mlops.retraining.outcome import Outcome
from mlops.training.project import Project
from mlops.training.register import register, sigterm_as_exit
from mlops.training.workspace import clone, pull_inputs, repro

log = logging.getLogger(__name__)


def scratch_dir(settings: Settings, model: str) -> Path:
    return Path(settings.state_dir).resolve() / "retrain" / "work" / model


def _attempt(settings: Settings, model: ModelConfig, trigger: str, event_ids: list[str]) -> Outcome:
    """One try on the model's backend: k8s runs the whole retrain in a Job (its pod registers and promotes);
    local and sagemaker run the stages here or as a training job, then register, gate and promote here."""
    if model.backend == "k8s":
        from mlops.retraining.k8s import retrain_on_kubernetes
        from mlops.retraining.k8s_job import K8sOptions

        return retrain_on_kubernetes(settings, model, trigger, K8sOptions(**model.k8s.options()))
    tags = {Tags.RETRAIN_TRIGGER: trigger, Tags.RETRAIN_EVENTS: ",".join(event_ids)[:4000]}
    with clone(model.project, scratch_dir(settings, model.name), branch=model.branch) as workspace:
        project = Project(workspace, model.params)
        if model.backend == "sagemaker":
            from mlops.retraining.sagemaker import train_on_sagemaker

            log.info("retrain stage", extra={"model": model.name, "stage": "sagemaker"})
            tags[Tags.RETRAIN_TRAINING_JOB] = train_on_sagemaker(model.sagemaker.apply(settings), project,
                                                                 model.name, model.params)  # fmt: skip
            # register's lineage re-checks each input's md5 on disk, as after a local run: the same exact data
            # version, fetched only once the job has completed
            pull_inputs(project)
        else:
            pull_inputs(project)
            log.info("retrain stage", extra={"model": model.name, "stage": "repro"})
            repro(project)
        result = register(settings, project, model.name, extra_tags=tags)
    if not result.decision.passed:
        reasons = result.decision.reasons
        return Outcome(model.name, trigger, "rejected", result.version, result.champion_version, reasons)
    reason = f"retrain ({trigger}): gate passed, {result.decision.numbers.get('primary_metric')} " + (
        f"{result.decision.numbers.get('challenger')} vs champion {result.decision.numbers.get('champion')}"
    )
    promote(settings, model.name, result.version, reason, expected_champion=result.champion_version)
    outcome = Outcome(model.name, trigger, "promoted", result.version, result.version)
    if model.release is not None:
        _propose(settings, model, outcome)
    return outcome


def _propose(settings: Settings, model: ModelConfig, outcome: Outcome) -> None:
    """The reviewable change: a release branch for the configured env. The promotion stands if this fails; the
    failure is alerted and the branch can be proposed by hand (`mlops release propose`)."""
    target, version = model.release, outcome.version
    if target is None or version is None:  # no release configured, or no version promoted: nothing to propose
        return
    try:
        repo = target.repo or origin_url("origin", Path.cwd())
        evidence = EvidenceRequest(target.evidence, target.signing_key) if target.evidence else None
        proposal = propose_version(settings, model.name, target.env, version, repo, evidence=evidence)
    except MlopsError as exc:
        outcome.reasons.append(f"promoted, but the release proposal for {target.env} failed: {exc}")
        log.error("release proposal failed", extra={"alert": True, "model": model.name, "error": str(exc)})
        return
    outcome.release = proposal.branch
    log.info("release proposed", extra={"model": model.name, "env": target.env, "note": proposal.note})


def retrain(
    settings: Settings, model: ModelConfig, trigger: str, sleep: Callable[[float], None] = time.sleep
) -> Outcome:
    """Run one retrain unless one already runs for this model (then this trigger collapses into it). SIGTERM meanwhile
    unwinds it (SystemExit): the dvc process group is killed, the MLflow run ends FAILED, the lock is released."""
    with sigterm_as_exit():
        return _retrain(settings, model, trigger, sleep)


def _retrain(settings: Settings, model: ModelConfig, trigger: str, sleep: Callable[[float], None]) -> Outcome:
    m = metrics()
    lock = FileLock(lock_path(settings.state_dir, "retrain", model.name), purpose=trigger)
    try:
        lock.acquire()
    except LockHeld as held:
        log.info("retrain already running; trigger collapsed", extra={"model": model.name, "holder": held.holder})
        return Outcome(model.name, trigger, "collapsed", reasons=[str(held)])
    started = time.monotonic()
    m.in_progress.labels(model.name).set(1)
    try:
        shutil.rmtree(scratch_dir(settings, model.name), ignore_errors=True)  # leftovers of a crashed run
        try:
            pending = drift_events.pending(settings, model.name)
        except Exception as exc:  # the event store is down: retrain anyway, leave the events for next time
            log.warning("cannot list drift events", extra={"model": model.name, "error": str(exc)})
            pending = None
        event_ids = [e.event_id for e in drift_events.triggering(pending or [])]
        outcome = _with_retries(settings, model, trigger, event_ids, sleep)
        if pending:
            try:
                drift_events.consume(settings, model.name, pending, outcome.as_dict())
                m.events.labels(model.name, "consumed").inc(len(pending))
            except Exception as exc:  # the events stay pending and trigger one more (collapsed) run later
                log.warning("cannot mark drift events consumed", extra={"model": model.name, "error": str(exc)})
    finally:
        m.in_progress.labels(model.name).set(0)
        m.duration.labels(model.name).observe(time.monotonic() - started)
        lock.release()
    m.runs.labels(model.name, trigger, outcome.status).inc()
    if outcome.status == "failed":
        alert_failure(settings, model.name, trigger, "; ".join(outcome.reasons))
    else:
        m.last_success.labels(model.name).set_to_current_time()
    log.info("retrain finished", extra={"model": model.name, "outcome": outcome.as_dict(), "reasons": outcome.reasons})
    return outcome


def _with_retries(
    settings: Settings, model: ModelConfig, trigger: str, event_ids: list[str], sleep: Callable[[float], None]
) -> Outcome:
    m = metrics()
    for attempt in range(1, settings.retrain_max_attempts + 1):
        try:
            outcome = _attempt(settings, model, trigger, event_ids)
            outcome.attempts = attempt
            m.attempts.labels(model.name, "ok").inc()
            return outcome
        except TransientError as exc:
            m.attempts.labels(model.name, "transient").inc()
            if attempt == settings.retrain_max_attempts:
                return Outcome(model.name, trigger, "failed", reasons=[f"gave up after {attempt} attempts: {exc}"])
            delay = settings.retrain_backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "transient failure; retrying",
                extra={"model": model.name, "attempt": attempt, "delay": delay, "error": str(exc)},
            )
            sleep(delay)
        except MlopsError as exc:
            m.attempts.labels(model.name, "error").inc()
            return Outcome(model.name, trigger, "failed", reasons=[str(exc)], attempts=attempt)
        except Exception as exc:  # a bug must still end as a failed, alerted run, never a silent dead service
            log.exception("unexpected retrain error", extra={"model": model.name})
            m.attempts.labels(model.name, "error").inc()
            return Outcome(model.name, trigger, "failed", reasons=[f"unexpected {type(exc).__name__}: {exc}"])
    raise AssertionError("unreachable")  # pragma: no cover
