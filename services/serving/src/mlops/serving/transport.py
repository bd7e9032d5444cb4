"""The HTTP protocol `mlops serve` runs: uvicorn's httptools protocol with the limits it lacks, enforced before a
request reaches the app (and so before authentication):

- request line + headers at most `MLOPS_SERVE_MAX_HEADER_BYTES` and `MLOPS_SERVE_MAX_HEADERS` fields (431). The
  bytes are counted as they arrive, before the parser sees them: httptools grows a header by concatenation, so a
  50 MB header costs seconds of CPU and its size in memory if it is ever fed;
- headers complete within `MLOPS_SERVE_HEADER_TIMEOUT_SECONDS` of the connection opening or the request's first
  byte, and the body within `MLOPS_SERVE_BODY_TIMEOUT_SECONDS` of the headers (408, then closed): a half-sent
  request cannot hold a connection, a file descriptor and its buffers for ever;
- at most `MLOPS_SERVE_MAX_CONNECTIONS` open connections per worker (503, then closed); idle keep-alive connections
  close after `MLOPS_SERVE_KEEPALIVE_TIMEOUT_SECONDS` (uvicorn's own timer).

`mlops serve` passes this class to uvicorn by its import path (`http=...`), so every worker process loads it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from mlops.serving.metrics import metrics

# where a scope records that the body did not arrive in time, so the app answers (and counts) 408, not 400
BODY_TIMED_OUT = "mlops.body_timed_out"


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    max_connections: int


@lru_cache(maxsize=1)
def limits() -> Limits:
    from mlops.core.settings import get_settings

    s = get_settings()
    return Limits(
        s.serve_max_header_bytes,
        s.serve_max_headers,
        s.serve_header_timeout_seconds,
        s.serve_body_timeout_seconds,
        s.serve_max_connections,
    )


class _Reject(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


def _headers_end(data: bytes) -> int:
    """Index just past the blank line that ends the headers in `data`, or -1."""
    ends = [i + len(m) for m in (b"\r\n\r\n", b"\n\n") if (i := data.find(m)) >= 0]
    return min(ends) if ends else -1


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self._in_headers = True  # reading a request line and headers (not a body, not idle after a response)
        self._header_bytes = 0
        self._tail = b""  # the last bytes seen, in case the blank line is split across two reads
        self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # ---- connection ------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._reject(503, "too_many_connections", f"too many connections (limit {self.limits.max_connections})")
            return
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._on_header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_headers:
            seen = self._tail + data
            end = _headers_end(seen)
            counted = len(data) if end < 0 else max(0, end - len(self._tail))
            self._header_bytes += counted
            self._tail = seen[-3:]
            if self._header_bytes > self.limits.max_header_bytes:
                limit = self.limits.max_header_bytes
                self._reject(431, "header_too_large", f"request line and headers exceed {limit} bytes")
                return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Reject):
                self._reject(exc.__context__.status, exc.__context__.reason, str(exc.__context__))
            else:
                self._reject(400, "malformed", "invalid HTTP request")
        except httptools.HttpParserUpgrade:
            self._reject(400, "upgrade", "protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._reject(400, "malformed", "invalid HTTP request")

    # ---- parser callbacks ------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        if self._header_timer is None:  # a keep-alive connection's next request: its headers are timed from here
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._on_header_timeout)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _Reject(431, "too_many_headers", f"more than {self.limits.max_headers} header fields")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self._on_body_timeout)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._in_headers, self._header_bytes, self._tail = True, 0, b""
        super().on_message_complete()

    # ---- timeouts and refusals -------------------------------------------------------------------------
    def _on_header_timeout(self) -> None:
        self._header_timer = None
        limit = self.limits.header_timeout
        self._reject(408, "header_timeout", f"request headers not received within {limit:g}s")

    def _on_body_timeout(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # the app is waiting for the body: it sees a disconnect, and the scope says why (it answers 408)
            cycle.scope[BODY_TIMED_OUT] = True  # type: ignore[literal-required]
            limit = self.limits.body_timeout
            self._reject(408, "body_timeout", f"request body not received within {limit:g}s")
            cycle.disconnected = True
            cycle.message_event.set()
        elif not self.transport.is_closing():  # answered already; the client is still trickling a body in
            metrics().rejected.labels("body_timeout").inc()
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _reject(self, status: int, reason: str, message: str) -> None:
        """Answer `status` with a JSON error and close the connection (nothing more is read from it)."""
        self._cancel_timers()
        metrics().rejected.labels(reason).inc()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()  # an answer is half written: no second status line, just close
            return
        body = orjson.dumps({"error": message})
        head = [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
        ]
        if status == 503:
            head.append(b"retry-after: 1\r\n")
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()
