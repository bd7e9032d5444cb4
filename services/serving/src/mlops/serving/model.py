"""The model lifecycle: what to serve, loading and warming it, and following the registry alias.

`ModelSource` says what the user asked for (`models:/name@alias`, `models:/name/3`, `runs:/...`, a path).
`resolve_version()` finds the concrete version; `load_version()` downloads it into a directory this process owns,
loads the pyfunc and warms it. `ModelHolder.run()` loads the first version and then follows the alias;
`ModelHolder.current` is replaced in one assignment, so a request sees either the old or the new model, never a mix.

What a failure leaves behind, and how often it is retried:
- every download lands in `$TMPDIR/mlops-serve-models/<pid>-v<version>-*`, removed when the load fails or the
  version is swapped out; copies of processes that are gone (a killed worker) are removed when a worker starts, so
  a small emptyDir `/tmp` cannot fill up with model copies;
- a version that fails to load `MLOPS_SERVE_LOAD_MAX_ATTEMPTS` times is not downloaded again until the model the
  source names changes (the alias moves); a registry that cannot be reached costs no download at all, and is
  reported (`/health/ready`, `mlops_serving_registry_up`) while the loaded version keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.clients import Registry, bound_mlflow_requests
from mlops.core.contracts import ModelRef, ModelUriError
from mlops.core.data_classes import DataClass, classes_from_tags
from mlops.core.errors import TransientError
from mlops.core.processes import pid_alive
from mlops.serving.inputs import DEFAULT_MAX_ROWS, TabularSchema
from mlops.serving.metrics import metrics

log = logging.getLogger("mlops.serving.model")

DIRECT_FLAVORS = {"mlflow.sklearn", "mlflow.xgboost", "mlflow.lightgbm"}


@dataclass(frozen=True)
class ModelSource:
    """A registry reference (followed when it names an alias), or a fixed URI (`runs:/...`, a local model
    directory) served under the configured model name."""

    uri: str
    name: str
    ref: ModelRef | None = None

    @classmethod
    def parse(cls, uri: str, default_name: str) -> ModelSource:
        uri = uri.strip()
        if not uri:
            raise ModelUriError("the model URI is empty")
        if uri.startswith("models:"):
            ref = ModelRef.parse(uri)
            return cls(ref.uri, ref.name, ref)
        if uri.startswith("runs:/") or "://" in uri:
            return cls(uri, default_name)
        path = Path(uri)
        if not (path / "MLmodel").is_file():
            raise ModelUriError(f"'{uri}' is not a directory holding an MLflow model (no MLmodel file)")
        return cls(str(path.resolve()), default_name)

    @property
    def follows_alias(self) -> bool:
        return self.ref is not None and self.ref.follows_alias


def split_model_uris(value: str) -> list[str]:
    """The URIs of MLOPS_SERVE_MODEL_URI: one, or several separated by commas ("" gives none)."""
    if not value.strip():
        return []
    uris = [part.strip() for part in value.split(",")]
    if "" in uris:
        raise ModelUriError(f"MLOPS_SERVE_MODEL_URI {value[:200]!r} has an empty entry between its commas")
    return uris


def parse_sources(uris: Sequence[str], default_name: str) -> list[ModelSource]:
    """One source per URI, each a different model: the name comes from a `models:/` URI, and a `runs:/` URI or a
    model directory is served under `default_name` (MLOPS_MODEL_NAME), so at most one of those per process."""
    if not uris:
        raise ModelUriError("no model URI given")
    sources: dict[str, ModelSource] = {}
    for uri in uris:
        source = ModelSource.parse(uri, default_name)
        if source.name in sources:
            raise ModelUriError(
                f"'{sources[source.name].uri}' and '{source.uri}' both name the model '{source.name}': serve each "
                "model once (a runs:/ URI or a model directory is served under MLOPS_MODEL_NAME)"
            )
        sources[source.name] = source
    return list(sources.values())


def resolve_version(source: ModelSource, registry: Registry | None = None) -> tuple[str, str, dict[str, DataClass]]:
    """(concrete URI, version label, the data classes the version declares) for `source` right now. Registry
    look-ups raise MlopsError naming what is missing, or TransientError when the registry cannot be reached. Only a
    registered version carries data classes (its `mlops.privacy.data_classes` tag); other sources have none, so
    their columns take the default classes."""
    if source.ref is None:
        label = source.uri.split("/")[1] if source.uri.startswith("runs:/") and source.uri.count("/") > 1 else "local"
        return source.uri, label, {}
    found = (registry or Registry()).resolve(source.ref)
    version = str(found.version)
    classes = classes_from_tags(found.tags or {}, f"version {version} of {source.name!r}")
    return f"models:/{source.name}/{version}", version, classes


@dataclass
class LoadedModel:
    pyfunc: Any
    name: str
    version: str
    uri: str
    schema: TabularSchema | None
    loaded_at: float = field(default_factory=time.time)
    data_classes: dict[str, DataClass] = field(default_factory=dict)  # as the version declares them

    direct: bool = False  # call the flavor's predict without MLflow's schema enforcement (see load_version)
    classifier: Any = None  # the raw sklearn classifier, for class probabilities in the capture (None: not one)
    workdir: Path | None = None  # the downloaded copy this process owns

    def predict(self, frame: Any) -> Any:
        if self.direct:
            return self.pyfunc._predict_fn(frame)
        return self.pyfunc.predict(frame)

    def discard(self) -> None:
        """Remove the downloaded copy (the model is in memory; sklearn-like flavors do not read it again)."""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _warm_rows(schema: TabularSchema, n: int) -> list[list[Any]]:
    blank = {"double": 0.0, "float": 0.0, "long": 0, "integer": 0, "boolean": False, "string": ""}
    return [[blank[c.kind] for c in schema.columns] for _ in range(n)]


def models_root() -> Path:
    return Path(tempfile.gettempdir()) / "mlops-serve-models"


def sweep_stale_copies(root: Path | None = None) -> int:
    """Remove model copies whose process is gone, and any left under this process's own pid (reused after a
    restart). Returns how many were removed."""
    root = root or models_root()
    removed = 0
    for path in root.glob("*-v*") if root.is_dir() else []:
        pid = path.name.split("-", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _classifier(pyfunc: Any) -> Any:
    """The sklearn estimator behind the pyfunc when it gives class probabilities, else None."""
    if pyfunc.loader_module != "mlflow.sklearn":
        return None
    try:
        raw = pyfunc.get_raw_model()
    except Exception:  # noqa: BLE001 - no raw model to ask: no probabilities, nothing else changes
        return None
    return raw if hasattr(raw, "predict_proba") and hasattr(raw, "classes_") else None


def load_version(
    source: ModelSource,
    concrete: str,
    version: str,
    warm_batch_rows: int,
    max_rows: int = DEFAULT_MAX_ROWS,
    data_classes: dict[str, DataClass] | None = None,
) -> LoadedModel:
    """Download (into a directory this process owns), load and warm one version. Blocking: call from a thread."""
    import mlflow.pyfunc

    started = time.perf_counter()
    bound_mlflow_requests()
    local = source.ref is None and not concrete.startswith("runs:/") and "://" not in concrete
    workdir = None
    if not local:  # without dst_path MLflow downloads into a fresh temporary directory that nobody removes
        models_root().mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-v{version}-", dir=models_root()))
    try:
        pyfunc = mlflow.pyfunc.load_model(concrete, dst_path=str(workdir) if workdir else None)
        schema = TabularSchema.from_mlflow(pyfunc.metadata.get_input_schema(), max_rows)
        model = LoadedModel(pyfunc, source.name, version, concrete, schema, workdir=workdir,
                            data_classes=dict(data_classes or {}))  # fmt: skip
        # Our frames already carry the signature's exact column names, order and dtypes, so for these flavors
        # MLflow's per-call schema enforcement is a costly no-op copy (about a third of a small predict); skip it.
        # The tests check that answers stay equal to MLflow's own scoring server.
        model.direct = (
            schema is not None
            and pyfunc.loader_module in DIRECT_FLAVORS
            and pyfunc.metadata.get_params_schema() is None
            and callable(getattr(pyfunc, "_predict_fn", None))
        )
        model.classifier = _classifier(pyfunc)
        if schema is not None:
            # warm: the first predict calls pay for lazy imports and allocations; do it before taking traffic
            for n in (1, min(warm_batch_rows, 64), 1):
                model.predict(schema.frame([_warm_rows(schema, n)]))
    except BaseException:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    log.info(
        "model loaded",
        extra={
            "model_uri": concrete,
            "model_version": version,
            "load_seconds": round(time.perf_counter() - started, 3),
        },
    )
    return model


def load_model(source: ModelSource, warm_batch_rows: int, max_rows: int = DEFAULT_MAX_ROWS) -> LoadedModel:
    """Resolve and load the version `source` names now. Blocking: call from a thread."""
    concrete, version, classes = resolve_version(source)
    return load_version(source, concrete, version, warm_batch_rows, max_rows, classes)


class ModelHolder:
    """The current model. Readers take `holder.current` once per batch; the swap is one assignment.

    `problem` says why no model is loaded yet (for /health/ready), `registry_problem` why the registry does not
    answer while a model serves. `on_install` runs after each swap (the data plane starts request capture once a
    model with a signature arrives)."""

    def __init__(
        self,
        source: ModelSource,
        *,
        warm_batch_rows: int,
        reload_interval_seconds: float,
        max_attempts: int = 5,
        max_rows: int = DEFAULT_MAX_ROWS,
        on_install: Callable[[LoadedModel], None] | None = None,
    ):
        self.source = source
        self.warm_batch_rows = warm_batch_rows
        self.reload_interval_seconds = reload_interval_seconds
        self.max_attempts = max_attempts
        self.max_rows = max_rows
        self.on_install = on_install
        self.current: LoadedModel | None = None
        self.problem: str | None = "loading"
        self.registry_problem: str | None = None
        self.failures: dict[str, tuple[int, str]] = {}  # version -> (failed loads, last error)
        self.settled = asyncio.Event()  # a first model is installed, or loading it was given up

    def install(self, model: LoadedModel) -> LoadedModel | None:
        previous, self.current = self.current, model
        m = metrics()
        m.model_info.labels(model.name, model.version).set(1)
        if previous is not None and previous.version != model.version:
            m.model_info.labels(previous.name, previous.version).set(0)
        m.reloads.labels("loaded", model.name).inc()
        if self.on_install is not None:
            self.on_install(model)
        log.info(
            "serving model",
            extra={
                "model_name": model.name,
                "model_version": model.version,
                "previous_version": getattr(previous, "version", None),
            },  # fmt: skip
        )
        return previous

    async def run(self) -> None:
        """Load the model (retrying with back-off), then follow the alias when the source names one."""
        await asyncio.to_thread(sweep_stale_copies)
        delay = 1.0
        while self.current is None:
            outcome = await self.attempt()
            if self.current is not None:
                break
            if outcome == "given_up" and not self.source.follows_alias:
                log.error("giving up: the model cannot be loaded",
                          extra={"model_name": self.source.name, "error": self.problem})  # fmt: skip
                self.settled.set()
                return  # a pinned version or a path will not change by waiting
            await asyncio.sleep(max(self.reload_interval_seconds, 30.0) if outcome == "given_up" else delay)
            delay = min(delay * 2, 30.0)
        if not self.source.follows_alias or self.reload_interval_seconds <= 0:
            return
        while True:
            await asyncio.sleep(self.reload_interval_seconds)
            await self.attempt()

    async def attempt(self) -> str:
        """One look at the registry and, when it names a version not served and not given up, one load.
        Returns what happened: loaded, unchanged, failed, given_up or unreachable."""
        m = metrics()
        try:
            concrete, version, classes = await asyncio.to_thread(resolve_version, self.source)
        except TransientError as exc:  # no answer: keep what serves, say why, try again at the next poll
            m.registry_up.labels(self.source.name).set(0)
            self.registry_problem = str(exc)[:500]
            if self.current is None:
                self.problem = self.registry_problem
            log.error("registry unreachable; still serving the loaded version",
                      extra={"model_name": self.source.name, "error": self.registry_problem})  # fmt: skip
            return "unreachable"
        except Exception as exc:  # noqa: BLE001 - a missing model or alias: the old version keeps serving
            m.registry_up.labels(self.source.name).set(1)
            self.registry_problem = None
            m.reloads.labels("error", self.source.name).inc()
            if self.current is None:
                self.problem = str(exc)[:500]
            log.error("model lookup failed", extra={"model_name": self.source.name, "error": str(exc)[:500]})
            return "failed"
        m.registry_up.labels(self.source.name).set(1)
        self.registry_problem = None
        if self.current is not None and version == self.current.version:
            return "unchanged"
        failures, last = self.failures.get(version, (0, ""))
        if failures >= self.max_attempts:
            if self.current is None:
                self.problem = f"version {version} failed to load {failures} times, not retried until it changes: "
                self.problem += last
            return "given_up"
        if self.current is not None:
            log.info("alias moved; loading in the background",
                     extra={"model_name": self.source.name, "model_version": version})  # fmt: skip
        try:
            model = await asyncio.to_thread(
                load_version, self.source, concrete, version, self.warm_batch_rows, self.max_rows, classes
            )
        except Exception as exc:  # noqa: BLE001 - the old version (if any) keeps serving
            failures += 1
            self.failures[version] = (failures, str(exc)[:300])
            m.reloads.labels("error", self.source.name).inc()
            if self.current is None:
                self.problem = f"loading version {version} failed ({failures} of {self.max_attempts}): {exc}"[:500]
            log.error(
                "model load failed" + ("; still serving the previous version" if self.current else ""),
                extra={"model_name": self.source.name, "model_version": version, "attempt": failures,
                       "max_attempts": self.max_attempts, "error": str(exc)[:500]},
            )  # fmt: skip
            return "failed"
        previous = self.install(model)
        self.problem = None
        self.settled.set()
        if previous is not None and previous is not model:
            await asyncio.to_thread(previous.discard)
        return "loaded"

    def close(self) -> None:
        """At shutdown: remove the served version's downloaded copy."""
        if self.current is not None:
            self.current.discard()
