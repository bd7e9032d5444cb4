"""The OpenAPI 3.0 document of `mlops serve` (`GET /openapi.json`), generated from the app itself: the paths and
methods from its route tables, the summaries from the handlers' docstrings, the request bodies from the signature
of the model being served (column names, types, which are required, the row limit). Nothing is written by hand that
the code already says, so the document cannot drift from the server; schemathesis runs against it in the tests.

The routes that name a model (`/models/{name}/invocations`, `/v2/models/{name}/...`) are listed once with `name` one
of the served models. Serving one model, their bodies follow its signature, as does `/invocations`. Serving several,
each model's routes are also listed under its own name with its own signature, and `/invocations` needs the header
`X-Mlops-Model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlops.serving.inputs import INT_RANGE, TabularSchema

# the app's route handlers; only their names and docstrings are read (the app passes its tables in, so this module
# needs nothing from it)
Handler = Callable[..., Any]

OPEN = ("/health/", "/v2/health/")  # routes that need no key
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
}
V2_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
                "FP64", "BYTES"]  # fmt: skip


def _value(kind: str, required: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "double": {"type": "number"},
        "float": {"type": "number"},
        "boolean": {"type": "boolean"},
        "string": {"type": "string"},
    }.get(kind) or {"type": "integer", "minimum": INT_RANGE[kind][0], "maximum": INT_RANGE[kind][1]}
    return schema if required else {**schema, "nullable": True}


def _invocations_body(schema: TabularSchema | None) -> dict[str, Any]:
    if schema is None:  # MLflow's own parsers: any of its formats
        return {"application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}
    rows = {"minItems": 1, "maxItems": schema.max_rows}
    record = {
        "type": "object",
        "properties": {c.name: _value(c.kind, c.required) for c in schema.columns},
        "required": [c.name for c in schema.columns if c.required],
    }
    records = {"type": "array", "items": record, **rows}
    row = {"type": "array", "minItems": len(schema.columns), "maxItems": len(schema.columns)}
    columns = {
        "type": "object",
        "properties": {c.name: {"type": "array", "items": _value(c.kind, c.required), **rows} for c in schema.columns},
        "required": [c.name for c in schema.columns if c.required],
    }
    split = {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string", "enum": schema.names}, "uniqueItems": True},
            "data": {"type": "array", "items": row, **rows},
        },
    }

    def one(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [key], "properties": {key: value}, "additionalProperties": False}

    layouts = [
        one("dataframe_split", split),
        one("dataframe_records", records),
        one("instances", records),
        one("inputs", {"oneOf": [columns, {"type": "array", "items": row, **rows}]}),
    ]
    csv = {"type": "string", "description": f"a header row naming the columns ({', '.join(schema.names)}), then rows"}
    return {"application/json": {"schema": {"oneOf": layouts}}, "text/csv": {"schema": csv}}


def _v2_body(schema: TabularSchema | None) -> dict[str, Any]:
    names = [*schema.names, "input"] if schema is not None else ["input"]
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "enum": names},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1, "maxItems": 2},
            "datatype": {"type": "string", "enum": V2_DATATYPES},
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
    }
    request = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1},
            "parameters": {"type": "object"},
        },
    }
    return {"application/json": {"schema": request}}


BODIES = {"invocations": _invocations_body, "model_invocations": _invocations_body, "v2_infer": _v2_body}
ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "metrics": ("text/plain", {"type": "string"}),
    "invocations": ("application/json", {"type": "object", "required": ["predictions"]}),
    "model_invocations": ("application/json", {"type": "object", "required": ["predictions"]}),
    "v2_infer": ("application/json", {"type": "object", "required": ["model_name", "outputs"]}),
}


def _parameter(name: str, where: str, names: list[str] | None, required: bool = True) -> dict[str, Any]:
    schema = {"type": "string", "enum": names} if names else {"type": "string", "pattern": "^[^/]+$"}
    return {"name": name, "in": where, "required": required, "schema": schema}


def _operation(
    handler: Handler,
    path: str,
    params: list[str],
    schema: TabularSchema | None,
    names: list[str] | None = None,
    suffix: str = "",
) -> dict[str, Any]:
    """`params` are the path's parameters; `names` the served models a `name` parameter takes."""
    name = handler.__name__
    doc = (handler.__doc__ or name).strip().splitlines()[0]
    media, answer = ANSWERS.get(name, ("application/json", {"type": "object"}))
    operation: dict[str, Any] = {
        "operationId": name + "".join(f"_by_{p}" for p in params if p != "name") + suffix,
        "summary": doc,
        "responses": {
            "200": {"description": "OK", "content": {media: {"schema": answer}}},
            "default": {"description": "an error naming the field", "content": {"application/json": {"schema": ERROR}}},
        },
    }
    if params:
        operation["parameters"] = [_parameter(p, "path", names if p == "name" else None) for p in params]
    if name in BODIES:
        operation["requestBody"] = {"required": True, "content": BODIES[name](schema)}
    operation["security"] = [] if path.startswith(OPEN) else [{"bearer": []}, {"apiKey": []}]
    return operation


def openapi_document(
    schemas: Mapping[str, TabularSchema | None],
    single: bool,
    routes: Mapping[tuple[str, str], tuple[str, Handler]],
    v2_routes: Mapping[str, tuple[str, Handler]],
    model_invocations: Handler,
) -> dict[str, Any]:
    """The document of the app's route tables: `routes` by (method, path), `v2_routes` by the path under
    `/v2/models/{name}` (and its `/versions/{version}` form), `model_invocations` the handler of
    `/models/{name}/invocations`; `schemas` the signature of each served model (None: none, or not loaded yet)."""
    names = sorted(schemas)
    shared = schemas[names[0]] if single else None  # the body schema of routes every model shares
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), (_, handler) in routes.items():
        # /health/* and /v2/health/* share their handlers; operation ids must differ
        v2_alias = path.startswith("/v2/") and not handler.__name__.startswith("v2")
        operation = _operation(handler, path, [], shared, suffix="_v2" if v2_alias else "")
        if handler.__name__ == "invocations":  # several models: the header names one
            operation["parameters"] = [_parameter("X-Mlops-Model", "header", names, required=not single)]
        paths.setdefault(path, {})[method.lower()] = operation
    model_routes: list[tuple[str, str, Handler, list[str]]] = [
        ("/models/{name}/invocations", "POST", model_invocations, [])
    ]
    for rest, (method, handler) in v2_routes.items():
        model_routes += [(f"/v2/models/{{name}}{rest}", method, handler, []),
                         (f"/v2/models/{{name}}/versions/{{version}}{rest}", method, handler, ["version"])]  # fmt: skip
    for template, method, handler, params in model_routes:
        paths.setdefault(template, {})[method.lower()] = _operation(handler, template, ["name", *params], shared, names)
        for model in names if not single else []:  # each model's own routes, with its own signature
            path = template.replace("{name}", model)
            operation = _operation(handler, path, params, schemas[model], suffix=f"__{model}")
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": f"mlops serve: {', '.join(names)}", "version": "2"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
    }
