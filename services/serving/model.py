"""Loading, warming and hot-swapping the served model.

`ModelRef` says what the user asked for (`models:/name@alias`, `models:/name/3`, `runs:/...`, a path).
`load_model()` resolves it to one concrete version, loads the pyfunc and warms it; `ModelHolder.current` is
replaced in one assignment, so a request sees either the old or the new model, never a mix.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.serving.inputs import TabularSchema

log = logging.getLogger("mlops.serving.model")

DIRECT_FLAVORS = {"mlflow.sklearn", "mlflow.xgboost", "mlflow.lightgbm"}
_REGISTRY = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))$")


class ModelUriError(ValueError):
    """The model URI is malformed or names something that does not exist; the message says which."""


@dataclass(frozen=True)
class ModelRef:
    uri: str
    name: str  # registered model name, or the configured default for runs:/ and paths
    alias: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, uri: str, default_name: str) -> ModelRef:
        uri = uri.strip()
        if not uri:
            raise ModelUriError("the model URI is empty")
        if uri.startswith("models:"):
            match = _REGISTRY.match(uri)
            if not match:
                raise ModelUriError(f"'{uri}' is not models:/NAME@ALIAS or models:/NAME/VERSION")
            return cls(uri, match["name"], match["alias"], match["version"])
        if uri.startswith("runs:/") or "://" in uri:
            return cls(uri, default_name)
        path = Path(uri)
        if not (path / "MLmodel").is_file():
            raise ModelUriError(f"'{uri}' is not a directory holding an MLflow model (no MLmodel file)")
        return cls(str(path.resolve()), default_name)

    @property
    def follows_alias(self) -> bool:
        return self.alias is not None


def resolve_version(ref: ModelRef) -> tuple[str, str]:
    """(concrete URI, version label) for `ref` right now; registry look-ups raise ModelUriError when missing."""
    if ref.alias is None and ref.version is None:
        label = ref.uri.split("/")[1] if ref.uri.startswith("runs:/") and ref.uri.count("/") > 1 else "local"
        return ref.uri, label
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        if ref.alias is not None:
            mv = client.get_model_version_by_alias(ref.name, ref.alias)
        else:
            mv = client.get_model_version(ref.name, ref.version)
    except MlflowException as exc:
        what = f"alias '{ref.alias}'" if ref.alias else f"version '{ref.version}'"
        raise ModelUriError(f"registered model '{ref.name}' has no {what} ({exc.error_code})") from None
    return f"models:/{ref.name}/{mv.version}", str(mv.version)


@dataclass
class LoadedModel:
    pyfunc: object
    name: str
    version: str
    uri: str
    schema: TabularSchema | None
    loaded_at: float = field(default_factory=time.time)

    direct: bool = False  # call the flavor's predict without MLflow's schema enforcement (see load_model)

    def predict(self, frame):
        if self.direct:
            return self.pyfunc._predict_fn(frame)
        return self.pyfunc.predict(frame)


def _warm_rows(schema: TabularSchema, n: int) -> list[list]:
    blank = {"double": 0.0, "float": 0.0, "long": 0, "integer": 0, "boolean": False, "string": ""}
    return [[blank[c.kind] for c in schema.columns] for _ in range(n)]


def load_model(ref: ModelRef, warm_batch_rows: int) -> LoadedModel:
    """Resolve, load and warm one version. Blocking: call from a thread."""
    import mlflow.pyfunc

    started = time.perf_counter()
    concrete, version = resolve_version(ref)
    pyfunc = mlflow.pyfunc.load_model(concrete)
    schema = TabularSchema.from_mlflow(pyfunc.metadata.get_input_schema())
    model = LoadedModel(pyfunc, ref.name, version, concrete, schema)
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
    """The current model. Readers take `holder.current` once per batch; the swap is one assignment."""

    def __init__(self, ref: ModelRef):
        self.ref = ref
        self.current: LoadedModel | None = None

    def swap(self, model: LoadedModel) -> LoadedModel | None:
        previous, self.current = self.current, model
        return previous
