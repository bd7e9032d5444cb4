"""Open Inference Protocol (KServe V2) request decoding and response encoding for tabular models.

Inputs come either one tensor per signature column (shape [n] or [n, 1]) or as one tensor of shape [n, columns]
in signature order; outputs are one tensor per prediction column.

A tensor's shape is checked with Python integers (no int64 overflow) against the row limit before its data is
touched, so a small body that claims a huge shape is a 413 or 422, never an allocation.
"""

from __future__ import annotations

import math

import numpy as np

from mlops.serving.inputs import ClientError, Rows, TabularSchema, decode_json, may_skip_bool_check

V2_TYPES = {
    "double": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"},
    "float": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"},
    "long": {"INT64", "INT32", "INT16", "INT8", "UINT32", "UINT16", "UINT8"},
    "integer": {"INT32", "INT16", "INT8", "UINT16", "UINT8"},
    "boolean": {"BOOL"},
    "string": {"BYTES"},
}
NUMPY_TO_V2 = {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}


def _flat(data, where: str):
    """V2 allows nested or flat row-major data; flatten one level at a time (tabular tensors have two at most)."""
    for _ in range(2):
        if not (isinstance(data, list) and data and isinstance(data[0], list)):
            return data
        if not all(isinstance(sub, list) for sub in data):
            raise ClientError(422, f"'{where}' mixes nested lists and values", where)
        data = [v for sub in data for v in sub]
    if isinstance(data, list) and data and isinstance(data[0], list):
        raise ClientError(422, f"'{where}' is nested deeper than a [rows, columns] tensor", where)
    return data


def _tensor(schema: TabularSchema, obj, i: int) -> tuple[str, list[int], str, list]:
    where = f"inputs[{i}]"
    if not isinstance(obj, dict):
        raise ClientError(422, f"'{where}' must be an object with name, shape, datatype and data", where)
    name, shape, datatype, data = obj.get("name"), obj.get("shape"), obj.get("datatype"), obj.get("data")
    if not isinstance(name, str):
        raise ClientError(422, f"'{where}.name' must be a string", f"{where}.name")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(type(d) is int and d >= 0 for d in shape)  # type(): a JSON true is not a dimension
    ):
        raise ClientError(422, f"'{where}.shape' must be [rows] or [rows, columns] of non-negative integers",
                          f"{where}.shape")  # fmt: skip
    schema.check_count(shape[0], f"{where}.shape")
    if not isinstance(datatype, str):
        raise ClientError(422, f"'{where}.datatype' must be a string", f"{where}.datatype")
    flat = _flat(data, f"{where}.data")
    if not isinstance(flat, list):
        raise ClientError(422, f"'{where}.data' must be a list", f"{where}.data")
    size = math.prod(shape)  # Python integers: exact, whatever the client claims
    if len(flat) != size:
        raise ClientError(422, f"'{where}.data' holds {len(flat)} values, its shape needs {size}", f"{where}.data")
    return name, shape, datatype.upper(), flat


def parse_infer(schema: TabularSchema, body: bytes) -> tuple[Rows, str | None]:
    """(rows in signature order, request id from the body if any)."""
    schema.check_json_size(body)
    payload = decode_json(body)
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ClientError(400, "body must have 'inputs', a non-empty list of tensors", "inputs")
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    fast = may_skip_bool_check(body)
    tensors = [_tensor(schema, obj, i) for i, obj in enumerate(inputs)]
    if len(tensors) == 1 and tensors[0][0] not in schema.index:
        name, shape, datatype, flat = tensors[0]
        width = len(schema.columns)
        if len(shape) != 2 or shape[1] != width:
            raise ClientError(
                422, f"input '{name[:64]}' must have shape [rows, {width}] in signature order", "inputs[0]"
            )
        kinds = {c.kind for c in schema.columns}
        if not any(datatype in V2_TYPES[k] for k in kinds):
            raise ClientError(422, f"input '{name[:64]}' has a datatype the signature does not accept", "inputs[0]")
        rows = [flat[r * width : (r + 1) * width] for r in range(shape[0])]
        return schema.check_rows(rows, "inputs[0].data", fast), request_id
    columns = {}
    for i, (name, shape, datatype, flat) in enumerate(tensors):
        if name not in schema.index:
            raise ClientError(422, f"input '{name[:64]}' is not in the model signature", f"inputs[{i}].name")
        kind = schema.columns[schema.index[name]].kind
        if datatype not in V2_TYPES[kind]:
            raise ClientError(422, f"input '{name}' has a datatype other than the signature's {kind}", f"inputs[{i}]")
        if len(shape) == 2 and shape[1] != 1:
            raise ClientError(422, f"input '{name}' must have shape [rows] or [rows, 1]", f"inputs[{i}].shape")
        columns[name] = flat
    return schema.from_columns(columns, "inputs", fast), request_id


def encode_outputs(predictions) -> list[dict]:
    """Prediction slice -> V2 output tensors."""
    if hasattr(predictions, "columns"):  # DataFrame: one tensor per column
        return [_output(str(col), predictions[col].to_numpy()) for col in predictions.columns]
    return [_output("predictions", np.asarray(predictions))]


def _output(name: str, arr: np.ndarray) -> dict:
    datatype = NUMPY_TO_V2.get(arr.dtype.kind, "BYTES")
    data = arr.reshape(-1).tolist()
    if datatype == "BYTES":
        data = [v if isinstance(v, str) else str(v) for v in data]
    return {"name": name, "shape": list(arr.shape), "datatype": datatype, "data": data}
