"""The serving transport: raw ASGI routing, auth, body limits, request ids, access logs and metrics, in front of
the data plane (`dataplane.py`) and the model lifecycle (`model.py`).

Written against raw ASGI rather than a framework: every request pays for the routing and middleware layers, and at
thousands of requests per second on two cores that overhead is most of the budget.
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
from mlops.serving.metrics import metrics, render, worker_exited
from mlops.serving.model import LoadedModel, ModelHolder, ModelSource

log = logging.getLogger("mlops.serving")
access_log = logging.getLogger("mlops.serving.access")

_V2_MODEL = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<rest>/ready|/infer)?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JSON = b"application/json"
Headers = dict[bytes, bytes]
# (status, body, extra headers, model version that answered)
Answer = tuple[int, bytes, list[tuple[bytes, bytes]], str | None]
Handler = Callable[..., Awaitable[Answer]]


class NotReady(Exception):
    """No model is loaded yet, or the server is shutting down."""


def load_keys(settings: Settings) -> list[bytes]:
    keys = []
    if settings.serve_api_keys is not None:
        keys += settings.serve_api_keys.get_secret_value().split(",")
    if settings.serve_api_keys_file is not None:
        keys += settings.serve_api_keys_file.read_text().splitlines()
    return [k.strip().encode() for k in keys if k.strip()]


class ServingApp:
    def __init__(self, settings: Settings, source: ModelSource):
        self.settings = settings
        self.source = source
        self.data = DataPlane(settings)
        self.models = ModelHolder(
            source,
            warm_batch_rows=settings.serve_max_batch_rows,
            reload_interval_seconds=settings.serve_reload_interval_seconds,
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
        extra: list[tuple[bytes, bytes]]
        try:
            if route is None or handler is None:
                known = _V2_MODEL.match(path) or any(p == path for _, p in self.routes)
                raise ClientError(405 if known else 404, "no such route" if not known else "method not allowed", "path")
            if not path.startswith(("/health/", "/v2/health/")) and not self._authorized(headers):
                status, body, extra = (
                    401,
                    dumps({"error": "missing or invalid API key"}),
                    [(b"www-authenticate", b'Bearer realm="mlops"')],
                )
            else:
                status, body, extra, version = await handler(receive, headers, request_id, **params)
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
        current = self.models.current
        shown = version or (current.version if current is not None else None)
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
            wanted = "POST" if rest == "/infer" else "GET"
            if method == wanted:
                handler = {"": self.v2_metadata, "/ready": self.v2_ready, "/infer": self.v2_infer}[rest]
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
            raise NotReady("the model is not loaded yet")
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
        return 200, b'{"status":"alive"}', [], None

    async def ready(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        model = self._model()
        return 200, dumps({"status": "ready", "model_name": model.name, "model_version": model.version}), [], None

    async def metrics(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        text, content_type = await asyncio.to_thread(render)
        return 200, text, [(b"content-type", content_type.encode())], None

    async def invocations(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        model = self._model()
        mime = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        body = await self._body(receive, headers)
        return 200, await self.data.invocations(model, body, mime, request_id), [], model.version

    async def v2_server(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        return 200, dumps({"name": "mlops-serve", "version": "2", "extensions": []}), [], None

    async def v2_metadata(
        self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None
    ) -> Answer:
        model = self._v2_model(name, version)
        return 200, self.data.v2_metadata(model), [], model.version

    async def v2_ready(self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None) -> Answer:
        model = self._v2_model(name, version)
        return 200, dumps({"name": model.name, "ready": True}), [], model.version

    async def v2_infer(self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None) -> Answer:
        model = self._v2_model(name, version)
        body = await self._body(receive, headers)
        return 200, await self.data.v2_infer(model, body, request_id), [], model.version

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.data.start()
                self._loader = asyncio.get_running_loop().create_task(self.models.run(), name="model-loader")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutting_down = True
                if self._loader:
                    self._loader.cancel()
                await self.data.stop()
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
