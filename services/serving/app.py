"""The serving ASGI application: routes, auth, limits, access logs, metrics, model loading and hot reload.

Written against raw ASGI rather than a framework: every request pays for the routing and middleware layers, and at
thousands of requests per second on two cores that overhead is most of the budget.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import os
import re
import time

import orjson

from services.common import cloudwatch_metrics
from services.common.logging import configure_logging, new_request_id, request_id_var
from services.common.settings import Settings, get_settings
from services.serving import v2
from services.serving.batching import MicroBatcher
from services.serving.capture import Capture
from services.serving.inputs import ClientError, media_type
from services.serving.metrics import metrics, render, worker_exited
from services.serving.model import LoadedModel, ModelHolder, ModelRef, load_model, resolve_version

log = logging.getLogger("mlops.serving")
access_log = logging.getLogger("mlops.serving.access")

_V2_MODEL = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<rest>/ready|/infer)?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JSON = b"application/json"


class NotReady(Exception):
    """No model is loaded yet, or the server is shutting down."""


def _jsonable(predictions):
    """What MLflow's scoring server returns for the same predictions (orient=records for frames)."""
    if hasattr(predictions, "tolist") and not hasattr(predictions, "columns") and not hasattr(predictions, "index"):
        return predictions.tolist()
    if hasattr(predictions, "to_frame"):  # Series: MLflow turns it into a one-column frame first
        predictions = predictions.to_frame()
    if hasattr(predictions, "to_dict"):
        return predictions.to_dict(orient="records")
    return predictions


def _default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray)):
        return base64.encodebytes(obj).decode("ascii")
    raise TypeError(type(obj).__name__)


def dumps(obj) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _load_keys(settings: Settings) -> list[bytes]:
    keys = []
    if settings.serve_api_keys is not None:
        keys += settings.serve_api_keys.get_secret_value().split(",")
    if settings.serve_api_keys_file is not None:
        keys += settings.serve_api_keys_file.read_text().splitlines()
    return [k.strip().encode() for k in keys if k.strip()]


class ServingApp:
    def __init__(self, settings: Settings, ref: ModelRef):
        self.settings = settings
        self.ref = ref
        self.holder = ModelHolder(ref)
        self.keys = _load_keys(settings)
        self.max_body = settings.serve_max_body_bytes
        self.batcher: MicroBatcher | None = None
        self.capture: Capture | None = None
        self.cloudwatch: cloudwatch_metrics.MetricsPublisher | None = None
        self.shutting_down = False
        self._loader: asyncio.Task | None = None
        self.routes = {
            ("GET", "/health/live"): ("/health/live", self.live),
            ("GET", "/health/ready"): ("/health/ready", self.ready),
            ("GET", "/v2/health/live"): ("/v2/health/live", self.live),
            ("GET", "/v2/health/ready"): ("/v2/health/ready", self.ready),
            ("GET", "/metrics"): ("/metrics", self.metrics),
            ("POST", "/invocations"): ("/invocations", self.invocations),
            ("GET", "/v2"): ("/v2", self.v2_server),
        }

    # ---- ASGI entry ------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return None
        started = time.perf_counter()
        headers = dict(scope["headers"])
        supplied_id = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied_id if _SAFE_ID.match(supplied_id) else new_request_id()
        token = request_id_var.set(request_id)
        method, path = scope["method"], scope["path"]
        route, handler, params = self._match(method, path)
        m = metrics()
        m.in_flight.inc()
        version = None
        try:
            if route is None:
                known = _V2_MODEL.match(path) or any(p == path for _, p in self.routes)
                raise ClientError(405 if known else 404, "no such route" if not known else "method not allowed", "path")
            if not path.startswith(("/health/", "/v2/health/")) and not self._authorized(headers):
                status, body, extra = (
                    401,
                    dumps({"error": "missing or invalid API key"}),
                    [(b"www-authenticate", b'Bearer realm="mlops"')],
                )
            else:
                status, body, extra, version = await handler(scope, receive, headers, request_id, **params)
        except ClientError as exc:
            status, body, extra = exc.status, dumps(exc.body()), []
        except NotReady as exc:
            status, body, extra = 503, dumps({"error": str(exc)}), [(b"retry-after", b"1")]
        except Exception:  # noqa: BLE001 - a server fault: logged with the trace, answered without it
            log.exception("request failed", extra={"path": path})
            status, body, extra = 500, dumps({"error": "internal server error"}), []
        finally:
            m.in_flight.dec()
        out_headers = [(b"x-request-id", request_id.encode()), *extra]
        if not any(name == b"content-type" for name, _ in extra):
            out_headers.append((b"content-type", JSON))
        shown = version or (self.holder.current.version if self.holder.current is not None else None)
        if shown is not None:
            out_headers.append((b"x-model-version", shown.encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        label = route or "unmatched"
        m.requests.labels(label, method, str(status)).inc()
        m.latency.labels(label).observe(elapsed)
        if self.cloudwatch is not None and not label.startswith(("/health/", "/v2/health/", "/metrics")):
            self.cloudwatch.record_request(self.ref.name, status, elapsed)  # probes and scrapes are not traffic
        if self.settings.serve_access_log:
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": label,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                    "model_version": shown,
                },
            )
        request_id_var.reset(token)
        return None

    def _match(self, method: str, path: str):
        found = self.routes.get((method, path))
        if found:
            return found[0], found[1], {}
        match = _V2_MODEL.match(path)
        if match:
            rest = match["rest"] or ""
            wanted = "POST" if rest == "/infer" else "GET"
            if method == wanted:
                handler = {"": self.v2_metadata, "/ready": self.v2_ready, "/infer": self.v2_infer}[rest]
                return f"/v2/models/{{name}}{rest}", handler, {"name": match["name"], "version": match["version"]}
        return None, None, {}

    def _authorized(self, headers: dict) -> bool:
        if not self.keys:
            return True
        supplied = headers.get(b"x-api-key")
        if supplied is None:
            auth = headers.get(b"authorization", b"")
            if auth[:7].lower() == b"bearer ":
                supplied = auth[7:].strip()
        if not supplied:
            return False
        ok = False
        for key in self.keys:  # compare against every key, in constant time, so timing tells nothing
            ok |= hmac.compare_digest(supplied, key)
        return ok

    async def _body(self, receive, headers: dict) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                raise ClientError(400, "Content-Length is not a number", "content-length") from None
            if length > self.max_body:
                raise ClientError(413, f"body is larger than the limit of {self.max_body} bytes", "body")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientError(400, "client disconnected before sending the body", "body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ClientError(413, f"body is larger than the limit of {self.max_body} bytes", "body")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _model(self) -> LoadedModel:
        model = self.holder.current
        if model is None:
            raise NotReady("the model is not loaded yet")
        if self.shutting_down:
            raise NotReady("the server is shutting down")
        return model

    # ---- routes ----------------------------------------------------------------------------------------
    async def live(self, scope, receive, headers, request_id):
        return 200, b'{"status":"alive"}', [], None

    async def ready(self, scope, receive, headers, request_id):
        model = self._model()
        return 200, dumps({"status": "ready", "model_name": model.name, "model_version": model.version}), [], None

    async def metrics(self, scope, receive, headers, request_id):
        text, content_type = await asyncio.to_thread(render)
        return 200, text, [(b"content-type", content_type.encode())], None

    async def invocations(self, scope, receive, headers, request_id):
        model = self._model()
        mime = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        body = await self._body(receive, headers)
        if model.schema is None:
            predictions = await self.batcher.run_alone(_score_generic, model, body, mime)
        else:
            rows = model.schema.parse_json(body) if mime == "application/json" else model.schema.parse_csv(body)
            scored = await self.batcher.submit(model, rows)
            predictions = scored.predictions
            self._capture(request_id, model, rows, predictions)
        return 200, dumps({"predictions": _jsonable(predictions)}), [], model.version

    async def v2_server(self, scope, receive, headers, request_id):
        return 200, dumps({"name": "mlops-serve", "version": "2", "extensions": []}), [], None

    def _v2_model(self, name: str, version: str | None) -> LoadedModel:
        model = self._model()
        if name != model.name or (version is not None and version != model.version):
            raise ClientError(404, f"model '{name[:64]}' (version {version or 'any'}) is not served here", "path")
        return model

    async def v2_metadata(self, scope, receive, headers, request_id, name, version):
        model = self._v2_model(name, version)
        inputs = [
            {"name": c.name, "datatype": _V2_NAME[c.kind], "shape": [-1]}
            for c in (model.schema.columns if model.schema else [])
        ]
        meta = {"name": model.name, "versions": [model.version], "platform": "mlflow", "inputs": inputs, "outputs": []}
        return 200, dumps(meta), [], model.version

    async def v2_ready(self, scope, receive, headers, request_id, name, version):
        model = self._v2_model(name, version)
        return 200, dumps({"name": model.name, "ready": True}), [], model.version

    async def v2_infer(self, scope, receive, headers, request_id, name, version):
        model = self._v2_model(name, version)
        if model.schema is None:
            raise ClientError(422, "V2 inference needs a model with a column-based signature", "path")
        body = await self._body(receive, headers)
        rows, body_id = v2.parse_infer(model.schema, body)
        scored = await self.batcher.submit(model, rows)
        self._capture(request_id, model, rows, scored.predictions)
        answer = {
            "model_name": model.name,
            "model_version": model.version,
            "id": body_id or request_id,
            "outputs": v2.encode_outputs(scored.predictions),
        }
        return 200, dumps(answer), [], model.version

    def _capture(self, request_id: str, model: LoadedModel, rows, predictions) -> None:
        if self.capture is not None and self.capture.sampled():
            self.capture.add(request_id, model.version, rows, predictions)

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> None:
        s = self.settings
        self.batcher = MicroBatcher(s.serve_max_batch_rows, s.serve_max_wait_ms / 1000)
        self.batcher.start()
        self.cloudwatch = cloudwatch_metrics.from_settings(s)
        self._loader = asyncio.get_running_loop().create_task(self._model_loop(), name="model-loader")

    async def _shutdown(self) -> None:
        self.shutting_down = True
        if self._loader:
            self._loader.cancel()
        if self.batcher:
            await self.batcher.stop()
        if self.capture:
            await asyncio.to_thread(self.capture.close)
        if self.cloudwatch:
            await asyncio.to_thread(self.cloudwatch.close)
        worker_exited(os.getpid())
        log.info("worker stopped")

    def _install(self, model: LoadedModel) -> None:
        m = metrics()
        if self.capture is None and self.settings.serve_capture_sample_rate > 0 and model.schema is not None:
            s = self.settings
            redact = {f.strip() for f in s.serve_capture_redact.split(",") if f.strip()}
            self.capture = Capture(s.capture_bucket, model.name, model.schema.names, s.serve_capture_sample_rate,
                                   redact, s.serve_capture_flush_seconds, s.region, s.kms_key_arn)  # fmt: skip
            self.capture.start()
        previous = self.holder.swap(model)
        m.model_info.labels(model.name, model.version).set(1)
        if previous is not None and previous.version != model.version:
            m.model_info.labels(previous.name, previous.version).set(0)
        m.reloads.labels("loaded").inc()
        log.info(
            "serving model",
            extra={"model_version": model.version, "previous_version": getattr(previous, "version", None)},
        )

    async def _model_loop(self) -> None:
        """Load the model (retrying with back-off), then follow the alias when the URI names one."""
        warm = self.settings.serve_max_batch_rows
        delay = 1.0
        while self.holder.current is None:
            try:
                self._install(await asyncio.to_thread(load_model, self.ref, warm))
            except Exception as exc:  # noqa: BLE001 - keep trying; /health/ready stays 503 meanwhile
                metrics().reloads.labels("error").inc()
                log.error("model load failed", extra={"error": str(exc)[:500], "retry_in_seconds": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        interval = self.settings.serve_reload_interval_seconds
        if not self.ref.follows_alias or interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                _, version = await asyncio.to_thread(resolve_version, self.ref)
                if version != self.holder.current.version:
                    log.info("alias moved; loading in the background", extra={"model_version": version})
                    self._install(await asyncio.to_thread(load_model, self.ref, warm))
            except Exception as exc:  # noqa: BLE001 - the old model keeps serving
                metrics().reloads.labels("error").inc()
                log.error("model reload failed; still serving the previous version", extra={"error": str(exc)[:500]})


_V2_NAME = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}


def _score_generic(model: LoadedModel, body: bytes, mime: str):
    """Models without a column signature: MLflow's own parsers, one request per predict call."""
    import io

    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server as ss

    from services.serving.inputs import decode_text

    text = decode_text(body)
    schema = model.pyfunc.metadata.get_input_schema()
    try:
        if mime == "text/csv":
            data = ss.parse_csv_input(io.StringIO(text), schema=schema)
        else:
            data = ss.infer_and_parse_data(ss._split_data_and_params(text)[0], schema)
    except MlflowException:
        raise ClientError(400, "body does not parse as input for this model", "body") from None
    try:
        return model.predict(data)
    except Exception as exc:  # noqa: BLE001 - the model rejected the input
        raise ClientError(422, f"the model could not score this input ({type(exc).__name__})", "body") from None


def create_app():
    """uvicorn factory: each worker process builds its own app from the settings `mlops serve` exported."""
    settings = get_settings()
    configure_logging(settings.log_level, log_group=settings.log_group, region=settings.region)
    ref = ModelRef.parse(settings.serve_model_uri or "", settings.model_name)
    app = ServingApp(settings, ref)
    origins = [o.strip() for o in settings.serve_cors_origins.split(",") if o.strip()]
    if not origins:
        return app
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
