"""Which model a request is for. One process serves one model or several, each with its own lifecycle (`ModelHolder`:
load, warm, follow its alias) and data plane (batcher, capture), found by name:

- `POST /models/{name}/invocations` and the V2 routes `/v2/models/{name}[/versions/{v}]/...` name the model in the path;
- `POST /invocations` takes the model from the header `X-Mlops-Model`; without it, a process serving one model answers
  with that model (exactly as before several were possible) and one serving several answers 400 naming them.

A name that is not served is a 404 naming the served ones (only callers with a key get this far). Only served names
become metric labels (`ModelTable.label`), so a caller cannot create series by inventing names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops.core.settings import Settings
from mlops.serving.dataplane import DataPlane
from mlops.serving.inputs import ClientError
from mlops.serving.model import ModelHolder, ModelSource

MODEL_HEADER = b"x-mlops-model"  # names the model for POST /invocations when a process serves several
V2_MODEL = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<rest>/ready|/infer)?$")
MODEL_INVOCATIONS = re.compile(r"^/models/(?P<name>[^/]+)/invocations$")
INVOCATIONS_ROUTE = "/invocations"
MODEL_INVOCATIONS_ROUTE = "/models/{name}/invocations"
Route = tuple[str | None, Any, dict[str, str | None]]  # (route label, handler, path parameters)


@dataclass
class ServedModel:
    """One served model: what was asked for, its lifecycle and its data plane."""

    source: ModelSource
    holder: ModelHolder
    data: DataPlane

    @classmethod
    def build(cls, settings: Settings, source: ModelSource) -> ServedModel:
        data = DataPlane(settings)
        holder = ModelHolder(
            source,
            warm_batch_rows=settings.serve_max_batch_rows,
            reload_interval_seconds=settings.serve_reload_interval_seconds,
            max_attempts=settings.serve_load_max_attempts,
            max_rows=settings.serve_max_request_rows,
            on_install=data.model_installed,
        )
        return cls(source, holder, data)

    @property
    def name(self) -> str:
        return self.source.name


class ModelTable:
    """The served models by name."""

    def __init__(self, served: list[ServedModel]):
        if not served:
            raise ValueError("a server needs at least one model")
        self.by_name = {s.name: s for s in served}
        self.only = served[0] if len(served) == 1 else None  # the single model, when there is one
        self.names = ", ".join(sorted(self.by_name))

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self.by_name.values())

    def named(self, name: str, field: str = "path") -> ServedModel:
        served = self.by_name.get(name)
        if served is None:
            raise ClientError(404, f"model '{name[:64]}' is not served here; this server serves: {self.names}", field)
        return served

    def for_invocations(self, headers: Mapping[bytes, bytes]) -> ServedModel:
        """The model POST /invocations is for: the one named by X-Mlops-Model, else the only one served."""
        wanted = headers.get(MODEL_HEADER)
        if wanted is not None:
            return self.named(wanted.decode("latin-1").strip(), "x-mlops-model")
        if self.only is not None:
            return self.only
        raise ClientError(
            400,
            f"this server serves several models ({self.names}): name one in the header X-Mlops-Model, "
            "or POST /models/{name}/invocations",
            "x-mlops-model",
        )

    def label(self, route: str | None, params: Mapping[str, str | None], headers: Mapping[bytes, bytes]) -> str:
        """The `model` label of a request's metrics. Serving one model: that model, for every request (so a
        one-model server's series are the same, by model, as before several models were possible). Serving several:
        the served model it is routed to, or "" (a route about no model, or a name that is not served)."""
        if self.only is not None:
            return self.only.name
        if route == INVOCATIONS_ROUTE:
            wanted = headers.get(MODEL_HEADER)
            if wanted is None:
                return ""
            name: str | None = wanted.decode("latin-1").strip()
        else:
            name = params.get("name")
        return name if name is not None and name in self.by_name else ""


def match(
    routes: Mapping[tuple[str, str], tuple[str, Any]],
    v2_routes: Mapping[str, tuple[str, Any]],
    model_invocations: Any,
    method: str,
    path: str,
) -> Route:
    """(route label, handler, path parameters) for a request; (None, None, {}) when nothing matches."""
    found = routes.get((method, path))
    if found:
        return found[0], found[1], {}
    v2 = V2_MODEL.match(path)
    if v2:
        rest = v2["rest"] or ""
        wanted, handler = v2_routes[rest]
        if method == wanted:
            return f"/v2/models/{{name}}{rest}", handler, {"name": v2["name"], "version": v2["version"]}
        return None, None, {}
    named = MODEL_INVOCATIONS.match(path)
    if named and method == "POST":
        return MODEL_INVOCATIONS_ROUTE, model_invocations, {"name": named["name"]}
    return None, None, {}


def known_path(routes: Mapping[tuple[str, str], Any], path: str) -> bool:
    """A path some route serves (with another method: 405 rather than 404)."""
    return bool(V2_MODEL.match(path) or MODEL_INVOCATIONS.match(path)) or any(p == path for _, p in routes)
