"""The OpenAPI 3.0 document of `mlops serve` (`GET /openapi.json`), generated from the app itself: the paths and
methods from its route tables, the summaries from the handlers' docstrings, the request bodies from the signature
of the model being served (column names, types, which are required, the row limit). Nothing is written by hand that
the code already says, so the document cannot drift from the server; schemathesis runs against it in the tests.
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


BODIES = {"invocations": _invocations_body, "v2_infer": _v2_body}
ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "metrics": ("text/plain", {"type": "string"}),
    "invocations": ("application/json", {"type": "object", "required": ["predictions"]}),
    "v2_infer": ("application/json", {"type": "object", "required": ["model_name", "outputs"]}),
}


def _operation(handler: Handler, path: str, params: list[str], schema: TabularSchema | None) -> dict[str, Any]:
    name = handler.__name__
    doc = (handler.__doc__ or name).strip().splitlines()[0]
    media, answer = ANSWERS.get(name, ("application/json", {"type": "object"}))
    operation: dict[str, Any] = {
        "operationId": name + "".join(f"_by_{p}" for p in params if p != "name"),
        "summary": doc,
        "responses": {
            "200": {"description": "OK", "content": {media: {"schema": answer}}},
            "default": {"description": "an error naming the field", "content": {"application/json": {"schema": ERROR}}},
        },
    }
    if params:
        operation["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[^/]+$"}}
            for p in params
        ]
    if name in BODIES:
        operation["requestBody"] = {"required": True, "content": BODIES[name](schema)}
    operation["security"] = [] if path.startswith(OPEN) else [{"bearer": []}, {"apiKey": []}]
    return operation


def openapi_document(
    model_name: str,
    routes: Mapping[tuple[str, str], tuple[str, Handler]],
    v2_routes: Mapping[str, tuple[str, Handler]],
    schema: TabularSchema | None,
) -> dict[str, Any]:
    """The document of the app's route tables: `routes` by (method, path), `v2_routes` by the path under
    `/v2/models/{name}` (and its `/versions/{version}` form)."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), (_, handler) in routes.items():
        paths.setdefault(path, {})[method.lower()] = _operation(handler, path, [], schema)
    for rest, (method, handler) in v2_routes.items():
        for prefix, params in (
            ("/v2/models/{name}", ["name"]),
            ("/v2/models/{name}/versions/{version}", ["name", "version"]),
        ):
            paths.setdefault(prefix + rest, {})[method.lower()] = _operation(handler, prefix + rest, params, schema)
    return {
        "openapi": "3.0.3",
        "info": {"title": f"mlops serve: {model_name}", "version": "2"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
    }
