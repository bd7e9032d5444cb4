"""After `dvc repro`: log the run to MLflow, gate the challenger against the champion, register the version.

The registry is written exactly once, at the end, by one `create_model_version` call that carries the lineage and
the gate decision as tags; everything before it touches only the tracking server. So a crash mid-way leaves the
registry as it was, and no run RUNNING for ever: SIGTERM ends the run FAILED on the way out (`tracked_run`), and a
run whose process was killed outright is marked FAILED by the next run of the same experiment on the same host
(each run carries its host and process id as tags).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core.clients import Registry, bound_mlflow_requests, translate
from mlops.core.contracts import Tags
from mlops.core.data_classes import DATA_CLASSES_TAG, CapturePolicy, classes_for, classes_tag, load_hash_key
from mlops.core.errors import MlopsError
from mlops.core.processes import pid_alive
from mlops.core.settings import Settings
from mlops.drift.builder import build_profile
from mlops.drift.profile import MLFLOW_ARTIFACT_PATH, ProfileError
from mlops.training import stages
from mlops.training.gate import GateDecision, decide
from mlops.training.params import flatten
from mlops.training.project import Project

log = logging.getLogger(__name__)
RUN_HOST_TAG = "mlops.run.host"  # where the process that owns a run lives
RUN_PID_TAG = "mlops.run.pid"  # and its pid: a RUNNING run whose process is gone was interrupted


@dataclass
class Registered:
    name: str
    version: str
    run_id: str
    decision: GateDecision
    champion_version: str | None
    lineage: dict[str, str]


def lineage_tags(project: Project) -> dict[str, str]:
    facts = project.git_facts()
    tags = {
        Tags.GIT_COMMIT: facts.commit,
        Tags.GIT_DIRTY: str(facts.dirty).lower(),
        Tags.PROJECT_URL: facts.url,
        Tags.PROJECT_PARAMS: str(project.params_path.relative_to(project.root)),
        Tags.DVC_LOCK_MD5: project.dvc_lock_md5() or "",
        Tags.DVC_REMOTE_URL: project.remote()[1],
    }
    for relative, md5 in project.verify_datasets().items():
        tags[Tags.data_md5(relative)] = md5
    return {key: value for key, value in tags.items() if value}  # an empty value counts as missing


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While active, SIGTERM raises SystemExit(143) instead of ending the process on the spot, so context managers
    on the way out run: the MLflow run ends FAILED, locks and clones are released. Only where SIGTERM would kill the
    process outright (main thread, default handler): a service with its own handler (`mlops retrain serve` lets the
    running retrain finish) keeps it."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fail_interrupted_runs(experiment: str) -> list[str]:
    """Mark FAILED the RUNNING runs of `experiment` started on this host by a process that no longer exists (a
    SIGKILL, an OOM kill, a lost node's restart). Returns their run ids."""
    import mlflow

    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    client = mlflow.MlflowClient()
    host = socket.gethostname()
    failed = []
    for run in client.search_runs(
        [found.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=200
    ):
        tags = run.data.tags
        pid = tags.get(RUN_PID_TAG, "")
        if tags.get(RUN_HOST_TAG) == host and pid.isdigit() and not pid_alive(int(pid)):
            client.set_tag(run.info.run_id, "mlops.run.interrupted", "true")
            client.set_terminated(run.info.run_id, status="FAILED")
            failed.append(run.info.run_id)
    if failed:
        log.warning("interrupted runs marked FAILED", extra={"experiment": experiment, "run_ids": failed})
    return failed


@contextmanager
def tracked_run(experiment: str, run_name: str) -> Iterator[Any]:
    """An MLflow run that never stays RUNNING after its process ends (see the module docstring)."""
    import mlflow

    mlflow.set_experiment(experiment)
    fail_interrupted_runs(experiment)
    with sigterm_as_exit(), mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({RUN_HOST_TAG: socket.gethostname(), RUN_PID_TAG: str(os.getpid())})
        yield run


def flat_metrics(result: dict) -> dict[str, float]:
    out = {k: v for k, v in result.items() if isinstance(v, (int, float)) and k != "rows"}
    for name, values in result.get("slices", {}).items():
        column, _, value = name.partition("=")
        for metric, number in values.items():
            if number is not None and metric != "rows":
                out[f"slice.{column}.{value}.{metric}"] = number
    return out


def _log_profile(settings: Settings, project: Project, frame, model) -> None:
    params = project.params
    # the reference as serving's capture stores it: personal features hashed with the capture key, sensitive ones
    # left out (mlops.drift.privacy); personal features and no key stop the registration, naming them
    features = params.data.features
    personal = "personal" in classes_for(features, params.data.classes).values()
    policy = CapturePolicy.build(features, params.data.classes, load_hash_key(settings) if personal else None)
    reference = frame[[*params.data.features, params.data.target]].copy()
    reference["prediction"] = model.predict(frame[params.data.features])
    probabilities = None  # a classifier's class probabilities calibrate drift's label-free estimate (CBPE)
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        import pandas as pd

        classes = [str(c.item() if hasattr(c, "item") else c) for c in model.classes_]  # as serving's capture
        probabilities = pd.DataFrame(model.predict_proba(frame[params.data.features]), columns=classes)
    try:
        profile = build_profile(reference, target=params.data.target, prediction="prediction",
                                probabilities=probabilities, policy=policy)  # fmt: skip
    except ProfileError as exc:
        raise MlopsError(f"cannot build the drift reference profile from the training data: {exc}") from None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(MLFLOW_ARTIFACT_PATH).name
        profile.save(path)
        import mlflow

        mlflow.log_artifact(str(path), str(Path(MLFLOW_ARTIFACT_PATH).parent))


def register(
    settings: Settings, project: Project, model_name: str | None = None, extra_tags: dict[str, str] | None = None
) -> Registered:
    """Log the run, gate it against the version behind the champion alias, register the version."""
    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    params = project.params
    name = model_name or params.model_name
    metrics_path = project.path(stages.METRICS_FILE)
    if not metrics_path.is_file() or not project.path(stages.MODEL_DIR).is_dir():
        raise MlopsError(f"{project.root} has no trained model or {stages.METRICS_FILE}; run `dvc repro` first")
    challenger = json.loads(metrics_path.read_text())
    lineage = lineage_tags(project)
    model = stages.load_model(str(project.path(stages.MODEL_DIR)))
    test = stages._read_table(project, stages.TEST_FILE)
    train = stages._read_table(project, stages.TRAIN_FILE)

    bound_mlflow_requests(settings)
    registry = Registry(settings=settings)
    champion_version = registry.alias_version(name, settings.champion_alias)
    champion, not_comparable = None, None
    if champion_version is not None:  # the champion scored on the challenger's held-out rows
        try:
            champion_model = stages.load_model(f"models:/{name}/{champion_version}")
        except MlflowException as exc:
            raise translate(exc, f"loading champion version {champion_version} of {name!r}") from None
        try:
            champion = stages.score(champion_model, test, params.data.target, params.data.slice_columns)
        except stages.InputsMismatch as exc:  # a new schema (the team's own data): a human decides, not the gate
            not_comparable = f"champion v{champion_version} cannot be scored on these held-out rows: {exc}"
    decision = decide(challenger, champion, lineage, params.gate, champion_version, not_comparable)
    log.info("gate", extra={"model": name, "passed": decision.passed, "reasons": decision.reasons})

    try:
        with tracked_run(name, f"{name}-{lineage.get(Tags.GIT_COMMIT, 'nocommit')[:8]}") as run:
            mlflow.set_tags({**lineage, **(extra_tags or {})})
            mlflow.log_params(flatten(params))
            mlflow.log_metrics(flat_metrics(challenger))
            mlflow.log_dict(decision.numbers, "gate/decision.json")
            saved = Model.load(str(project.path(stages.MODEL_DIR)))
            with stages.quiet_mlflow_environment():
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    signature=saved.signature,
                    input_example=test[params.data.features].head(5),
                    serialization_format="skops",
                    skops_trusted_types=stages.SKOPS_TRUSTED_TYPES,  # see stages.SKOPS_TRUSTED_TYPES
                    pip_requirements=stages.pip_requirements(),
                )
            _log_profile(settings, project, train, model)
        if not registry.exists(name):
            registry.client.create_registered_model(name, description=f"trained by {project.root.name}")
        version = registry.client.create_model_version(
            name,
            source=info.model_uri,
            run_id=run.info.run_id,
            model_id=info.model_id,
            # the data classes go with the version: serving's capture, drift and `mlops privacy erase` read them
            tags={
                **lineage,
                **decision.tags(),
                DATA_CLASSES_TAG: classes_tag(params.data.classes),
                **(extra_tags or {}),
            },
            description="; ".join(decision.reasons) or "gate passed",
        )
    except MlflowException as exc:
        raise translate(exc, f"registering {name!r}") from None
    log.info("registered", extra={"model": name, "version": version.version, "run_id": run.info.run_id})
    return Registered(name, version.version, run.info.run_id, decision, champion_version, lineage)
