"""The model lifecycle: what to serve, loading and warming it, and following the registry alias.

`ModelSource` says what the user asked for (`models:/name@alias`, `models:/name/3`, `runs:/...`, a path).
`load_model()` resolves it to one concrete version, loads the pyfunc and warms it. `ModelHolder.run()` loads the
first version (retrying with back-off) and then follows the alias; `ModelHolder.current` is replaced in one
assignment, so a request sees either the old or the new model, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.core.clients import Registry, bound_mlflow_requests
from mlops.core.contracts import ModelRef, ModelUriError
from mlops.serving.inputs import TabularSchema
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


def resolve_version(source: ModelSource, registry: Registry | None = None) -> tuple[str, str]:
    """(concrete URI, version label) for `source` right now. Registry look-ups raise MlopsError naming what is
    missing, or TransientError when the registry cannot be reached."""
    if source.ref is None:
        label = source.uri.split("/")[1] if source.uri.startswith("runs:/") and source.uri.count("/") > 1 else "local"
        return source.uri, label
    version = str((registry or Registry()).resolve(source.ref).version)
    return f"models:/{source.name}/{version}", version


@dataclass
class LoadedModel:
    pyfunc: Any
    name: str
    version: str
    uri: str
    schema: TabularSchema | None
    loaded_at: float = field(default_factory=time.time)

    direct: bool = False  # call the flavor's predict without MLflow's schema enforcement (see load_model)

    def predict(self, frame: Any) -> Any:
        if self.direct:
            return self.pyfunc._predict_fn(frame)
        return self.pyfunc.predict(frame)


def _warm_rows(schema: TabularSchema, n: int) -> list[list[Any]]:
    blank = {"double": 0.0, "float": 0.0, "long": 0, "integer": 0, "boolean": False, "string": ""}
    return [[blank[c.kind] for c in schema.columns] for _ in range(n)]


def load_model(source: ModelSource, warm_batch_rows: int) -> LoadedModel:
    """Resolve, load and warm one version. Blocking: call from a thread."""
    import mlflow.pyfunc

    started = time.perf_counter()
    bound_mlflow_requests()
    concrete, version = resolve_version(source)
    pyfunc = mlflow.pyfunc.load_model(concrete)
    schema = TabularSchema.from_mlflow(pyfunc.metadata.get_input_schema())
    model = LoadedModel(pyfunc, source.name, version, concrete, schema)
    # Our frames already carry the signature's exact column names, order and dtypes, so for these flavors MLflow's
    # per-call schema enforcement is a costly no-op copy (about a third of a small predict); skip it. The tests
    # check that answers stay equal to MLflow's own scoring server.
    model.direct = (
        schema is not None
        and pyfunc.loader_module in DIRECT_FLAVORS
        and pyfunc.metadata.get_params_schema() is None
        and callable(getattr(pyfunc, "_predict_fn", None))
    )
    if schema is not None:
        # warm: the first predict calls pay for lazy imports and allocations; do it before taking traffic
        for n in (1, min(warm_batch_rows, 64), 1):
            model.predict(schema.frame([_warm_rows(schema, n)]))
    log.info(
        "model loaded",
        extra={
            "model_uri": concrete,
            "model_version": version,
            "load_seconds": round(time.perf_counter() - started, 3),
        },
    )
    return model


class ModelHolder:
    """The current model. Readers take `holder.current` once per batch; the swap is one assignment.

    `on_install` runs after each swap (the data plane starts request capture once a model with a signature
    arrives)."""

    def __init__(
        self,
        source: ModelSource,
        *,
        warm_batch_rows: int,
        reload_interval_seconds: float,
        on_install: Callable[[LoadedModel], None] | None = None,
    ):
        self.source = source
        self.warm_batch_rows = warm_batch_rows
        self.reload_interval_seconds = reload_interval_seconds
        self.on_install = on_install
        self.current: LoadedModel | None = None

    def install(self, model: LoadedModel) -> LoadedModel | None:
        previous, self.current = self.current, model
        m = metrics()
        m.model_info.labels(model.name, model.version).set(1)
        if previous is not None and previous.version != model.version:
            m.model_info.labels(previous.name, previous.version).set(0)
        m.reloads.labels("loaded").inc()
        if self.on_install is not None:
            self.on_install(model)
        log.info(
            "serving model",
            extra={"model_version": model.version, "previous_version": getattr(previous, "version", None)},
        )
        return previous

    async def run(self) -> None:
        """Load the model (retrying with back-off), then follow the alias when the source names one."""
        delay = 1.0
        while self.current is None:
            try:
                self.install(await asyncio.to_thread(load_model, self.source, self.warm_batch_rows))
            except Exception as exc:  # noqa: BLE001 - keep trying; /health/ready stays 503 meanwhile
                metrics().reloads.labels("error").inc()
                log.error("model load failed", extra={"error": str(exc)[:500], "retry_in_seconds": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        if not self.source.follows_alias or self.reload_interval_seconds <= 0:
            return
        while True:
            await asyncio.sleep(self.reload_interval_seconds)
            try:
                _, version = await asyncio.to_thread(resolve_version, self.source)
                if version != self.current.version:
                    log.info("alias moved; loading in the background", extra={"model_version": version})
                    self.install(await asyncio.to_thread(load_model, self.source, self.warm_batch_rows))
            except Exception as exc:  # noqa: BLE001 - the old model keeps serving
                metrics().reloads.labels("error").inc()
                log.error("model reload failed; still serving the previous version", extra={"error": str(exc)[:500]})
