"""The data plane: a request body in, predictions out. Parses MLflow-compatible and V2 payloads against the model's
signature, scores through the micro-batcher, samples rows into the capture, and shapes the answers. It knows
nothing of HTTP beyond the status a ClientError carries.

Bodies over `INLINE_PARSE_BYTES` are parsed on a thread, so a large request never holds the event loop (health
probes, other requests' I/O) for the whole of its parse."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from mlops.core.data_classes import CapturePolicy, HashKeyError, classes_for, load_hash_key
from mlops.core.settings import Settings
from mlops.serving import v2
from mlops.serving.batching import MicroBatcher
from mlops.serving.capture import Capture
from mlops.serving.inputs import ClientError, decode_text
from mlops.serving.model import LoadedModel

log = logging.getLogger("mlops.serving.capture")
INLINE_PARSE_BYTES = 64 * 1024  # parsing this much takes well under a millisecond: not worth a thread hop
T = TypeVar("T")


async def _parse(fn: Callable[..., T], *args: Any, size: int) -> T:
    if size <= INLINE_PARSE_BYTES:
        return fn(*args)
    result, error = await asyncio.to_thread(_parse_here, fn, *args)
    if error is not None:
        raise error
    return result  # type: ignore[return-value]


def _parse_here(fn: Callable[..., T], *args: Any) -> tuple[T | None, ClientError | None]:
    """Parse on this (worker) thread, and free what a refused body was parsed into here too: a ClientError carries a
    traceback whose frames hold the parsed payload (a million lists, say), and freeing those on the event loop
    would stall it as long as parsing did."""
    try:
        return fn(*args), None
    except ClientError as exc:
        error = ClientError(exc.status, exc.message, exc.field)
    return None, error


_V2_NAME = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, bytes | bytearray):
        return base64.encodebytes(obj).decode("ascii")
    raise TypeError(type(obj).__name__)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _jsonable(predictions: Any) -> Any:
    """What MLflow's scoring server returns for the same predictions (orient=records for frames)."""
    if hasattr(predictions, "tolist") and not hasattr(predictions, "columns") and not hasattr(predictions, "index"):
        return predictions.tolist()
    if hasattr(predictions, "to_frame"):  # Series: MLflow turns it into a one-column frame first
        predictions = predictions.to_frame()
    if hasattr(predictions, "to_dict"):
        return predictions.to_dict(orient="records")
    return predictions


def _score_generic(model: LoadedModel, body: bytes, mime: str, max_rows: int) -> Any:
    """Models without a column signature: MLflow's own parsers, one request per predict call."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server as ss

    text = decode_text(body)
    schema = model.pyfunc.metadata.get_input_schema()
    try:
        if mime == "text/csv":
            data = ss.parse_csv_input(io.StringIO(text), schema=schema)
        else:
            data = ss.infer_and_parse_data(ss._split_data_and_params(text)[0], schema)
    except MlflowException:
        raise ClientError(400, "body does not parse as input for this model", "body") from None
    except Exception:  # noqa: BLE001 - MLflow's parsers raise what pandas and numpy raise on odd input
        raise ClientError(400, "body does not parse as input for this model", "body") from None
    if hasattr(data, "__len__") and len(data) > max_rows:
        raise ClientError(
            413,
            f"the body has {len(data)} rows; the limit is {max_rows} rows per request (MLOPS_SERVE_MAX_REQUEST_ROWS)",
            "body",
        )
    try:
        return model.predict(data)
    except Exception as exc:  # noqa: BLE001 - the model rejected the input
        raise ClientError(422, f"the model could not score this input ({type(exc).__name__})", "body") from None


class DataPlane:
    """The data plane of one served model: its own batcher and its own capture (a process serving several models
    has one per model, so one model's traffic never waits in another's batch)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.batcher = MicroBatcher(settings.serve_max_batch_rows, settings.serve_max_wait_ms / 1000)
        self.capture: Capture | None = None
        self._key: bytes | None = None  # the capture hash key, once read

    def start(self) -> None:
        self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        if self.capture:
            await asyncio.to_thread(self.capture.close)

    def model_installed(self, model: LoadedModel) -> None:
        """Start the request capture once the first model with a column signature arrives; a version whose columns
        or data classes differ gets a capture of its own (the old one is flushed in the background). A version
        with personal columns and no hash key is not captured at all (`mlops serve` refuses to start on it)."""
        if self.settings.serve_capture_sample_rate <= 0 or model.schema is None:
            return
        names = [c.name for c in model.schema.columns]
        try:
            policy = CapturePolicy.build(names, model.data_classes, self._hash_key(names, model.data_classes))
        except HashKeyError as exc:
            log.error("capture stopped: this version's personal columns cannot be hashed",
                      extra={"model_version": model.version, "error": str(exc)})  # fmt: skip
            self._replace_capture(None)
            return
        current = self.capture
        if current is not None and current.columns == names and current.policy.classes == policy.classes:
            current.versions.add(model.version)
            return
        capture = Capture(self.settings, model.name, model.schema.columns, policy)
        capture.versions.add(model.version)
        capture.start()
        self._replace_capture(capture)

    def _hash_key(self, names: list[str], declared: dict[str, Any]) -> bytes | None:
        """The HMAC key, read from SSM once per worker and only when a column is personal. The first read happens
        before the worker takes traffic (it accepts connections once its model is installed)."""
        if self._key is None and "personal" in classes_for(names, declared).values():
            self._key = load_hash_key(self.settings)
        return self._key

    def _replace_capture(self, capture: Capture | None) -> None:
        previous, self.capture = self.capture, capture
        if previous is not None:  # its rows are flushed off the event loop
            threading.Thread(target=previous.close, name="capture-close", daemon=True).start()

    async def invocations(self, model: LoadedModel, body: bytes, mime: str, request_id: str) -> bytes:
        if model.schema is None:
            limit = self.settings.serve_max_request_rows
            predictions = await self.batcher.run_alone(_score_generic, model, body, mime, limit)
        else:
            parse = model.schema.parse_json if mime == "application/json" else model.schema.parse_csv
            rows = await _parse(parse, body, size=len(body))
            scored = await self.batcher.submit(model, rows)
            predictions = scored.predictions
            self._capture(request_id, model, rows, predictions)
        return dumps({"predictions": _jsonable(predictions)})

    def v2_metadata(self, model: LoadedModel) -> bytes:
        inputs = [
            {"name": c.name, "datatype": _V2_NAME[c.kind], "shape": [-1]}
            for c in (model.schema.columns if model.schema else [])
        ]
        return dumps({"name": model.name, "versions": [model.version], "platform": "mlflow", "inputs": inputs,
                      "outputs": []})  # fmt: skip

    async def v2_infer(self, model: LoadedModel, body: bytes, request_id: str) -> bytes:
        if model.schema is None:
            raise ClientError(422, "V2 inference needs a model with a column-based signature", "path")
        rows, body_id = await _parse(v2.parse_infer, model.schema, body, size=len(body))
        scored = await self.batcher.submit(model, rows)
        self._capture(request_id, model, rows, scored.predictions)
        return dumps(
            {
                "model_name": model.name,
                "model_version": model.version,
                "id": body_id or request_id,
                "outputs": v2.encode_outputs(scored.predictions),
            }
        )

    def _capture(self, request_id: str, model: LoadedModel, rows: Any, predictions: Any) -> None:
        # only rows of a version this capture's policy was built for (a batch scored just before a swap is not
        # recorded under the next version's policy)
        if self.capture is not None and model.version in self.capture.versions:
            self.capture.offer(request_id, model, rows, predictions)
