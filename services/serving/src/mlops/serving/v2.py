"""Open Inference Protocol (KServe V2) request decoding and response encoding for tabular models.

Inputs come either one tensor per signature column (shape [n] or [n, 1]) or as one tensor of shape [n, columns]
in signature order; outputs are one tensor per prediction column.
"""

from __future__ import annotations

import numpy as np

from mlops.serving.inputs import ClientError, Rows, TabularSchema, decode_json

V2_TYPES = {
    "double": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"},
    "float": {"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"},
    "long": {"INT64", "INT32", "INT16", "INT8", "UINT32", "UINT16", "UINT8"},
    "integer": {"INT32", "INT16", "INT8", "UINT16", "UINT8"},
    "boolean": {"BOOL"},
    "string": {"BYTES"},
}
NUMPY_TO_V2 = {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}


def _flat(data):
    """V2 allows nested or flat row-major data; flatten one level at a time."""
    while isinstance(data, list) and data and isinstance(data[0], list):
        data = [v for sub in data for v in sub]
    return data


def _tensor(obj, i: int) -> tuple[str, list[int], str, list]:
    where = f"inputs[{i}]"
    if not isinstance(obj, dict):
        raise ClientError(422, f"'{where}' must be an object with name, shape, datatype and data", where)
    name, shape, datatype, data = obj.get("name"), obj.get("shape"), obj.get("datatype"), obj.get("data")
    if not isinstance(name, str):
        raise ClientError(422, f"'{where}.name' must be a string", f"{where}.name")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ClientError(422, f"'{where}.shape' must be a list of non-negative integers", f"{where}.shape")
    if not isinstance(datatype, str):
        raise ClientError(422, f"'{where}.datatype' must be a string", f"{where}.datatype")
    flat = _flat(data)
    if not isinstance(flat, list):
        raise ClientError(422, f"'{where}.data' must be a list", f"{where}.data")
    size = int(np.prod(shape))
    if len(flat) != size:
        raise ClientError(422, f"'{where}.data' holds {len(flat)} values, shape {shape} needs {size}", f"{where}.data")
    return name, shape, datatype.upper(), flat


def parse_infer(schema: TabularSchema, body: bytes) -> tuple[Rows, str | None]:
    """(rows in signature order, request id from the body if any)."""
    payload = decode_json(body)
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ClientError(400, "body must have 'inputs', a non-empty list of tensors", "inputs")
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    tensors = [_tensor(obj, i) for i, obj in enumerate(inputs)]
    if len(tensors) == 1 and tensors[0][0] not in schema.index:
        name, shape, datatype, flat = tensors[0]
        width = len(schema.columns)
        if len(shape) != 2 or shape[1] != width:
            raise ClientError(422, f"input '{name}' must have shape [rows, {width}] in signature order", "inputs[0]")
        kinds = {c.kind for c in schema.columns}
        if not any(datatype in V2_TYPES[k] for k in kinds):
            raise ClientError(
                422, f"input '{name}' has datatype {datatype}, not one the signature accepts", "inputs[0]"
            )
        rows = [flat[r * width : (r + 1) * width] for r in range(shape[0])]
        return schema.check_rows(rows, "inputs[0].data"), request_id
    columns = {}
    for i, (name, shape, datatype, flat) in enumerate(tensors):
        if name not in schema.index:
            raise ClientError(422, f"input '{name}' is not in the model signature", f"inputs[{i}].name")
        kind = schema.columns[schema.index[name]].kind
        if datatype not in V2_TYPES[kind]:
            raise ClientError(422, f"input '{name}' has datatype {datatype}; the signature says {kind}", f"inputs[{i}]")
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise ClientError(422, f"input '{name}' must have shape [rows] or [rows, 1]", f"inputs[{i}].shape")
        columns[name] = flat
    return schema.from_columns(columns, "inputs"), request_id


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
