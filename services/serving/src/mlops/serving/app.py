"""The serving transport: raw ASGI routing, auth, body limits, request ids, access logs and metrics, in front of
the data plane (`dataplane.py`) and the model lifecycle (`model.py`).

Written against raw ASGI rather than a framework: every request pays for the routing and middleware layers, and at
thousands of requests per second on two cores that overhead is most of the budget. The limits on connections,
headers and read times sit one layer below, in the HTTP protocol (`transport.py`).

Nothing about the model leaks to a caller without a valid key: 401 answers and the open health routes carry no
model version (an authorized caller sees it in `X-Model-Version` and in `/health/ready`; the setting
MLOPS_SERVE_PUBLIC_VERSION shows it there to everyone, for `mlops release diff --server-url`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mlops.core.logs import configure_logging, new_request_id, request_id_var
from mlops.core.settings import Settings, get_settings
from mlops.serving.dataplane import DataPlane, dumps
from mlops.serving.inputs import ClientError, media_type
from mlops.serving.metrics import metrics, render, sweep_dead_workers, worker_exited
from mlops.serving.model import LoadedModel, ModelHolder, ModelSource
from mlops.serving.openapi import openapi_document
from mlops.serving.transport import BODY_TIMED_OUT

log = logging.getLogger("mlops.serving")
access_log = logging.getLogger("mlops.serving.access")

_V2_MODEL = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<rest>/ready|/infer)?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JSON = b"application/json"
Headers = dict[bytes, bytes]
# (status, body, extra headers, model version that answered)
Answer = tuple[int, bytes, list[tuple[bytes, bytes]], str | None]
Handler = Callable[..., Awaitable[Answer]]
MIN_KEY_LENGTH = 16  # a key short enough to guess is refused at start
CLOSE = (b"connection", b"close")  # answers sent before the body was read: the connection cannot be reused


class NotReady(Exception):
    """No model is loaded yet, or the server is shutting down."""


def load_keys(settings: Settings) -> list[bytes]:
    keys = []
    if settings.serve_api_keys is not None:
        keys += settings.serve_api_keys.get_secret_value().split(",")
    if settings.serve_api_keys_file is not None:
        keys += settings.serve_api_keys_file.read_text().splitlines()
    return [k.strip().encode() for k in keys if k.strip()]


def weak_keys(keys: list[bytes]) -> list[int]:
    """Positions (1-based) of keys shorter than MIN_KEY_LENGTH characters."""
    return [i for i, key in enumerate(keys, 1) if len(key) < MIN_KEY_LENGTH]


class ServingApp:
    def __init__(self, settings: Settings, source: ModelSource):
        self.settings = settings
        self.source = source
        self.data = DataPlane(settings)
        self.models = ModelHolder(
            source,
            warm_batch_rows=settings.serve_max_batch_rows,
            reload_interval_seconds=settings.serve_reload_interval_seconds,
            max_attempts=settings.serve_load_max_attempts,
            max_rows=settings.serve_max_request_rows,
            on_install=self.data.model_installed,
        )
        self.keys = load_keys(settings)
        self.max_body = settings.serve_max_body_bytes
        self.shutting_down = False
        self._loader: asyncio.Task[None] | None = None
        self.routes: dict[tuple[str, str], tuple[str, Handler]] = {
            ("GET", "/health/live"): ("/health/live", self.live),
            ("GET", "/health/ready"): ("/health/ready", self.ready),
            ("GET", "/v2/health/live"): ("/v2/health/live", self.live),
            ("GET", "/v2/health/ready"): ("/v2/health/ready", self.ready),
            ("GET", "/metrics"): ("/metrics", self.metrics),
            ("POST", "/invocations"): ("/invocations", self.invocations),
            ("GET", "/v2"): ("/v2", self.v2_server),
            ("GET", "/openapi.json"): ("/openapi.json", self.openapi),
        }
        # what follows /v2/models/{name}[/versions/{version}]: (method, handler)
        self.v2_routes: dict[str, tuple[str, Handler]] = {
            "": ("GET", self.v2_metadata),
            "/ready": ("GET", self.v2_ready),
            "/infer": ("POST", self.v2_infer),
        }

    # ---- ASGI entry ------------------------------------------------------------------------------------
    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return None
        started = time.perf_counter()
        headers: Headers = dict(scope["headers"])
        supplied_id = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied_id if _SAFE_ID.match(supplied_id) else new_request_id()
        token = request_id_var.set(request_id)
        method, path = scope["method"], scope["path"]
        route, handler, params = self._match(method, path)
        m = metrics()
        m.in_flight.inc()
        version = None
        authorized = self._authorized(headers)
        extra: list[tuple[bytes, bytes]]
        try:
            if route is None or handler is None:
                known = _V2_MODEL.match(path) or any(p == path for _, p in self.routes)
                raise ClientError(405 if known else 404, "no such route" if not known else "method not allowed", "path")
            if not path.startswith(("/health/", "/v2/health/")) and not authorized:
                status, body, extra = (
                    401,
                    dumps({"error": "missing or invalid API key"}),
                    [(b"www-authenticate", b'Bearer realm="mlops"')],
                )
            else:
                status, body, extra, version = await handler(receive, headers, request_id, **params)
        except ClientError as exc:
            error = exc
            if scope.get(BODY_TIMED_OUT):  # the transport gave up waiting for the body (and answered already)
                error = ClientError(408, "the request body did not arrive in time", "body")
            status, body = error.status, dumps(error.body())
            extra = [CLOSE] if status in (408, 413) else []
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
        current = self.models.current
        shown = (version or (current.version if current is not None else None)) if authorized else version
        if shown is not None:
            out_headers.append((b"x-model-version", shown.encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        label = route or "unmatched"
        m.requests.labels(label, method, str(status)).inc()
        m.latency.labels(label).observe(elapsed)
        if not label.startswith(("/health/", "/v2/health/", "/metrics")):  # probes and scrapes are not traffic
            self.data.record(self.source.name, status, elapsed)
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

    def _match(self, method: str, path: str) -> tuple[str | None, Handler | None, dict[str, str | None]]:
        found = self.routes.get((method, path))
        if found:
            return found[0], found[1], {}
        match = _V2_MODEL.match(path)
        if match:
            rest = match["rest"] or ""
            wanted, handler = self.v2_routes[rest]
            if method == wanted:
                return f"/v2/models/{{name}}{rest}", handler, {"name": match["name"], "version": match["version"]}
        return None, None, {}

    def _authorized(self, headers: Headers) -> bool:
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

    async def _body(self, receive: Any, headers: Headers) -> bytes:
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
        model = self.models.current
        if model is None:
            raise NotReady(f"the model is not loaded yet: {self.models.problem or 'loading'}")
        if self.shutting_down:
            raise NotReady("the server is shutting down")
        return model

    def _v2_model(self, name: str, version: str | None) -> LoadedModel:
        model = self._model()
        if name != model.name or (version is not None and version != model.version):
            raise ClientError(404, f"model '{name[:64]}' (version {version or 'any'}) is not served here", "path")
        return model

    # ---- routes ----------------------------------------------------------------------------------------
    async def live(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Live: the process answers."""
        return 200, b'{"status":"alive"}', [], None

    async def ready(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Ready once a model is loaded and warmed; a registry that stopped answering is reported here while the
        loaded version keeps serving (every replica going unready at once would turn a registry outage into a
        serving outage)."""
        model = self._model()
        answer: dict[str, Any] = {"status": "ready"}
        if self.models.registry_problem:
            answer["registry"] = self.models.registry_problem
        shown = self._authorized(headers) or self.settings.serve_public_version
        if shown:
            answer |= {"model_name": model.name, "model_version": model.version}
        return 200, dumps(answer), [], model.version if shown else None

    async def openapi(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """This server's routes as an OpenAPI 3.1 document, with request bodies from the served signature."""
        current = self.models.current
        schema = current.schema if current is not None else None
        return 200, dumps(openapi_document(self.source.name, self.routes, self.v2_routes, schema)), [], None

    async def metrics(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Prometheus metrics of every worker combined."""
        text, content_type = await asyncio.to_thread(render)
        return 200, text, [(b"content-type", content_type.encode())], None

    async def invocations(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Predictions, MLflow scoring-server compatible: dataframe_split, dataframe_records, instances, inputs, CSV."""
        model = self._model()
        mime = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        body = await self._body(receive, headers)
        return 200, await self.data.invocations(model, body, mime, request_id), [], model.version

    async def v2_server(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Open Inference Protocol V2 server metadata."""
        return 200, dumps({"name": "mlops-serve", "version": "2", "extensions": []}), [], None

    async def v2_metadata(
        self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None
    ) -> Answer:
        """V2 model metadata: name, version and input tensors."""
        model = self._v2_model(name, version)
        return 200, self.data.v2_metadata(model), [], model.version

    async def v2_ready(self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None) -> Answer:
        """V2 model readiness."""
        model = self._v2_model(name, version)
        return 200, dumps({"name": model.name, "ready": True}), [], model.version

    async def v2_infer(self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None) -> Answer:
        """V2 inference: one tensor per signature column, or one [rows, columns] tensor in signature order."""
        model = self._v2_model(name, version)
        body = await self._body(receive, headers)
        return 200, await self.data.v2_infer(model, body, request_id), [], model.version

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                sweep_dead_workers()
                self.data.start()
                self._loader = asyncio.get_running_loop().create_task(self.models.run(), name="model-loader")
                # uvicorn accepts connections only after startup completes: a worker restarted beside a serving
                # one (after a crash) takes no traffic before its model is ready, rather than answering 503
                try:
                    await asyncio.wait_for(self.models.settled.wait(), self.settings.serve_startup_wait_seconds)
                except TimeoutError:
                    log.warning("model not loaded yet; accepting connections (503 until it is)")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutting_down = True
                if self._loader:
                    self._loader.cancel()
                await self.data.stop()
                await asyncio.to_thread(self.models.close)
                worker_exited(os.getpid())
                log.info("worker stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> Any:
    """uvicorn factory: each worker process builds its own app from the settings `mlops serve` exported."""
    settings = get_settings()
    configure_logging(settings.log_level, log_group=settings.log_group, region=settings.region)
    app = ServingApp(settings, ModelSource.parse(settings.serve_model_uri or "", settings.model_name))
    origins = [o.strip() for o in settings.serve_cors_origins.split(",") if o.strip()]
    if not origins:
        return app
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
