"""The serving transport: raw ASGI routing, auth, body limits, request ids, access logs and metrics, in front of
the data plane (`dataplane.py`) and the model lifecycle (`model.py`).

Written against raw ASGI rather than a framework: every request pays for the routing and middleware layers, and at
thousands of requests per second on two cores that overhead is most of the budget. The limits on connections,
headers and read times sit one layer below, in the HTTP protocol (`transport.py`). Which of the served models a
request is for is `routing.py`'s business; each model has its own lifecycle and data plane.

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

from mlops.core import cloudwatch_metrics
from mlops.core.logs import configure_logging, new_request_id, request_id_var
from mlops.core.settings import Settings, get_settings
from mlops.serving import routing
from mlops.serving.dataplane import dumps
from mlops.serving.inputs import ClientError, media_type
from mlops.serving.metrics import metrics, render, sweep_dead_workers, worker_exited
from mlops.serving.model import LoadedModel, ModelSource, parse_sources, split_model_uris
from mlops.serving.openapi import openapi_document
from mlops.serving.routing import ModelTable, ServedModel
from mlops.serving.transport import BODY_TIMED_OUT

log = logging.getLogger("mlops.serving")
access_log = logging.getLogger("mlops.serving.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JSON = b"application/json"
Headers = dict[bytes, bytes]
# (status, body, extra headers, the model (version) that answered)
Answer = tuple[int, bytes, list[tuple[bytes, bytes]], LoadedModel | None]
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
    def __init__(self, settings: Settings, sources: list[ModelSource]):
        self.settings = settings
        self.models = ModelTable([ServedModel.build(settings, source) for source in sources])
        self.cloudwatch: cloudwatch_metrics.MetricsPublisher | None = None
        self.keys = load_keys(settings)
        self.max_body = settings.serve_max_body_bytes
        self.shutting_down = False
        self._loaders: list[asyncio.Task[None]] = []
        self.routes: dict[tuple[str, str], tuple[str, Handler]] = {
            ("GET", "/health/live"): ("/health/live", self.live),
            ("GET", "/health/ready"): ("/health/ready", self.ready),
            ("GET", "/v2/health/live"): ("/v2/health/live", self.live),
            ("GET", "/v2/health/ready"): ("/v2/health/ready", self.ready),
            ("GET", "/metrics"): ("/metrics", self.metrics),
            ("POST", routing.INVOCATIONS_ROUTE): (routing.INVOCATIONS_ROUTE, self.invocations),
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
        route, handler, params = routing.match(self.routes, self.v2_routes, self.model_invocations, method, path)
        label = route or "unmatched"
        probe = label.startswith(("/health/", "/v2/health/", "/metrics"))  # probes and scrapes are not traffic
        model = self.models.label(route, params, headers)
        m = metrics()
        in_flight = m.in_flight.labels(model)
        in_flight.inc()
        answered: LoadedModel | None = None
        authorized = self._authorized(headers)
        extra: list[tuple[bytes, bytes]]
        try:
            if route is None or handler is None:
                known = routing.known_path(self.routes, path)
                raise ClientError(405 if known else 404, "no such route" if not known else "method not allowed", "path")
            if not path.startswith(("/health/", "/v2/health/")) and not authorized:
                status, body, extra = (
                    401,
                    dumps({"error": "missing or invalid API key"}),
                    [(b"www-authenticate", b'Bearer realm="mlops"')],
                )
            else:
                status, body, extra, answered = await handler(receive, headers, request_id, **params)
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
            in_flight.dec()
        out_headers = [(b"x-request-id", request_id.encode()), *extra]
        if not any(name == b"content-type" for name, _ in extra):
            out_headers.append((b"content-type", JSON))
        version = answered.version if answered is not None else None
        only = self.models.only
        current = only.holder.current if authorized and version is None and only is not None else None
        shown = version or (current.version if current is not None else None)
        if shown is not None:
            out_headers.append((b"x-model-version", shown.encode()))
        await send({"type": "http.response.start", "status": status, "headers": out_headers})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        m.requests.labels(label, method, str(status), model).inc()
        m.latency.labels(label, model).observe(elapsed)
        if not probe and model and self.cloudwatch is not None:  # several models: what no model answered is left out
            self.cloudwatch.record_request(model, status, elapsed)
        if self.settings.serve_access_log:
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": label,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                    "model": model,
                    "model_version": shown,
                },
            )
        request_id_var.reset(token)
        return None

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

    def _model(self, served: ServedModel) -> LoadedModel:
        model = served.holder.current
        if model is None:
            what = "the model" if self.models.only is not None else f"the model '{served.name}'"
            raise NotReady(f"{what} is not loaded yet: {served.holder.problem or 'loading'}")
        if self.shutting_down:
            raise NotReady("the server is shutting down")
        return model

    def _v2_model(self, name: str, version: str | None) -> LoadedModel:
        served = self.models.by_name.get(name)
        model = self._model(served) if served is not None else None
        if model is None or (version is not None and version != model.version):
            raise ClientError(404, f"model '{name[:64]}' (version {version or 'any'}) is not served here", "path")
        return model

    # ---- routes ----------------------------------------------------------------------------------------
    async def live(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Live: the process answers."""
        return 200, b'{"status":"alive"}', [], None

    async def ready(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Ready once every model is loaded and warmed; a registry that stopped answering is reported here while the
        loaded version keeps serving (every replica going unready at once would turn a registry outage into a
        serving outage)."""
        loaded = {served.name: (self._model(served), served.holder.registry_problem) for served in self.models}
        answer: dict[str, Any] = {"status": "ready"}
        problems = [problem for _, problem in loaded.values() if problem]
        if problems:  # one registry serves every model: its problem is the same for each
            answer["registry"] = problems[0]
        if not (self._authorized(headers) or self.settings.serve_public_version):
            return 200, dumps(answer), [], None
        only = next(iter(loaded.values()))[0] if self.models.only is not None else None
        if only is not None:  # the fields of a single-model server, as before several models were possible
            answer |= {"model_name": only.name, "model_version": only.version}
        answer["models"] = {
            name: {"version": model.version, **({"registry": problem} if problem else {})}
            for name, (model, problem) in loaded.items()
        }
        return 200, dumps(answer), [], only

    async def openapi(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """This server's routes as an OpenAPI 3.1 document, with request bodies from the served signature."""
        schemas = {s.name: s.holder.current.schema if s.holder.current is not None else None for s in self.models}
        only = self.models.only is not None
        document = openapi_document(schemas, only, self.routes, self.v2_routes, self.model_invocations)
        return 200, dumps(document), [], None

    async def metrics(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Prometheus metrics of every worker combined."""
        text, content_type = await asyncio.to_thread(render)
        return 200, text, [(b"content-type", content_type.encode())], None

    async def invocations(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Predictions, MLflow scoring-server compatible: dataframe_split, dataframe_records, instances, inputs, CSV."""
        return await self._invoke(self.models.for_invocations(headers), receive, headers, request_id)

    async def model_invocations(self, receive: Any, headers: Headers, request_id: str, name: str) -> Answer:
        """Predictions of the model named in the path, as POST /invocations answers them."""
        return await self._invoke(self.models.named(name), receive, headers, request_id)

    async def _invoke(self, served: ServedModel, receive: Any, headers: Headers, request_id: str) -> Answer:
        model = self._model(served)
        mime = media_type(headers.get(b"content-type", b"").decode("latin-1"))
        body = await self._body(receive, headers)
        return 200, await served.data.invocations(model, body, mime, request_id), [], model

    async def v2_server(self, receive: Any, headers: Headers, request_id: str) -> Answer:
        """Open Inference Protocol V2 server metadata."""
        return 200, dumps({"name": "mlops-serve", "version": "2", "extensions": []}), [], None

    async def v2_metadata(
        self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None
    ) -> Answer:
        """V2 model metadata: name, version and input tensors."""
        model = self._v2_model(name, version)
        return 200, self.models.by_name[name].data.v2_metadata(model), [], model

    async def v2_ready(self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None) -> Answer:
        """V2 model readiness."""
        model = self._v2_model(name, version)
        return 200, dumps({"name": model.name, "ready": True}), [], model

    async def v2_infer(self, receive: Any, headers: Headers, request_id: str, name: str, version: str | None) -> Answer:
        """V2 inference: one tensor per signature column, or one [rows, columns] tensor in signature order."""
        model = self._v2_model(name, version)
        body = await self._body(receive, headers)
        return 200, await self.models.by_name[name].data.v2_infer(model, body, request_id), [], model

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                sweep_dead_workers()
                self.cloudwatch = cloudwatch_metrics.from_settings(self.settings)
                loop = asyncio.get_running_loop()
                for served in self.models:
                    served.data.start()
                    self._loaders.append(loop.create_task(served.holder.run(), name=f"model-loader-{served.name}"))
                # uvicorn accepts connections only after startup completes: a worker restarted beside a serving
                # one (after a crash) takes no traffic before its models are ready, rather than answering 503
                settled = asyncio.gather(*(served.holder.settled.wait() for served in self.models))
                try:
                    await asyncio.wait_for(settled, self.settings.serve_startup_wait_seconds)
                except TimeoutError:
                    log.warning("models not all loaded yet; accepting connections (503 until they are)")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutting_down = True
                for loader in self._loaders:
                    loader.cancel()
                for served in self.models:
                    await served.data.stop()
                    await asyncio.to_thread(served.holder.close)
                if self.cloudwatch:
                    await asyncio.to_thread(self.cloudwatch.close)
                worker_exited(os.getpid())
                log.info("worker stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> Any:
    """uvicorn factory: each worker process builds its own app from the settings `mlops serve` exported."""
    settings = get_settings()
    configure_logging(settings.log_level, log_group=settings.log_group, region=settings.region)
    sources = parse_sources(split_model_uris(settings.serve_model_uri or ""), settings.model_name)
    app = ServingApp(settings, sources)
    origins = [o.strip() for o in settings.serve_cors_origins.split(",") if o.strip()]
    if not origins:
        return app
    from starlette.middleware.cors import CORSMiddleware

    return CORSMiddleware(app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
